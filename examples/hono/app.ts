// A Hono app (an object with fetch(Request) => Response) served by keel. Run: npx keel serve examples/hono/app.ts
import { Hono } from 'hono';

const app = new Hono();

app.get('/', (c) => c.text('Hello from Hono!\n'));

app.get('/json', (c) => c.json({ framework: 'hono', ok: true }));

// keel answers a generic 500 with a request ID; the error and its stack go to the error log only.
app.get('/boom', () => {
  throw new Error('boom: something broke inside the Hono app');
});

// A streaming body: three chunks, written as they are produced, not buffered whole.
app.get('/stream', () => {
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (sent === 3) {
        controller.close();
        return;
      }
      sent += 1;
      await new Promise((resolve) => setTimeout(resolve, 20));
      controller.enqueue(new TextEncoder().encode(`chunk ${sent}\n`));
    },
  });
  return new Response(body, { headers: { 'content-type': 'text/plain; charset=utf-8' } });
});

export default app;
