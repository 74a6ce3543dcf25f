/**
 * Redaction of secrets from log lines: values of secret-named environment variables, and
 * passwords inside URLs. Built once per process from the resolved config; applied to every
 * line keel writes (error log and access log).
 */
import { replaceUrlPasswords } from '../config/url-password.js';

export const REDACTED = '[REDACTED]';

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export type Redactor = (line: string) => string;

/** @example createRedactor(['hunter2'])('pw=hunter2') === 'pw=[REDACTED]' */
export function createRedactor(secrets: readonly string[]): Redactor {
  // Secrets also appear JSON-escaped inside JSON log lines, so match both spellings.
  const spellings = new Set<string>();
  for (const secret of secrets) {
    spellings.add(secret);
    spellings.add(JSON.stringify(secret).slice(1, -1));
  }
  const pattern = spellings.size ? new RegExp([...spellings].sort((a, b) => b.length - a.length).map(escapeRegExp).join('|'), 'g') : null;
  return function redact(line: string): string {
    return replaceUrlPasswords(pattern ? line.replace(pattern, REDACTED) : line, REDACTED);
  };
}
