/**
 * The worker's side of the primary's shared services: `call` resolves with the primary's answer.
 * The calls made in one turn of the event loop (every request that became readable in one poll)
 * go out as one IPC message, flushed by setImmediate, and come back as one: under load that is one
 * round trip for many rate-limit checks or cache lookups instead of one each. If the primary is
 * gone, calls reject at once instead of hanging.
 */
import { type CallMessage, MSG, type ReplyMessage, type ServiceCall, isMessage } from '../ipc.js';

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

export class PrimaryChannel {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private queue: ServiceCall[] = [];
  private scheduled = false;

  constructor() {
    process.on('message', (message: unknown) => {
      if (!isMessage<ReplyMessage>(message, MSG.reply)) return;
      for (const reply of message.replies) {
        const waiting = this.pending.get(reply.id);
        if (!waiting) continue;
        this.pending.delete(reply.id);
        if (reply.error !== undefined) waiting.reject(new Error(reply.error));
        else waiting.resolve(reply.result);
      }
    });
    process.on('disconnect', () => {
      for (const waiting of this.pending.values()) waiting.reject(new Error('the primary is gone'));
      this.pending.clear();
      this.queue = [];
    });
  }

  call<T>(service: string, args: unknown): Promise<T> {
    if (!process.connected) return Promise.reject(new Error('the primary is gone'));
    const id = this.nextId++;
    this.queue.push({ id, service, args });
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
    });
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    const calls = this.queue;
    this.queue = [];
    if (calls.length === 0) return;
    if (!process.connected) {
      for (const call of calls) {
        this.pending.get(call.id)?.reject(new Error('the primary is gone'));
        this.pending.delete(call.id);
      }
      return;
    }
    const message: CallMessage = { type: MSG.call, calls };
    process.send!(message);
  };
}
