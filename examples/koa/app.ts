// A Koa 3 app served by keel. Run: npx keel serve examples/koa/app.ts
import Koa from 'koa';

const app = new Koa();

app.use(async (ctx) => {
  switch (ctx.path) {
    case '/':
      ctx.type = 'text/plain; charset=utf-8';
      ctx.body = 'Hello from Koa!\n';
      return;
    case '/json':
      ctx.body = { framework: 'koa', ok: true };
      return;
    case '/boom':
      // keel answers a generic 500 with a request ID; the error and its stack go to the error log only.
      throw new Error('boom: something broke inside the Koa app');
    default:
      ctx.status = 404;
      ctx.body = 'Not Found\n';
  }
});

export default app;
