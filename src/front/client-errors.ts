/**
 * Requests the parser refuses before any app sees them: malformed or smuggling-prone framing
 * (conflicting Content-Length/Transfer-Encoding) get 400, a head over the parser's size limit
 * gets 414 or 431, a client too slow with its headers gets 408. The connection always closes,
 * and the refusal still gets an access-log line.
 */
import { newRequestId } from './request-id.js';
import { http } from '../node-http.js';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ResolvedConfig } from '../config/resolve.js';
import { isLingering, lingeringClose } from './lingering-close.js';

/** A method, a space and the start of a target: what the first bytes of a request line look like. */
const REQUEST_LINE_START = /^[A-Z]+ (?:\/|\*|[a-z][a-z0-9+.-]*:\/\/)/;
/** How a request line ends, before its CRLF: a space and the protocol version. */
const REQUEST_LINE_END = /(?:^| )HTTP\/\d\.\d$/;

export type LogRefusal = (socket: Socket, status: number, requestId: string, event: string) => void;

/** The status for an error the HTTP/1.1 parser reports before a request exists. */
export function refusalStatus(err: NodeJS.ErrnoException & { rawPacket?: Buffer }, maxLine: number): number {
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || err.code === 'HPE_HEADER_TIMEOUT') return 408;
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    const raw = err.rawPacket;
    if (!raw) return 431;
    const lineEnd = raw.indexOf('\r\n');
    // The parser reports only the chunk it choked on, not the head so far. When that chunk starts a
    // request line that does not end within the limit, the line is the culprit. A chunk from further
    // into the head is the rest of a request line when its first line ends with the protocol version
    // (a long line that reached keel in two reads, which a loaded machine does); otherwise it is part
    // of a big header that arrived in pieces, the usual case.
    if (REQUEST_LINE_START.test(raw.toString('latin1', 0, 24))) return lineEnd === -1 || lineEnd >= maxLine ? 414 : 431;
    return lineEnd !== -1 && REQUEST_LINE_END.test(raw.toString('latin1', Math.max(0, lineEnd - 9), lineEnd)) ? 414 : 431;
  }
  return 400;
}

export function createClientErrorHandler(config: ResolvedConfig, logRefusal: LogRefusal) {
  const maxLine = config.limitRequestLine || 65_535;
  return function onClientError(err: NodeJS.ErrnoException, socket: Socket): void {
    // The parser reports an error for every chunk the client sends after keel's last answer (a refusal,
    // or a response that closed the connection); destroying the socket then would reset the connection
    // and the client could lose the answer. The linger closes it (lingering-close.ts).
    if (isLingering(socket)) return;
    const inResponse = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    // Bytes after a request that closes the connection (HTTP/1.0, Connection: close) are not a request:
    // the pending answer still goes out, then the connection closes (Node's default would answer 400 instead).
    if (err.code === 'HPE_CLOSED_CONNECTION' && inResponse && socket.writable) return;
    if (err.code === 'ECONNRESET' || !socket.writable || inResponse?.headersSent) {
      socket.destroy();
      return;
    }
    const status = refusalStatus(err, maxLine);
    logRefusal(socket, status, answerAndClose(socket, status), status === 408 ? 'client-timeout' : 'bad-request');
  };
}

/**
 * CONNECT asks for a tunnel, which keel does not open (it is no forward proxy). Node hands such a
 * request to a 'connect' listener or, with none, closes the connection without a word; keel answers
 * 501 like its other refusals, with a request ID and a log line.
 */
export function createConnectRefusal(logRefusal: LogRefusal) {
  return function refuseConnect(_req: IncomingMessage, socket: Duplex): void {
    const tcp = socket as Socket;
    logRefusal(tcp, 501, answerAndClose(tcp, 501), 'refused');
  };
}

/** Answers with a plain-text status page and closes; returns the answer's request ID. */
function answerAndClose(socket: Socket, status: number): string {
  const requestId = newRequestId();
  const body = `${status} ${http.STATUS_CODES[status]}\n`;
  socket.write(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\nX-Request-Id: ${requestId}\r\n\r\n${body}`,
  );
  // The answer reaches the client before the rest of what it is sending is dropped.
  lingeringClose(socket);
  return requestId;
}
