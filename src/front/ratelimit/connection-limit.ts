/**
 * --limit-conn N: at most N open connections per client address across all workers (Nginx's
 * limit_conn). A connection is counted when it is accepted (the listeners' onConnection hook,
 * after any PROXY header, so the address is the PROXY source when there is one) and uncounted
 * when it closes. The count lives in the shared store, so the decision takes one round trip; a
 * request that arrives first waits for it. A connection over the limit gets 429 to its first
 * request and is closed (Nginx answers 503 by default; keel answers 429, the status for "too
 * many requests from you").
 *
 * The address is the connection's peer: a per-request X-Forwarded-For cannot apply to a
 * connection, which exists before any request does.
 */
import type { IncomingMessage } from 'node:http';
import type { ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import { peerAddressOf } from '../proxy-protocol.js';
import { plainAddress } from '../trusted-proxies.js';
import type { CounterStore } from './counter-store.js';

const PENDING = 0;
const ALLOWED = 1;
const REFUSED = 2;

/** What keel knows of one connection's place in the count. */
export class CountedConnection {
  state = PENDING;
  /** True only while the store holds a count for this connection (not when it failed open). */
  counted = false;
  closed = false;
  /** Settles when the store has answered (allowed or refused, or failed). */
  readonly decided: Promise<void>;
  private settle!: () => void;

  constructor(readonly client: string) {
    this.decided = new Promise((resolve) => {
      this.settle = resolve;
    });
  }

  decide(allowed: boolean, counted: boolean): void {
    this.state = allowed ? ALLOWED : REFUSED;
    this.counted = counted;
    this.settle();
  }

  get isPending(): boolean {
    return this.state === PENDING;
  }

  get isRefused(): boolean {
    return this.state === REFUSED;
  }
}

const kCounted = Symbol('keel.countedConnection');
type Marked = Socket & { [kCounted]?: CountedConnection; _parent?: Marked };

/** The record of the connection a request came on, if it was counted (HTTP/1.1, TLS, HTTP/2). */
export function countedConnectionOf(req: IncomingMessage): CountedConnection | undefined {
  const stream = (req as IncomingMessage & { stream?: ServerHttp2Stream }).stream;
  const socket = (stream ? stream.session?.socket : req.socket) as Marked | undefined;
  if (socket === undefined) return undefined;
  // Over TLS the record is on the TCP socket the TLS socket wraps (`_parent`, Node's own link).
  return socket[kCounted] ?? socket._parent?.[kCounted];
}

export interface ConnectionLimit {
  /** For the listeners: called once per accepted connection. */
  onConnection(socket: Socket): void;
  /** Uncounts the connections still open (the worker is leaving), and waits for the store. */
  release(): Promise<void>;
}

/**
 * @param onStoreError called when the store could not answer; the connection is then allowed.
 */
export function createConnectionLimit(limit: number, store: CounterStore, onStoreError: (err: unknown) => void): ConnectionLimit {
  const open = new Set<CountedConnection>();

  function uncount(record: CountedConnection): Promise<unknown> {
    record.counted = false;
    open.delete(record);
    return store.connectionClose(record.client).catch(onStoreError);
  }

  function onClose(this: Marked): void {
    const record = this[kCounted]!;
    record.closed = true;
    if (record.counted) void uncount(record);
  }

  function onConnection(socket: Socket): void {
    const peer = peerAddressOf(socket);
    // A unix-socket peer has no address to count by (Nginx likewise skips an empty key).
    if (peer === undefined) return;
    const record = new CountedConnection(plainAddress(peer));
    (socket as Marked)[kCounted] = record;
    socket.once('close', onClose);
    store.connectionOpen(record.client, limit).then(
      (allowed) => {
        record.decide(allowed === 1, allowed === 1);
        if (allowed !== 1) return;
        // Closed while the store was deciding: the count it just made must go again.
        if (record.closed) void uncount(record);
        else open.add(record);
      },
      (err: unknown) => {
        onStoreError(err);
        record.decide(true, false);
      },
    );
  }

  async function release(): Promise<void> {
    await Promise.allSettled([...open].map(uncount));
  }

  return { onConnection, release };
}
