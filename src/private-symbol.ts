/**
 * Node's HTTP/2 compatibility API and Fastify keep a few things keel needs behind private symbols
 * with no public way in. Each is looked up once, by the symbol's description, and checked; a
 * library release that renames it yields null, and the caller falls back to the slower or stricter
 * path rather than guess.
 */
export function symbolByDescription(object: object, description: string, check: (value: unknown) => boolean = () => true): symbol | null {
  const fields = object as Record<symbol, unknown>;
  return Object.getOwnPropertySymbols(object).find((symbol) => symbol.description === description && check(fields[symbol])) ?? null;
}
