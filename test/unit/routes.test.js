// Route flags and the config file's routes list parse into one table, longest prefix first; the
// router matches on segment boundaries after normalising the path, so encoded or dotted paths
// cannot slip past a route (and its limits) to the app.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ValueError } from '../../dist/config/value-types.js';
import { proxyRoutes, rateLimits, routeList, staticRoutes } from '../../dist/config/route-types.js';
import { buildRouteTable, duplicatePrefix, underPrefix } from '../../dist/config/route-table.js';
import { createRouter, routingPath } from '../../dist/front/router.js';

describe('route flags', () => {
  test('--static PREFIX=DIR with spa and cache=off', () => {
    const [plain, spa] = staticRoutes().parse(['/assets=./public', '/=./dist spa cache=off']);
    assert.deepEqual([plain.kind, plain.path, plain.root, plain.spa, plain.cache], ['static', '/assets', './public', false, true]);
    assert.deepEqual([spa.path, spa.root, spa.spa, spa.cache], ['/', './dist', true, false]);
    // A trailing slash on the prefix means the same route.
    assert.equal(staticRoutes().parse('/assets/=./public')[0].path, '/assets');
  });

  test('--proxy with several upstreams, balance, health and intercept-errors', () => {
    const [route] = proxyRoutes().parse('/api=http://127.0.0.1:5000,http://127.0.0.1:5001/ balance=hash-header:X-User health=/healthz:2s:200-299 intercept-errors');
    assert.deepEqual(route.upstreams, ['http://127.0.0.1:5000', 'http://127.0.0.1:5001']);
    assert.equal(route.balance, 'hash-header:x-user');
    assert.deepEqual(route.health, { path: '/healthz', interval: 2, statusMin: 200, statusMax: 299 });
    assert.equal(route.interceptErrors, true);
    assert.deepEqual(proxyRoutes().parse('/s=unix:/run/app.sock')[0].upstreams, ['unix:/run/app.sock']);
  });

  test('bad routes are refused with what is allowed', () => {
    for (const bad of ['assets=./x', '/a=', '=./x', '/a/../b=./x', '/a//b=./x', '/a=./x bogus']) {
      assert.throws(() => staticRoutes().parse(bad), (err) => err instanceof ValueError && /PREFIX=DIR/.test(err.message), bad);
    }
    for (const bad of ['/api=ftp://x', '/api=http://x/path', '/api=http://x?q', '/api=127.0.0.1:5000', '/api=http://x balance=random', '/api=http://x health=healthz']) {
      assert.throws(() => proxyRoutes().parse(bad), ValueError, bad);
    }
  });

  test('--rate-limit: global or per prefix, r/s or r/m, with burst', () => {
    const [global, api] = rateLimits().parse(['10r/s burst=20', '/api 600r/m']);
    assert.deepEqual([global.path, global.rate, global.burst], [null, 10, 20]);
    assert.deepEqual([api.path, api.rate, api.burst], ['/api', 10, 0]);
    for (const bad of ['10', '10r/h', '0r/s', '10r/s burst=x', 'api 10r/s']) assert.throws(() => rateLimits().parse(bad), ValueError, bad);
  });
});

