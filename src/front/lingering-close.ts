/**
 * Lingering close, as Nginx's lingering_close and Apache's: when a server closes a connection the
 * client is still sending on (the rest of a refused upload, a request pipelined behind one that
 * said Connection: close), the server's kernel answers those bytes with a reset, and the client's
 * next write fails; a client that tears its socket down on that error (Node's net does) loses what
 * it had not read yet: the 400, the 413, the last response. So keel ends its side, goes on reading
 * and dropping what comes, and closes when the client does; when nothing more arrives for
 * --lingering-timeout (Nginx's lingering_timeout, 5 s); or at the latest after --lingering-time
 * (Nginx's lingering_time, 30 s).
 *
 * Every HTTP/1 connection gets this as its destroySoon, which is what Node's HTTP server calls
 * after the last response of a connection; keel's own refusals, and upgrade requests answered
 * without a tunnel, call lingeringClose directly.
 */
import { Socket } from 'node:net';

/** The worker's settings (configureLingeringClose); Nginx's defaults until then. */
let lingerTimeMs = 30_000;
let lingerTimeoutMs = 5_000;

/** Sets --lingering-time and --lingering-timeout for this worker's connections. */
export function configureLingeringClose(config: { readonly lingeringTime: number; readonly lingeringTimeout: number }): void {
  lingerTimeMs = config.lingeringTime * 1000;
  lingerTimeoutMs = config.lingeringTimeout * 1000;
}

const kLingering = Symbol('keel.lingering');

type LingeringSocket = Socket & { [kLingering]?: true };

/** True once keel has answered on this connection for the last time: what the client still sends is dropped. */
export function isLingering(socket: Socket): boolean {
  return (socket as LingeringSocket)[kLingering] === true;
}

const originalDestroySoon = Socket.prototype.destroySoon;

/**
 * Ends keel's side of the connection once what is queued is written; destroys it when the client
 * ends its side, sends nothing for the lingering timeout, or the lingering time is up.
 */
export function lingeringClose(socket: Socket): void {
  const lingering = socket as LingeringSocket;
  if (lingering[kLingering] || socket.destroyed) return;
  lingering[kLingering] = true;
  // The client has finished sending: nothing can draw a reset, so Node's own close is right.
  // --lingering-time 0 asks for that close whatever the client is doing.
  if (socket.readableEnded || lingerTimeMs === 0) {
    originalDestroySoon.call(socket);
    return;
  }
  if (socket.writable) socket.end();
  // Reading goes on, into the HTTP parser or, on a socket no parser reads any more (an upgrade
  // request answered plainly), into nothing; once the client ends its side too, the socket closes.
  // (A socket the parser holds is left as Node has it: resuming one Node paused for backpressure
  // would break its parser's assertion.)
  if (!(socket as Socket & { parser?: unknown }).parser) socket.resume();
  socket.once('end', () => originalDestroySoon.call(socket));
  // Whether the client sent anything is read from the socket's byte count, not from 'data' events:
  // the HTTP parser consumes a plain socket's bytes in C++, and no 'data' event comes for them.
  const deadline = Date.now() + lingerTimeMs;
  let seen = socket.bytesRead;
  let timer: NodeJS.Timeout;
  const check = (): void => {
    const now = Date.now();
    if (socket.bytesRead === seen || now >= deadline) {
      socket.destroy();
      return;
    }
    seen = socket.bytesRead;
    timer = setTimeout(check, Math.min(lingerTimeoutMs, deadline - now)).unref();
  };
  timer = setTimeout(check, Math.min(lingerTimeoutMs, lingerTimeMs)).unref();
  socket.once('close', () => clearTimeout(timer));
}

function lingeringDestroySoon(this: Socket): void {
  lingeringClose(this);
}

/** Makes Node's HTTP server close this HTTP/1 connection with a linger. */
export function lingerOnClose(socket: Socket): void {
  socket.destroySoon = lingeringDestroySoon;
}
