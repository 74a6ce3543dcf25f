/**
 * Findings that say a development setup is about to serve production: `npm start` running a dev
 * server, a --run upstream that is one, NODE_ENV not production, Flask's debugger switched on by
 * the environment, and the local development CA.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ResolvedConfig } from '../config/resolve.js';
import { devServerIn, devServerInScripts } from './dev-server-commands.js';
import type { Finding } from './finding.js';

function packageScripts(cwd: string): Record<string, unknown> | null {
  try {
    const pkg = JSON.parse(readFileSync(join(cwd, 'package.json'), 'utf8')) as { scripts?: unknown };
    return pkg.scripts && typeof pkg.scripts === 'object' ? (pkg.scripts as Record<string, unknown>) : null;
  } catch {
    // No package.json, or one npm itself could not read: nothing to say about its scripts.
    return null;
  }
}

const truthy = (value: string | undefined): boolean => value !== undefined && /^(1|true|yes|on)$/i.test(value.trim());

export function auditDevMode(config: ResolvedConfig): Finding[] {
  const findings: Finding[] = [];
  const scripts = packageScripts(config.cwd);
  const dev = scripts ? devServerInScripts(scripts) : null;
  if (dev) {
    findings.push({
      id: 'dev-server-start-script',
      severity: 'severe',
      title: `npm start runs a development server (${dev.server}): "${dev.script}": "${dev.command}"`,
      why: 'Development servers reload on file changes, skip the production build, run one process and often show stack traces or a debugger to whoever asks. Platforms (Heroku, Cloud Run buildpacks, docker images with CMD npm start) run npm start in production.',
      fix: `In package.json: "start": "keel serve ${config.app ? config.app.text : 'app.ts'}", and keep the dev server under "dev"`,
      where: `package.json scripts.${dev.script}`,
    });
  }
  for (const route of config.routeTable) {
    if (route.kind !== 'proxy' || !route.run) continue;
    const server = devServerIn(route.run.command);
    if (!server) continue;
    findings.push({
      id: 'dev-server-upstream',
      severity: 'severe',
      title: `The upstream keel runs for ${route.path} is a development server (${server}): ${route.run.command}`,
      why: 'keel in front does not make it safe: its debugger and stack-trace pages still answer through the proxy, and it serves one request at a time.',
      fix: route.path === '/' ? '--run "gunicorn -w 2 -b 127.0.0.1:{port} app:app" (a production WSGI/ASGI server)' : `routes: [{ path: "${route.path}", run: "gunicorn -w 2 -b 127.0.0.1:{port} app:app" }]`,
      where: route.path === '/' ? '--run' : `routes ${route.path}`,
    });
  }
  const nodeEnv = config.env.NODE_ENV;
  if (nodeEnv !== 'production') {
    findings.push({
      id: 'node-env-not-production',
      severity: 'severe',
      title: `NODE_ENV is ${JSON.stringify(nodeEnv)}, not production`,
      why: 'Express and its error handlers send stack traces to clients outside production, template engines recompile on every request, and many libraries turn on slow debug checks.',
      fix: 'NODE_ENV=production (or remove NODE_ENV from the environment and env files: keel defaults it to production)',
      where: 'NODE_ENV',
    });
  }
  const flaskDebug = ['FLASK_DEBUG', 'FLASK_ENV', 'DEBUG'].find((name) => (name === 'FLASK_ENV' ? config.env[name] === 'development' : truthy(config.env[name])));
  if (flaskDebug) {
    findings.push({
      id: 'debug-env',
      severity: 'severe',
      title: `${flaskDebug}=${config.env[flaskDebug]} turns on debug mode`,
      why: 'Flask, Django and many frameworks read it: Werkzeug\'s debugger then runs Python typed into an error page, and Django shows settings and stack traces to anyone.',
      fix: `Remove ${flaskDebug} from the environment and env files (or set ${flaskDebug}=${flaskDebug === 'FLASK_ENV' ? 'production' : '0'})`,
      where: flaskDebug,
    });
  }
  if (config.https === 'local') {
    findings.push({
      id: 'local-ca',
      severity: 'warning',
      title: '--https local serves certificates from keel\'s local development CA',
      why: 'Only machines that installed that CA trust them; every other client gets a certificate error, and people learn to click through those.',
      fix: '--https auto --domain example.com (a public ACME CA), or --certfile and --keyfile',
      where: '--https',
    });
  }
  return findings;
}
