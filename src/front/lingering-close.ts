/**
 * Lingering close, as Nginx's lingering_close and Apache's: when a server closes a connection the
 * client is still sending on (the rest of a refused upload, a request pipelined behind one that
 * said Connection: close), the server's kernel answers those bytes with a reset, and the client's
 * next write fails; a client that tears its socket down on that error (Node's net does) loses what
 * it had not read yet: the 400, the 413, the last response. So keel ends its side, goes on reading
 * and dropping what comes, and closes when the client does, or after LINGER_MS.
 *
 * Every HTTP/1 connection gets this as its destroySoon, which is what Node's HTTP server calls
 * after the last response of a connection; keel's own refusals, and upgrade requests answered
 * without a tunnel, call lingeringClose directly.
 */
import { Socket } from 'node:net';

/** How long a closing connection may keep sending before it is destroyed. */
export const LINGER_MS = 2000;

const kLingering = Symbol('keel.lingering');

type LingeringSocket = Socket & { [kLingering]?: true };

/** True once keel has answered on this connection for the last time: what the client still sends is dropped. */
export function isLingering(socket: Socket): boolean {
  return (socket as LingeringSocket)[kLingering] === true;
}

const originalDestroySoon = Socket.prototype.destroySoon;

/** Ends keel's side of the connection once what is queued is written; destroys it when the client ends its side or LINGER_MS pass. */
export function lingeringClose(socket: Socket): void {
  const lingering = socket as LingeringSocket;
  if (lingering[kLingering] || socket.destroyed) return;
  lingering[kLingering] = true;
  // The client has finished sending: nothing can draw a reset, so Node's own close is right.
  if (socket.readableEnded) {
    originalDestroySoon.call(socket);
    return;
  }
  if (socket.writable) socket.end();
  // Reading goes on, into the HTTP parser or, on a socket no parser reads any more (an upgrade
  // request answered plainly), into nothing; once the client ends its side too, the socket closes.
  // A client that never does is cut after LINGER_MS. (A socket the parser holds is left as Node
  // has it: resuming one Node paused for backpressure would break its parser's assertion.)
  if (!(socket as Socket & { parser?: unknown }).parser) socket.resume();
  socket.once('end', () => originalDestroySoon.call(socket));
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}

function lingeringDestroySoon(this: Socket): void {
  lingeringClose(this);
}

/** Makes Node's HTTP server close this HTTP/1 connection with a linger. */
export function lingerOnClose(socket: Socket): void {
  socket.destroySoon = lingeringDestroySoon;
}
