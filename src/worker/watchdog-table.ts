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

/** Field order in a slot, tab-separated. */
export const SLOT_FIELDS = ['id', 'clientAddress', 'method', 'url', 'httpVersion', 'userAgent', 'referrer'] as const;

export class WatchdogTable {
  readonly shared: WatchdogTableShared;
  private readonly states: Int32Array;
  private readonly starts: Float64Array;
  private readonly lengths: Int32Array;
  private readonly bytes: Buffer;
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
    this.bytes = Buffer.from(this.shared.bytes);
    for (let i = SLOTS - 1; i >= 0; i--) this.free.push(i);
  }

  /** Records a request; returns its slot, or -1 when the table is full (the request is then not covered). */
  record(startTime: number, fields: string): number {
    const slot = this.free.pop();
    if (slot === undefined) return -1;
    this.starts[slot] = startTime;
    // latin1: URL and header strings arrive one char per byte, so nothing is lost and nothing is encoded.
    this.lengths[slot] = this.bytes.write(fields, slot * SLOT_BYTES, SLOT_BYTES, 'latin1');
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
