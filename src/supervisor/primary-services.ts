/**
 * Shared services that live in the primary, so every worker sees one state: rate-limit counters,
 * connection counts, response-cache entries. Workers reach them with `callPrimary` (one IPC round
 * trip); a service is a plain function of its arguments, synchronous or async.
 *
 * @example
 *   services.register(SERVICES.rateLimitTake, (args) => limiter.take(args as TakeArgs));
 */
import { type CallMessage, MSG, type ReplyMessage } from '../ipc.js';

/** Names of the services, in one place. */
export const SERVICES = {
  rateLimitTake: 'rate-limit.take',
  connectionOpen: 'connections.open',
  connectionClose: 'connections.close',
  cacheGet: 'cache.get',
  cacheSet: 'cache.set',
  cacheLock: 'cache.lock',
  cacheUnlock: 'cache.unlock',
} as const;

export type Service = (args: unknown) => unknown;

export class PrimaryServices {
  private readonly services = new Map<string, Service>();

  register(name: string, service: Service): void {
    this.services.set(name, service);
  }

  /** Runs a worker's call and sends the answer back; a failing or unknown service answers with an error, never throws here. */
  answer(message: CallMessage, send: (reply: ReplyMessage) => void): void {
    const service = this.services.get(message.service);
    if (!service) {
      send({ type: MSG.reply, id: message.id, error: `no service ${message.service}` });
      return;
    }
    let result: unknown;
    try {
      result = service(message.args);
    } catch (err) {
      send({ type: MSG.reply, id: message.id, error: (err as Error).message });
      return;
    }
    if (result && typeof (result as Promise<unknown>).then === 'function') {
      (result as Promise<unknown>).then(
        (value) => send({ type: MSG.reply, id: message.id, result: value }),
        (err: unknown) => send({ type: MSG.reply, id: message.id, error: (err as Error)?.message ?? String(err) }),
      );
    } else {
      send({ type: MSG.reply, id: message.id, result });
    }
  }
}
