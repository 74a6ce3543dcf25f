/**
 * Upgrade requests (WebSocket and the like) on HTTP/1.1. With an 'upgrade' listener, Node hands
 * such a request over with its bare socket instead of a response; this gives it a response on that
 * socket and runs it through the same pipeline as any request (request ID, client address, rate
 * limit, access log), so a proxy route can tunnel it and every other target answers it plainly:
 * the app or a static route as usual, 404 when nothing serves the path. Anything answered that way
 * (not switched) closes the connection, as Nginx does with an upgrade it cannot pass on.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { lingeringClose } from './lingering-close.js';
import { KeelResponse } from './response-headers.js';

/** The bytes the client sent after the upgrade request's head, kept on the request for the tunnel. */
export const kUpgradeHead = Symbol('keel.upgradeHead');

export type UpgradeHandler = (req: IncomingMessage, socket: Socket, head: Buffer) => void;

/** An upgrade answered without a tunnel closes its connection, lingering: a client that never closes its side is cut. */
function endSocket(this: ServerResponse): void {
  const socket = this.socket;
  if (socket && !socket.destroyed) lingeringClose(socket);
}

function destroyOnError(this: Socket): void {
  // Node removed its own error handler when it handed the socket over; a reset must not crash the worker.
  this.destroy();
}

/** Whether the request arrived through Node's 'upgrade' event. */
export function isUpgrade(req: IncomingMessage): boolean {
  return (req as IncomingMessage & { upgrade?: boolean }).upgrade === true;
}

export function createUpgradeHandler(pipeline: (req: IncomingMessage, res: ServerResponse) => void): UpgradeHandler {
  return function onUpgrade(req, socket, head) {
    socket.on('error', destroyOnError);
    const res = new KeelResponse(req);
    res.shouldKeepAlive = false;
    res.assignSocket(socket);
    res.once('finish', endSocket);
    (req as IncomingMessage & { [kUpgradeHead]?: Buffer })[kUpgradeHead] = head;
    pipeline(req, res);
  };
}
