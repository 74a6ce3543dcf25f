/**
 * Server-sent events (`text/event-stream`): what their client waits for is the head and then each
 * event as it is written, so no stage may hold either back (the HTTP/2 response's held head,
 * compression's held head and its buffering).
 */
const EVENT_STREAM = 'text/event-stream';

/** Whether a Content-Type value names an event stream (parameters and case ignored). */
export function isEventStream(type: unknown): boolean {
  return typeof type === 'string' && type.length >= EVENT_STREAM.length && type.slice(0, EVENT_STREAM.length).toLowerCase() === EVENT_STREAM;
}