describe('config-file routes', () => {
  test('static, proxy and run routes, with their options', () => {
    const routes = routeList().parse([
      { path: '/assets', static: './public', cache: false },
      { path: '/api', proxy: ['http://127.0.0.1:5000'], balance: 'least-conn', health: { path: '/up', interval: 1, status: 200 }, rateLimit: '5r/s burst=2' },
      { path: '/py', run: 'gunicorn -b 127.0.0.1:{port} app:app', instances: 2 },
    ]);
    assert.deepEqual(routes.map((r) => r.kind), ['static', 'proxy', 'proxy']);
    assert.equal(routes[0].cache, false);
    assert.deepEqual(routes[1].health, { path: '/up', interval: 1, statusMin: 200, statusMax: 200 });
    assert.deepEqual([routes[1].rateLimit.rate, routes[1].rateLimit.burst], [5, 2]);
    assert.deepEqual(routes[2].run, { command: 'gunicorn -b 127.0.0.1:{port} app:app', instances: 2 });
    // The list shows as JSON that parses back to the same routes (--print-config, KEEL_ROUTES).
    const shown = routeList().show(routes);
    assert.deepEqual(routeList().parse(shown).map((r) => r.path), ['/assets', '/api', '/py']);
  });

  test('mistakes name the route and the problem', () => {
    const cases = [
      [[{ path: '/a' }], /routes\[0\]: exactly one of static, proxy or run/],
      [[{ path: '/a', static: './x', proxy: 'http://x' }], /exactly one/],
      [[{ path: 'a', static: './x' }], /routes\[0\]: path must start with \//],
      [[{ path: '/a', static: './x', colour: 'red' }], /unknown key colour/],
      [[{ path: '/a', run: 'gunicorn app:app' }], /\{port\} or \{socket\}/],
      [[{ path: '/a', run: 'x {port}', instances: 0 }], /instances must be/],
      [[{ path: '/a', proxy: ['nope'] }], /upstream URLs/],
      [{ path: '/a' }, /a list of routes/],
    ];
    for (const [input, message] of cases) assert.throws(() => routeList().parse(input), (err) => err instanceof ValueError && message.test(err.message), JSON.stringify(input));
  });
});

describe('the route table', () => {
  const sources = (over = {}) => ({ static: [], proxy: [], routes: [], run: null, instances: 1, ...over });

  test('longest prefix first; static roots made absolute; --run mounted at /', () => {
    const table = buildRouteTable(
      sources({ static: staticRoutes().parse(['/=./site', '/assets/img=/srv/img']), proxy: proxyRoutes().parse('/assets=http://127.0.0.1:1'), run: 'x {port}', instances: 3 }),
      '/work/app',
    );
    assert.deepEqual(table.map((r) => r.path), ['/assets/img', '/assets', '/', '/']);
    assert.equal(table.find((r) => r.kind === 'static' && r.path === '/').root, '/work/app/site');
    assert.deepEqual(table.find((r) => r.kind === 'proxy' && r.path === '/').run, { command: 'x {port}', instances: 3 });
    assert.equal(duplicatePrefix(table), '/');
    assert.equal(duplicatePrefix(table.slice(0, 3)), null);
  });

  test('prefixes match whole segments', () => {
    assert.ok(underPrefix('/api', '/api'));
    assert.ok(underPrefix('/api/users', '/api'));
    assert.ok(underPrefix('/api?x=1', '/api'));
    assert.ok(!underPrefix('/apix', '/api'));
    assert.ok(!underPrefix('/ap', '/api'));
    assert.ok(underPrefix('/anything', '/'));
  });
});

describe('the router', () => {
  test('normalises encoded, dotted and doubled paths before matching', () => {
    assert.equal(routingPath('/api/users?x=%2F'), '/api/users');
    assert.equal(routingPath('/%61pi/x'), '/api/x');
    assert.equal(routingPath('/x/../api/'), '/api/');
    assert.equal(routingPath('//api//x'), '/api/x');
    assert.equal(routingPath('/a\\..\\api'), '/api');
    assert.equal(routingPath('/../../api'), '/api');
    assert.equal(routingPath('/%E0%A4%A'), null);
  });

  test('the most specific route answers, else the app, else 404; undecodable paths get 400', () => {
    const table = buildRouteTable({ static: staticRoutes().parse('/assets=/srv'), proxy: proxyRoutes().parse('/assets/api=http://127.0.0.1:1 cache=off'), routes: [], run: null, instances: 1 }, '/');
    const handlers = new Map();
    const handlerFor = (route) => {
      const handler = { shape: route.kind, handle() {} };
      handlers.set(route.path, handler);
      return handler;
    };
    const app = { shape: 'listener', handle() {} };
    const route = createRouter(table, handlerFor, app);
    assert.equal(route('/assets/api/x').handler, handlers.get('/assets/api'));
    assert.equal(route('/assets/api/x').cacheable, false);
    assert.equal(route('/assets/logo.png').handler, handlers.get('/assets'));
    assert.equal(route('/assets/logo.png').cacheable, false, 'static files are served from their own cache');
    assert.equal(route('/%61ssets/logo.png').handler, handlers.get('/assets'));
    assert.equal(route('/assetsx').handler, app);
    assert.equal(route('/assets/%E0%A4%A').status, 400);
    const noApp = createRouter(table, handlerFor, null)('/other');
    assert.deepEqual([noApp.handler, noApp.status], [null, 404]);
  });
});
