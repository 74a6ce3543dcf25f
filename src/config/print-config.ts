/**
 * --print-config: the effective settings, one per line with where each came from, secrets redacted.
 */
import { createRedactor } from '../observe/redact.js';
import type { ResolvedConfig } from './resolve.js';
import { type Setting, settings, showValue } from './settings.js';

export function renderConfig(config: ResolvedConfig): string {
  const redact = createRedactor(config.secrets);
  const width = Math.max(...settings.map((s) => s.key.length));
  const lines = [`app${' '.repeat(width - 3)} = ${config.app ? JSON.stringify(config.app.text) : 'none'}`];
  for (const entry of settings as readonly Setting<string, unknown>[]) {
    if (entry.key === 'printConfig') continue;
    const value = (config as unknown as Record<string, unknown>)[entry.key];
    const shown = entry.secret && value ? '[REDACTED]' : redact(showValue(entry, value));
    lines.push(`${entry.key.padEnd(width)} = ${shown}  # ${config.sources[entry.key as keyof ResolvedConfig['sources']]}`);
  }
  if (config.configFile) lines.push(`# config file: ${config.configFile}`);
  return `${lines.join('\n')}\n`;
}
