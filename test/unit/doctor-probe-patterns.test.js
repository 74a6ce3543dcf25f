// The signatures doctor --url reads pages with, for the stacks and dev servers the e2e tests cannot
// start here (Java, PHP, Ruby, .NET, Go; Django, Vite, webpack, Next.js, PHP -S), and pages that
// must not match. The e2e tests cover the real Flask, Gunicorn, Express, Nginx and keel.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { stackTraceProbes } from '../../dist/doctor/probe-stack-traces.js';
import { devServerProbes } from '../../dist/doctor/probe-dev-servers.js';
import { headerProbes } from '../../dist/doctor/probe-headers.js';
import { transportProbes } from '../../dist/doctor/probe-transport.js';
import { readableText } from '../../dist/doctor/probe-evidence.js';

const page = (body, { status = 500, path = '/', headers = {}, type = 'text/html; charset=utf-8' } = {}) => ({
  url: `http://site.test${path}`,
  status,
  headers: { 'content-type': type, ...headers },
  body,
});

/** Evidence holding just these answers, the first being the page the given URL landed on. */
function evidence(responses, given = 'http://site.test/') {
  return {
    given: new URL(given),
    origin: new URL(responses[0].url),
    chain: [responses[0]],
    landing: responses[0],
    notFound: null,
    timeoutMs: 1000,
    response: (path) => responses.find((r) => new URL(r.url).pathname === path) ?? null,
    all: () => responses,
  };
}

const TRACES = {
  Java: 'java.lang.NullPointerException: null\n\tat com.example.web.UserController.show(UserController.java:42)\n\tat org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:897)\n',
  PHP: '<br />\n<b>Fatal error</b>:  Uncaught Exception: boom in /var/www/html/index.php:3\nStack trace:\n#0 {main}\n  thrown in <b>/var/www/html/index.php</b> on line <b>3</b><br />\n',
  Ruby: "NoMethodError (undefined method `name' for nil):\n/app/app/controllers/users_controller.rb:12:in `show'\n",
  '.NET': 'System.InvalidOperationException: boom\n   at MyApp.Controllers.HomeController.Index() in C:\\src\\MyApp\\Controllers\\HomeController.cs:line 17\n',
  Go: 'panic: boom\n\ngoroutine 1 [running]:\nmain.main()\n\t/home/u/app/main.go:12 +0x1d\n',
  Python: 'Traceback (most recent call last):\n  File "/srv/app.py", line 9, in boom\n    raise RuntimeError()\nRuntimeError\n',
  'Node.js': '<pre>TypeError: x is not a function<br> &nbsp; &nbsp;at /srv/app/server.js:12:5<br> &nbsp; &nbsp;at Layer.handle (/srv/app/node_modules/router/lib/layer.js:152:17)</pre>',
};

describe('stack traces', () => {
  for (const [language, body] of Object.entries(TRACES)) {
    test(`${language} frames are found`, () => {
      const [finding] = stackTraceProbes.check(evidence([page(body)]));
      assert.ok(finding, language);
      assert.equal(finding.id, 'stack-trace');
      assert.match(finding.title, new RegExp(`A ${language.replace('.', '\\.')} stack trace .*HTTP 500`));
    });
  }

  test('ordinary pages and error messages without frames are not', () => {
    const bodies = [
      '<!doctype html><title>Not Found</title><p>Meet us at the office: 12 Main St, open 9:00-17:00.</p>',
      '{"error":"not found","at":"2026-01-01T10:00:00Z"}',
      'Internal Server Error\nrequest id 1f2e3d\n',
      'File a bug at https://example.com/issues, line 3 of the form.',
    ];
    for (const body of bodies) assert.deepEqual(stackTraceProbes.check(evidence([page(body)])), [], body);
  });
});

