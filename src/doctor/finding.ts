/**
 * A doctor finding: what is wrong, how bad, why it matters, and the exact flag or line that fixes
 * it. Every check in src/doctor returns these; the report prints them and sets the exit status.
 */
export type Severity = 'severe' | 'warning' | 'info';

export interface Finding {
  /** Stable id, kebab-case, for --json consumers and tests: `public-bind-without-tls`. */
  readonly id: string;
  readonly severity: Severity;
  /** One line: what was found. */
  readonly title: string;
  /** Why it matters, in a sentence or two. */
  readonly why: string;
  /** The exact flag, config line or command that fixes it. */
  readonly fix: string;
  /** Where it was seen: a setting, a file, a URL. */
  readonly where?: string;
}
