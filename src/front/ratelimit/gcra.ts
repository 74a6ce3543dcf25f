/**
 * GCRA, the generic cell rate algorithm: a leaky bucket kept as one number per client, the
 * theoretical arrival time (TAT) of the next request. It is what Nginx's
 * `limit_req rate=R burst=B nodelay` does: B+1 requests may come at once, then one every 1/R s.
 * Pure functions of numbers, shared by the primary's store and mirrored by the Redis script, so
 * both decide alike.
 *
 * Times are milliseconds on any clock that does not go backwards; a TAT at or before `now` means a
 * full bucket, which needs no record at all (a missing TAT reads as `now`).
 *
 * @example
 *   const interval = intervalMs(rule.rate), tolerance = toleranceMs(rule.rate, rule.burst);
 *   const wait = gcraWait(tat, now, tolerance);
 *   if (wait === 0) tat = gcraNext(tat, now, interval); else refuse(retryAfterSeconds(wait));
 */

/** Milliseconds between two requests at `rate` requests per second: the emission interval. */
export function intervalMs(rate: number): number {
  return 1000 / rate;
}

/** How far ahead of `now` the TAT may run before requests are refused: `burst` intervals. */
export function toleranceMs(rate: number, burst: number): number {
  return burst * intervalMs(rate);
}

/**
 * 0 when a request at `now` is allowed, else the milliseconds until one would be.
 * @param tat the stored TAT, or any value ≤ now (e.g. 0) for a client with no record.
 */
export function gcraWait(tat: number, now: number, tolerance: number): number {
  const allowAt = tat - tolerance;
  return allowAt > now ? allowAt - now : 0;
}

/** The TAT to store after allowing a request at `now`. */
export function gcraNext(tat: number, now: number, interval: number): number {
  return (tat > now ? tat : now) + interval;
}

/** The Retry-After value for a wait: whole seconds, rounded up, at least 1 (HTTP has no fractions). */
export function retryAfterSeconds(waitMs: number): number {
  const seconds = Math.ceil(waitMs / 1000);
  return seconds < 1 ? 1 : seconds;
}
