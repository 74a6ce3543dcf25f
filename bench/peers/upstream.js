// The proxy rows' upstream: one plain node:http process (no cluster) serving
// the same handler as every other row, so each proxy in front of it is
// measured against the same fast app. It shares the 2 cores with the proxy
// under test and with wrk.
import http from 'node:http';
import { loadHandler } from './handler.js';

const handler = await loadHandler();
const server = http.createServer(handler);
// Longer than any proxy keeps an idle upstream connection (Nginx: 60 s), so an
// idle connection is never closed here while a proxy is sending on it.
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
