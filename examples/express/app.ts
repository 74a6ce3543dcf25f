// An Express 5 app served by keel. Run: npx keel serve examples/express/app.ts
import express from 'express';

export const app = express();

app.get('/', (_req, res) => {
  res.type('text/plain').send('Hello from Express!\n');
});

app.get('/json', (_req, res) => {
  res.json({ framework: 'express', ok: true });
});

// keel answers a generic 500 with a request ID; the error and its stack go to the error log only.
app.get('/boom', () => {
  throw new Error('boom: something broke inside the Express app');
});

// What keel resolved about the client (after trusted proxies): the address, the scheme, the request ID.
app.get('/client', (req, res) => {
  const { clientAddress, scheme, id } = (req as unknown as { keel: { clientAddress: string; scheme: string; id: string } }).keel;
  res.json({ clientAddress, scheme, id });
});

export default app;
