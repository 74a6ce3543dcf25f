/**
 * Hop-by-hop headers (RFC 9110 §7.6.1): they describe one connection, not the message, so a proxy
 * drops them in both directions, along with every header the Connection header names. Names are
 * compared lower-case; the checks go by length first, so most headers cost one integer switch.
 */

/** Headers never passed on, whatever Connection says. `te` is rebuilt (trailers only), `upgrade` by the upgrade path. */
export function isHopByHop(lower: string): boolean {
  switch (lower.length) {
    case 2:
      return lower === 'te';
    case 7:
      return lower === 'trailer' || lower === 'upgrade';
    case 10:
      return lower === 'connection' || lower === 'keep-alive';
    case 16:
      return lower === 'proxy-connection';
    case 17:
      return lower === 'transfer-encoding';
    default:
      return false;
  }
}

/**
 * The header names a Connection header lists (`Connection: close, X-Foo`), lower-case, without
 * `close`/`keep-alive`/`upgrade`, which are hop-by-hop anyway. null when it names nothing else:
 * the common case allocates nothing.
 */
export function connectionTokens(value: string, into: string[] | null): string[] | null {
  let start = 0;
  for (let i = 0; i <= value.length; i++) {
    if (i < value.length && value.charCodeAt(i) !== 44) continue; // ','
    const token = value.slice(start, i).trim().toLowerCase();
    start = i + 1;
    if (token === '' || token === 'close' || token === 'keep-alive' || token === 'upgrade') continue;
    (into ??= []).push(token);
  }
  return into;
}
