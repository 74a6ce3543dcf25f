/**
 * Development servers answering the public: each is recognised by what only it says (a Server
 * header, a page it alone writes, a path it alone serves). They are single-process, unhardened and
 * often leak source; the fix is always to run the app under a production server, behind keel.
 */
import { DEV_PAGE_FOOTER } from '../front/dev-error-page.js';
import type { Finding } from './finding.js';
import type { Evidence, ProbeFamily, ProbeResponse } from './probe-evidence.js';
import { headerOf } from './probe-evidence.js';

interface Signature {
  readonly id: string;
  readonly title: string;
  readonly why: string;
  readonly fix: string;
  /** True when this answer shows the development server. */
  readonly matches: (response: ProbeResponse, path: string) => boolean;
}

const isHtml = (r: ProbeResponse) => /html/i.test(headerOf(r, 'content-type') ?? '');
const isScript = (r: ProbeResponse) => /javascript/i.test(headerOf(r, 'content-type') ?? '');

const SINGLE_PROCESS = 'It is built for one developer: one process, no timeouts or limits, and it shows debugging details to whoever asks.';

const SIGNATURES: readonly Signature[] = [
  {
    id: 'dev-server-keel-dev',
    title: "keel's development mode (keel dev) is answering",
    why: `${SINGLE_PROCESS} keel dev listens on loopback only, so something forwards it (a tunnel or a proxy), and its error page shows source lines and request details.`,
    fix: 'Serve the app with keel serve APP (the generic error page, several workers, timeouts).',
    matches: (r) => isHtml(r) && r.body.includes(DEV_PAGE_FOOTER),
  },
  {
    id: 'dev-server-werkzeug',
    title: "Werkzeug's development server (flask run / app.run) is answering",
    why: `${SINGLE_PROCESS} Werkzeug says itself it is not for production.`,
    fix: "Run the app under Gunicorn behind keel: keel serve --run 'gunicorn -b 127.0.0.1:{port} module:app'",
    matches: (r) => /\bWerkzeug\//i.test(headerOf(r, 'server') ?? ''),
  },
  {
    id: 'dev-server-django',
    title: "Django's runserver, or DEBUG = True, is answering",
    why: `${SINGLE_PROCESS} With DEBUG on, error pages list settings, URL patterns and source.`,
    fix: "Set DEBUG = False and run Django under Gunicorn behind keel: keel serve --run 'gunicorn -b 127.0.0.1:{port} project.wsgi'",
    matches: (r) =>
      /\bWSGIServer\/[\d.]+ CPython\//.test(headerOf(r, 'server') ?? '') ||
      (isHtml(r) && /you have <code>DEBUG = True<\/code>|You're seeing this error because you have DEBUG = True/.test(r.body)),
  },
  {
    id: 'dev-server-vite',
    title: "Vite's development server is answering",
    why: `${SINGLE_PROCESS} It serves the project's source files and a hot-reload channel to anyone.`,
    fix: 'Build the site (vite build) and serve the output: keel serve --static /=./dist',
    matches: (r, path) => (path === '/@vite/client' && r.status === 200 && isScript(r) && /vite/i.test(r.body)) || (isHtml(r) && /<script[^>]+src="\/@vite\/client"/.test(r.body)),
  },
  {
    id: 'dev-server-webpack',
    title: 'webpack-dev-server or webpack-hot-middleware is answering',
    why: `${SINGLE_PROCESS} It serves unminified bundles with source maps and a hot-reload channel to anyone.`,
    fix: 'Build the bundle (webpack --mode production) and serve it: keel serve --static /=./dist',
    matches: (r, path) =>
      (path === '/webpack-dev-server' && r.status === 200 && /webpack-dev-server/i.test(r.body)) ||
      (path === '/__webpack_hmr' && r.status === 200 && /text\/event-stream/i.test(headerOf(r, 'content-type') ?? '')) ||
      (isHtml(r) && /webpack-dev-server\/client|__webpack_dev_server_client__/.test(r.body)),
  },
  {
    id: 'dev-server-nextjs',
    title: 'Next.js is running in development mode (next dev)',
    why: `${SINGLE_PROCESS} Pages are compiled on request and error overlays show source.`,
    fix: "Build and start it in production mode behind keel: next build, then keel serve --run 'next start -p {port}'",
    matches: (r) => isHtml(r) && /"buildId":"development"|\/_next\/static\/development\/|next\/dist\/client\/dev\//.test(r.body),
  },
  {
    id: 'dev-server-php',
    title: "PHP's built-in web server (php -S) is answering",
    why: `${SINGLE_PROCESS} PHP's manual says it is not for use on a public network.`,
    fix: 'Serve PHP with PHP-FPM behind a production web server.',
    matches: (r) => r.status === 404 && isHtml(r) && /The requested resource <code class="url">/.test(r.body),
  },
  {
    id: 'dev-server-rails',
    title: 'Rails is running in development mode',
    why: `${SINGLE_PROCESS} Its error pages show source, request details and a web console.`,
    fix: 'Run it with RAILS_ENV=production under Puma behind a production server.',
    matches: (r) => isHtml(r) && /Action Controller: Exception caught|<h2[^>]*>Routing Error<\/h2>/.test(r.body),
  },
  {
    id: 'dev-server-node-errors',
    title: 'A Node.js app shows development error pages (Express/Connect finalhandler with stack traces)',
    why: 'NODE_ENV is not production: Express and Connect print the full stack of every error to the client.',
    fix: 'Serve it with keel, which never shows a stack to clients: NODE_ENV=production keel serve app.js',
    matches: (r) => r.status >= 400 && isHtml(r) && /<pre>[^<]*?(?:Error|Exception)\b[^<]*?<br> &nbsp; &nbsp;at /.test(r.body),
  },
];

export const devServerProbes: ProbeFamily = {
  paths: [{ path: '/@vite/client' }, { path: '/webpack-dev-server' }, { path: '/__webpack_hmr', headersOnly: true }],
  check(evidence: Evidence): Finding[] {
    const findings: Finding[] = [];
    for (const signature of SIGNATURES) {
      const hit = evidence.all().find((r) => signature.matches(r, new URL(r.url).pathname));
      if (hit) findings.push({ id: signature.id, severity: 'severe', title: signature.title, why: signature.why, fix: signature.fix, where: hit.url });
    }
    return findings;
  },
};
