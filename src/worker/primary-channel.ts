/**
 * The worker's side of the primary's shared services: `call` sends one IPC message and resolves
 * with the primary's answer. If the primary is gone, calls reject at once instead of hanging.
 */
import { type CallMessage, MSG, type ReplyMessage, isMessage } from '../ipc.js';

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

export class PrimaryChannel {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor() {
    process.on('message', (message: unknown) => {
      if (!isMessage<ReplyMessage>(message, MSG.reply)) return;
      const waiting = this.pending.get(message.id);
      if (!waiting) return;
      this.pending.delete(message.id);
      if (message.error !== undefined) waiting.reject(new Error(message.error));
      else waiting.resolve(message.result);
    });
    process.on('disconnect', () => {
      for (const waiting of this.pending.values()) waiting.reject(new Error('the primary is gone'));
      this.pending.clear();
    });
  }

  call<T>(service: string, args: unknown): Promise<T> {
    if (!process.connected) return Promise.reject(new Error('the primary is gone'));
    const id = this.nextId++;
    const message: CallMessage = { type: MSG.call, id, service, args };
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      process.send!(message);
    });
  }
}
