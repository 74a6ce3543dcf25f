/**
 * Shared services that live in the primary, so every worker sees one state: rate-limit counters,
 * connection counts, response-cache entries. Workers reach them with `callPrimary` (one IPC round
 * trip); a service is a plain function of its arguments, synchronous or async.
 *
 * @example
 *   services.register(SERVICES.rateLimitTake, (args) => limiter.take(args as TakeArgs));
 */
import { type CallMessage, MSG, type ReplyMessage, type ServiceCall, type ServiceReply } from '../ipc.js';

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

  /**
   * Runs a worker's batch of calls and sends the answers back: those that are ready at once in one
   * message, each one that settles later in its own. A failing or unknown service answers with an
   * error, never throws here.
   */
  answer(message: CallMessage, send: (reply: ReplyMessage) => void): void {
    const ready: ServiceReply[] = [];
    for (const call of message.calls) {
      const reply = this.run(call, send);
      if (reply !== null) ready.push(reply);
    }
    if (ready.length > 0) send({ type: MSG.reply, replies: ready });
  }

  /** The reply to one call, or null when it will be sent on its own once the service settles. */
  private run(call: ServiceCall, send: (reply: ReplyMessage) => void): ServiceReply | null {
    const service = this.services.get(call.service);
    if (!service) return { id: call.id, error: `no service ${call.service}` };
    let result: unknown;
    try {
      result = service(call.args);
    } catch (err) {
      return { id: call.id, error: (err as Error).message };
    }
    if (result && typeof (result as Promise<unknown>).then === 'function') {
      (result as Promise<unknown>).then(
        (value) => send({ type: MSG.reply, replies: [{ id: call.id, result: value }] }),
        (err: unknown) => send({ type: MSG.reply, replies: [{ id: call.id, error: (err as Error)?.message ?? String(err) }] }),
      );
      return null;
    }
    return { id: call.id, result };
  }
}
