// The smallest app keel serves: a Node request listener, in TypeScript, with no build step.
import type { IncomingMessage, ServerResponse } from 'node:http';

export default function hello(req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
  res.end('Hello, world!\n');
}
