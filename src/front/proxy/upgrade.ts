/**
 * Upgrade requests (WebSocket) through a proxy route. Placeholder until the tunnel lands.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendErrorPage } from '../error-page.js';
import type { ProxyCore } from './proxy-exchange.js';

export function proxyUpgrade(core: ProxyCore, req: IncomingMessage, res: ServerResponse): void {
  void core;
  sendErrorPage(req, res, 501, req.keel!.id, true);
}
