/**
 * When an upstream answers `Connection: close` (Gunicorn's sync workers do on every response),
 * undici ends the connection right after the handler's onComplete returns, by destroying the
 * socket with `new InformationalError('reset')`. Nobody ever sees that error (undici drops its
 * UND_ERR_INFO errors), yet capturing its stack, and formatting it when Node's stream destroy
 * reads `err.stack`, measured 25–35 % of keel's CPU per request proxied to such an upstream
 * (bench/cpu-per-request.sh against `gunicorn -w 2`, 493–524 µs before, 322–399 µs after).
 * undici has no option to skip it, so stack capture is switched off for the rest of the current
 * synchronous turn (undici's own code after onComplete) and back on in a microtask, before any
 * promise continuation or other callback runs.
 */
export function skipStacksForRestOfTurn(): void {
  const limit = Error.stackTraceLimit;
  if (limit === 0) return;
  Error.stackTraceLimit = 0;
  queueMicrotask(() => {
    Error.stackTraceLimit = limit;
  });
}
