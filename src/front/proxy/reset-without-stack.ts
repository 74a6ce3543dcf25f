/**
 * When an upstream closes the connection after a response (`Connection: close`, as Gunicorn's sync
 * workers answer every request), undici ends it right after the handler's onComplete returns, by
 * destroying the socket with `new InformationalError('reset')`. Nobody ever sees that error (undici
 * drops its UND_ERR_INFO errors), yet capturing its stack, and formatting it when Node's stream
 * destroy reads `err.stack`, was the largest single cost of proxying to such an upstream.
 * undici has no option to skip it, so onComplete switches stack capture off for the rest of the
 * current synchronous turn, which is undici's own bookkeeping after onComplete, and a microtask
 * switches it back on before any promise continuation or other callback runs. It does so after
 * every response, not only those whose head said close: undici also resets for HTTP/1.0 answers
 * and its own reasons, and checking the head first measured the same.
 * bench/cpu-per-request.sh against `gunicorn -w 2`, keel -w 1, 3 interleaved runs each: 478–568 µs
 * of worker CPU per request before, 362–465 µs after.
 */
export function skipStacksForRestOfTurn(): void {
  const limit = Error.stackTraceLimit;
  if (limit === 0) return;
  Error.stackTraceLimit = 0;
  queueMicrotask(() => {
    Error.stackTraceLimit = limit;
  });
}
