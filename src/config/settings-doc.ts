/**
 * Renders docs/settings.md from the settings table; `npm run docs` writes it and a test checks
 * that the committed file matches, so the reference is never edited by hand.
 */
import { type Setting, envName, settings } from './settings.js';

const SECTIONS: Record<Setting<string, unknown>['section'], string> = {
  server: 'Listening',
  tls: 'HTTPS and HTTP/2',
  routes: 'Routes: static files, proxying, compression',
  upstreams: 'Upstreams (proxy routes)',
  cache: 'Response cache',
  ratelimit: 'Rate limits',
  proxy: 'Behind a proxy or load balancer',
  workers: 'Workers',
  limits: 'Limits and timeouts',
  logging: 'Logging',
  process: 'Process',
  config: 'Configuration',
};

function defaultText(entry: Setting<string, unknown>): string {
  if (entry.defaultText) return entry.defaultText;
  const value = typeof entry.default === 'function' ? null : entry.default;
  if (value === null || value === undefined) return 'none';
  if (Array.isArray(value)) return value.length ? value.map((v) => (typeof v === 'object' && v && 'text' in v ? (v as { text: string }).text : String(v))).join(', ') : 'none';
  if (typeof value === 'object' && 'text' in (value as object)) return (value as { text: string }).text;
  return String(value);
}

export function renderSettingsDoc(): string {
  const out = [
    '# Settings',
    '',
    '<!-- Generated from src/config/settings.ts by `npm run docs`. Do not edit by hand. -->',
    '',
    'Every setting can be given as a command-line flag, a `KEEL_*` environment variable, or a key in `keel.config.ts` / `.mts` / `.js` / `.mjs` / `.json` (`export default defineConfig({ ... })`). Precedence: flag > environment > config file > default. Unknown keys and bad values stop keel with exit status 2 before anything listens.',
    '',
  ];
  for (const [section, title] of Object.entries(SECTIONS)) {
    const entries = (settings as readonly Setting<string, unknown>[]).filter((s) => s.section === section);
    if (!entries.length) continue;
    out.push(`## ${title}`, '');
    for (const entry of entries) {
      const flag = `${entry.short ? `-${entry.short}, ` : ''}--${entry.flag}${entry.switch ? '' : ' VALUE'}`;
      out.push(`### \`${entry.key}\``, '');
      out.push(entry.help, '');
      out.push(`- Flag: \`${flag}\`${entry.repeatable ? ' (repeatable)' : ''}`);
      if (!entry.cliOnly) out.push(`- Environment: \`${envName(entry)}\``, `- Config file: \`${entry.key}\``);
      out.push(`- Allowed: ${entry.type.allowed}`, `- Default: ${defaultText(entry)}`, '');
    }
  }
  return `${out.join('\n').trimEnd()}\n`;
}