describe('development servers', () => {
  const cases = [
    ['dev-server-django', page('<p>You’re seeing this error because you have <code>DEBUG = True</code> in your Django settings file.</p>', { status: 404 })],
    ['dev-server-django', page('ok', { status: 200, headers: { server: 'WSGIServer/0.2 CPython/3.11.2' } })],
    ['dev-server-vite', page('<html><head><script type="module" src="/@vite/client"></script></head></html>', { status: 200 })],
    ['dev-server-vite', page('import "/node_modules/vite/dist/client/env.mjs";\nconsole.debug("[vite] connecting...");', { status: 200, path: '/@vite/client', type: 'text/javascript' })],
    ['dev-server-webpack', page('', { status: 200, path: '/__webpack_hmr', type: 'text/event-stream' })],
    ['dev-server-webpack', page('<html><script src="/webpack-dev-server/client/index.js"></script></html>', { status: 200 })],
    ['dev-server-nextjs', page('<script id="__NEXT_DATA__" type="application/json">{"props":{},"page":"/","buildId":"development"}</script>', { status: 200 })],
    ['dev-server-php', page('<!doctype html><html><head><title>404 Not Found</title></head><body><h1>Not Found</h1><p>The requested resource <code class="url">/x</code> was not found on this server.</p></body></html>', { status: 404 })],
    ['dev-server-werkzeug', page('hi', { status: 200, headers: { server: 'Werkzeug/3.1.3 Python/3.11.2' } })],
  ];
  for (const [id, response] of cases) {
    test(`${id}: ${response.headers.server ?? response.body.slice(0, 50)}`, () => {
      const ids = devServerProbes.check(evidence([response])).map((f) => f.id);
      assert.deepEqual(ids, [id]);
    });
  }

  test('a production build of the same apps is not reported', () => {
    const quiet = [
      page('<html><script type="module" src="/assets/index-4f2a.js"></script></html>', { status: 200 }),
      page('<script id="__NEXT_DATA__" type="application/json">{"buildId":"k2Jx9aQ"}</script>', { status: 200 }),
      page('<html><body>Not Found</body></html>', { status: 404, path: '/@vite/client' }),
      page('ok', { status: 200, headers: { server: 'gunicorn' } }),
    ];
    assert.deepEqual(devServerProbes.check(evidence(quiet)), []);
  });
});

describe('headers and transport', () => {
  test('X-AspNet-Version and a versioned Server are warnings; a bare product name is not reported', () => {
    const findings = headerProbes.check(evidence([page('', { status: 200, headers: { server: 'Microsoft-IIS/10.0', 'x-aspnet-version': '4.0.30319' } })]));
    assert.deepEqual(findings.map((f) => [f.id, f.severity]), [['version-header', 'warning'], ['version-header', 'warning']]);
    assert.deepEqual(headerProbes.check(evidence([page('', { status: 200, headers: { server: 'nginx' } })])), []);
  });

  test('control characters in a header value do not reach the terminal', () => {
    const [finding] = headerProbes.check(evidence([page('', { status: 200, headers: { server: 'evil/1.0 \u001b[2J' } })]));
    assert.doesNotMatch(finding.title, /\u001b/);
  });

  test('HSTS under six months is info; missing is a warning; an IP address is not asked', () => {
    const https = (hsts, host = 'site.test') => ({ ...page('', { status: 200, headers: hsts ? { 'strict-transport-security': hsts } : {} }), url: `https://${host}/` });
    const run = (response) => transportProbes.check({ ...evidence([response], response.url), origin: new URL(response.url) });
    assert.deepEqual(run(https('max-age=86400')).map((f) => [f.id, f.severity]), [['hsts-short', 'info']]);
    assert.deepEqual(run(https(null)).map((f) => [f.id, f.severity]), [['hsts-missing', 'warning']]);
    assert.deepEqual(run(https('max-age=31536000; includeSubDomains')), []);
    assert.deepEqual(run(https(null, '192.0.2.7')), []);
  });

  test('a plain-HTTP redirect to HTTPS elsewhere counts as a redirect', () => {
    const redirect = page('', { status: 301, headers: { location: 'https://www.site.test/' } });
    assert.deepEqual(transportProbes.check(evidence([redirect])), []);
  });

  test('a redirect to HTTPS on the same host that got no answer is reported', () => {
    const redirect = page('', { status: 308, headers: { location: 'https://site.test/' } });
    assert.deepEqual(transportProbes.check(evidence([redirect])).map((f) => f.id), ['https-unreachable']);
  });
});

test('readableText: tags dropped, <br> kept as a line break, entities decoded', () => {
  assert.equal(readableText('<pre>a&lt;b&gt;<br> &nbsp;at x&#39;s &#x2F;</pre>'), "a<b>\n  at x's /");
});
