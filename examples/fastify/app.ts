// A Fastify app served by keel through its factory. Run: npx keel serve 'examples/fastify/app.ts:build()'
import Fastify from 'fastify';

/** keel calls this once per worker (APP ends in `:build()`), as Gunicorn calls `module:create_app()`. */
export async function build() {
  const app = Fastify({ logger: false });

  app.get('/', async (_request, reply) => {
    reply.type('text/plain; charset=utf-8');
    return 'Hello from Fastify!\n';
  });

  app.get('/json', async () => ({ framework: 'fastify', ok: true }));

  // keel answers a generic 500 with a request ID; the error and its stack go to the error log only.
  app.get('/boom', async () => {
    throw new Error('boom: something broke inside the Fastify app');
  });

  return app;
}
