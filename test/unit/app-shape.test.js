// App-shape detection: whatever the APP export is, keel either turns it into a request listener of
// the right shape or refuses it with KEEL_ERR_APP_SHAPE and a hint.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import Koa from 'koa';
import { adaptApp } from '../../dist/worker/adapters/detect.js';
import { KeelError } from '../../dist/errors.js';

const noFail = () => assert.fail('fail() should not be called');

function isShapeError(pattern) {
  return (err) => {
    assert.ok(err instanceof KeelError, `expected a KeelError, got ${err}`);
    assert.equal(err.code, 'KEEL_ERR_APP_SHAPE');
    assert.equal(err.exitCode, 2);
    assert.match(err.message, /is not an app keel can serve; expected a \(req, res\) listener/);
    if (pattern) assert.match(err.message, pattern);
    return true;
  };
}

describe('adaptApp detects the shape', () => {
  test('a (req, res) function is a listener, used as is', async () => {
    const listener = (req, res) => res.end('x');
    const adapted = await adaptApp(listener, noFail);
    assert.equal(adapted.shape, 'listener');
    assert.equal(adapted.handle, listener);
    assert.equal((await adaptApp(function named(req, res, next) {}, noFail)).shape, 'listener');
  });

  test('an Express app is express', async () => {
    assert.equal((await adaptApp(express(), noFail)).shape, 'express');
  });

  test('an Express router-like Connect app (function with handle and use) is express', async () => {
    const connectLike = Object.assign((req, res, next) => next(), { handle() {}, use() {} });
    assert.equal((await adaptApp(connectLike, noFail)).shape, 'express');
  });

  test('a Koa app is koa', async () => {
    assert.equal((await adaptApp(new Koa(), noFail)).shape, 'koa');
  });

  test('a Fastify instance is fastify', async (t) => {
    const app = Fastify();
    t.after(() => app.close());
    assert.equal((await adaptApp(app, noFail)).shape, 'fastify');
  });

  test('an object with fetch (Hono, or a bare { fetch }) is fetch', async () => {
    assert.equal((await adaptApp(new Hono(), noFail)).shape, 'fetch');
    assert.equal((await adaptApp({ fetch: () => new Response('x') }, noFail)).shape, 'fetch');
  });
});

describe('adaptApp refuses what it cannot serve', () => {
  test('a function of 0 or 1 parameters: KEEL_ERR_APP_SHAPE with a hint about factories, naming the function', async () => {
    await assert.rejects(adaptApp(function createApp() {}, noFail), isShapeError(/a function with 0 parameters \(if it is a factory, write APP as file:createApp\(\)\)/));
    await assert.rejects(adaptApp((options) => options, noFail), isShapeError(/a function with 1 parameters \(if it is a factory, write APP as file:.*\(\)\)/));
  });

  test('a number, null, a string, an array, a plain object: KEEL_ERR_APP_SHAPE saying what it got', async () => {
    await assert.rejects(adaptApp(42, noFail), isShapeError(/APP: a number is not/));
    await assert.rejects(adaptApp(null, noFail), isShapeError(/APP: null is not/));
    await assert.rejects(adaptApp(undefined, noFail), isShapeError(/APP: a undefined is not|APP: undefined is not/));
    await assert.rejects(adaptApp('app', noFail), isShapeError(/APP: a string is not/));
    await assert.rejects(adaptApp([], noFail), isShapeError(/APP: an array is not/));
    await assert.rejects(adaptApp({ listen() {}, handler: 1 }, noFail), isShapeError(/an object with keys listen, handler/));
  });
});

describe('adapters route framework failures to keel (fail), and keep the frameworks’ own 4xx', () => {
  test('Fastify from an async factory (the instance is thenable, so awaiting it boots it): a route that throws reaches fail(); 4xx stay Fastify’s', async (t) => {
    async function build() {
      const instance = Fastify();
      instance.get('/boom', async () => {
        throw new Error('fastify secret detail');
      });
      instance.get('/teapot', async () => {
        const err = new Error('short and stout');
        err.statusCode = 418;
        throw err;
      });
      return instance;
    }
    // As keel's loader calls APP file:build(): awaiting the result binds the routes before adaptApp runs.
    const app = await build();
    t.after(() => app.close());
    const failures = [];
    await adaptApp(app, (req, res, err) => {
      failures.push(err);
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('keel page');
    });
    const boom = await app.inject({ url: '/boom' });
    assert.equal(boom.statusCode, 500);
    assert.equal(boom.body, 'keel page');
    assert.equal(failures.length, 1);
    assert.equal(failures[0].message, 'fastify secret detail');

    const teapot = await app.inject({ url: '/teapot' });
    assert.equal(teapot.statusCode, 418);
    const missing = await app.inject({ url: '/nope' });
    assert.equal(missing.statusCode, 404);
    assert.equal(failures.length, 1, 'a 4xx is not an app failure');
  });

  test('Fastify from a factory that awaited ready() itself: still served, failures still reach fail()', async (t) => {
    const app = Fastify();
    t.after(() => app.close());
    app.get('/boom', async () => {
      throw new Error('fastify secret detail');
    });
    await app.ready();
    const failures = [];
    await adaptApp(app, (req, res, err) => {
      failures.push(err);
      res.writeHead(500);
      res.end('keel page');
    });
    const boom = await app.inject({ url: '/boom' });
    assert.equal(boom.body, 'keel page');
    assert.equal(failures.length, 1);
    assert.equal(failures[0].message, 'fastify secret detail');
    assert.equal((await app.inject({ url: '/nope' })).statusCode, 404);
    assert.equal(failures.length, 1, 'a 4xx is not an app failure');
  });

  test('Fastify: an app with its own error handler keeps it', async (t) => {
    const app = Fastify();
    t.after(() => app.close());
    app.setErrorHandler((err, request, reply) => reply.code(503).send({ mine: err.message }));
    app.get('/boom', async () => {
      throw new Error('handled by the app');
    });
    await adaptApp(app, noFail);
    const res = await app.inject({ url: '/boom' });
    assert.equal(res.statusCode, 503);
    assert.deepEqual(res.json(), { mine: 'handled by the app' });
  });

  test('Hono: a throw propagates out of fetch (to keel’s boundary) instead of Hono’s console.error page; an HTTPException below 500 keeps its answer', async () => {
    const app = new Hono();
    app.get('/boom', () => {
      throw new Error('hono secret detail');
    });
    app.get('/async-boom', async () => {
      await null;
      throw new Error('hono async detail');
    });
    app.get('/denied', () => {
      throw new HTTPException(401, { message: 'log in first' });
    });
    await adaptApp(app, noFail);
    await assert.rejects(async () => app.fetch(new Request('http://x/boom')), /hono secret detail/);
    await assert.rejects(async () => app.fetch(new Request('http://x/async-boom')), /hono async detail/);
    const denied = await app.fetch(new Request('http://x/denied'));
    assert.equal(denied.status, 401);
    assert.equal(await denied.text(), 'log in first');
  });

  test('Hono: an app with its own onError keeps it', async () => {
    const app = new Hono();
    app.onError((err, c) => c.text(`custom: ${err.message}`, 500));
    app.get('/boom', () => {
      throw new Error('mine');
    });
    await adaptApp(app, noFail);
    const res = await app.fetch(new Request('http://x/boom'));
    assert.equal(await res.text(), 'custom: mine');
  });
});
