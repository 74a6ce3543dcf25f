/**
 * A password inside a URL (`scheme://user:password@host`, `scheme://:password@host`): the one
 * definition behind the redactor, the secret values taken from the environment, the words
 * `keel init` refuses to write into a unit file and doctor's audit, so all four agree on what a
 * credential in a URL looks like.
 *
 * The password stops at what cannot be inside it unencoded (`/ ? # @` and white space) and at a
 * double quote, so that one inside a JSON log line ends at the string's end.
 */
const PATTERN = /([a-z][a-z0-9+.-]*:\/\/[^/?#@\s:"]*:)([^/?#@\s"]+)@/i;
/** The same, global, for every URL in a text (replace starts from 0 itself; matchAll copies lastIndex, so it is reset). */
const EVERY = new RegExp(PATTERN.source, 'gi');

/** Whether `text` holds a URL with a password anywhere in it. */
export function hasUrlPassword(text: string): boolean {
  // No @, no credential: most text has none, and skips the expression.
  if (!text.includes('@')) return false;
  return PATTERN.test(text);
}

/** The passwords of every URL in `text`. */
export function urlPasswords(text: string): string[] {
  if (!text.includes('@')) return [];
  EVERY.lastIndex = 0;
  return [...text.matchAll(EVERY)].map((match) => match[2]!);
}

/** `text` with each URL's password replaced by `replacement`. */
export function replaceUrlPasswords(text: string, replacement: string): string {
  if (!text.includes('@')) return text;
  return text.replace(EVERY, (_match, head: string) => `${head}${replacement}@`);
}
