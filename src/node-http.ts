/**
 * node:http, as require() gives it. An ESM `import … from 'node:http'` builds the module's
 * namespace by reading every export, and reading the lazy WebSocket, CloseEvent and MessageEvent
 * getters loads Node's bundled undici and web streams: ~60 ms of CPU in every keel process
 * (primary and each worker) for classes keel never uses. require() reads only what is asked for.
 * Types still come from `import type … from 'node:http'`, which costs nothing at run time.
 */
import { createRequire } from 'node:module';

export const http: typeof import('node:http') = createRequire(import.meta.url)('node:http');
