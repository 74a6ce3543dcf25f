/**
 * The in-flight table the watchdog thread can read: one slot per request in progress, holding
 * the fields of its access-log line, in SharedArrayBuffers. When the event loop is stuck, the
 * main thread can log nothing; the watchdog thread reads this table and writes those lines.
 */
const SLOTS = 512;
const SLOT_BYTES = 1024;

export const SLOT_FREE = 0;
export const SLOT_BUSY = 1;
/** The watchdog already wrote this request's line; the main thread must not write it again. */
export const SLOT_LOGGED = 2;

export interface WatchdogTableShared {
  readonly states: SharedArrayBuffer;
  readonly starts: SharedArrayBuffer;
  readonly lengths: SharedArrayBuffer;
  readonly bytes: SharedArrayBuffer;
  readonly slots: number;
  readonly slotBytes: number;
}

/** What a slot holds: the fields of the request's access-log line. */
export interface WatchdogFields {
  readonly startTime: number;
  readonly id: string;
  readonly clientAddress: string;
  readonly method: string;
  readonly url: string;
  readonly httpVersion: string;
  readonly userAgent: string;
  readonly referrer: string;
}

/**
 * Copies a string's characters as bytes followed by a tab, up to `end`. Strings from the HTTP
 * parser are latin1 (one char per byte), so nothing is lost; wider chars keep their low byte, as
 * Buffer#write('latin1') did. A tab inside a field would shift the fields, so it becomes a space.
 */
function copyLatin1(into: Uint8Array, at: number, end: number, text: string): number {
  const stop = Math.min(end - 1, at + text.length);
  for (let i = 0; at < stop; i++, at++) {
    const c = text.charCodeAt(i) & 0xff;
    into[at] = c === 0x09 ? 0x20 : c;
  }
  if (at < end) into[at++] = 0x09;
  return at;
}

/** Field order in a slot, each followed by a tab: the one order record() writes and readSlot() reads. */
const SLOT_FIELDS = ['id', 'clientAddress', 'method', 'url', 'httpVersion', 'userAgent', 'referrer'] as const;

/** What a slot holds, read back from the shared buffers (by the watchdog thread). */
export function readSlot(shared: WatchdogTableShared, slot: number): WatchdogFields {
  const offset = slot * shared.slotBytes;
  const length = new Int32Array(shared.lengths)[slot];
  const values = Buffer.from(shared.bytes).toString('latin1', offset, offset + length).split('\t');
  const fields: Record<string, string | number> = { startTime: new Float64Array(shared.starts)[slot] };
  SLOT_FIELDS.forEach((name, i) => (fields[name] = values[i] ?? ''));
  return fields as unknown as WatchdogFields;
}

export class WatchdogTable {
  readonly shared: WatchdogTableShared;
  private readonly states: Int32Array;
  private readonly starts: Float64Array;
  private readonly lengths: Int32Array;
  private readonly bytes: Uint8Array;
  private readonly free: number[] = [];

  constructor() {
    this.shared = {
      states: new SharedArrayBuffer(SLOTS * 4),
      starts: new SharedArrayBuffer(SLOTS * 8),
      lengths: new SharedArrayBuffer(SLOTS * 4),
      bytes: new SharedArrayBuffer(SLOTS * SLOT_BYTES),
      slots: SLOTS,
      slotBytes: SLOT_BYTES,
    };
    this.states = new Int32Array(this.shared.states);
    this.starts = new Float64Array(this.shared.starts);
    this.lengths = new Int32Array(this.shared.lengths);
    this.bytes = new Uint8Array(this.shared.bytes);
    for (let i = SLOTS - 1; i >= 0; i--) this.free.push(i);
  }

  /**
   * Records a request; returns its slot, or -1 when the table is full (the request is then not
   * covered). This runs for every request, so the fields are copied with a plain loop: building
   * one tab-joined string and handing it to Buffer#write measured ~1 µs a request, the loop ~0.1 µs.
   */
  record(fields: WatchdogFields): number {
    const slot = this.free.pop();
    if (slot === undefined) return -1;
    this.starts[slot] = fields.startTime;
    const start = slot * SLOT_BYTES;
    const end = start + SLOT_BYTES;
    // SLOT_FIELDS's order, written out: a loop over the names would be a keyed load per field on the
    // hot path. The unit test reads every field back through readSlot.
    let at = start;
    at = copyLatin1(this.bytes, at, end, fields.id);
    at = copyLatin1(this.bytes, at, end, fields.clientAddress);
    at = copyLatin1(this.bytes, at, end, fields.method);
    at = copyLatin1(this.bytes, at, end, fields.url);
    at = copyLatin1(this.bytes, at, end, fields.httpVersion);
    at = copyLatin1(this.bytes, at, end, fields.userAgent);
    at = copyLatin1(this.bytes, at, end, fields.referrer);
    this.lengths[slot] = at - start;
    Atomics.store(this.states, slot, SLOT_BUSY);
    return slot;
  }

  /** Frees a slot; true when the watchdog had already logged that request. */
  release(slot: number): boolean {
    if (slot < 0) return false;
    const previous = Atomics.exchange(this.states, slot, SLOT_FREE);
    this.free.push(slot);
    return previous === SLOT_LOGGED;
  }
}
