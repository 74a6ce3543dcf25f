/**
 * Prints doctor findings for people (grouped by severity, coloured when the terminal has colours)
 * or as JSON for machines, and gives the exit status: 1 when anything severe was found, so doctor
 * can gate a CI pipeline.
 */
import type { Finding, Severity } from './finding.js';

export interface Summary {
  readonly severe: number;
  readonly warning: number;
  readonly info: number;
}

const ORDER: readonly Severity[] = ['severe', 'warning', 'info'];
const HEADINGS: Readonly<Record<Severity, string>> = { severe: 'SEVERE', warning: 'WARNINGS', info: 'NOTES' };
const MARKS: Readonly<Record<Severity, string>> = { severe: '✖', warning: '!', info: 'i' };
// ANSI SGR: bold red, yellow, cyan; dim for the labels.
const COLOURS: Readonly<Record<Severity, string>> = { severe: '\x1b[1;31m', warning: '\x1b[33m', info: '\x1b[36m' };
const DIM = '\x1b[2m';
const BOLD = '\x1b[1m';
const RESET = '\x1b[0m';

export function exitStatusFor(findings: readonly Finding[]): number {
  return findings.some((f) => f.severity === 'severe') ? 1 : 0;
}

export function summarise(findings: readonly Finding[]): Summary {
  const counts = { severe: 0, warning: 0, info: 0 };
  for (const f of findings) counts[f.severity] += 1;
  return counts;
}

/**
 * Whether to colour the output, by the conventions of NO_COLOR (no-color.org) and FORCE_COLOR
 * (as chalk and Node read it): FORCE_COLOR wins when set (0 or false turns colour off), then
 * NO_COLOR (any non-empty value), then whether stdout is a terminal (and not TERM=dumb).
 *
 * @example useColour(process.stdout.isTTY, process.env)
 */
export function useColour(isTTY: boolean | undefined, env: NodeJS.ProcessEnv): boolean {
  const force = env.FORCE_COLOR;
  if (force !== undefined) return !/^(0|false)$/i.test(force.trim());
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return isTTY === true && env.TERM !== 'dumb';
}

/** "2 severe, 3 warnings, 1 note", or "nothing found". */
export function summaryLine(summary: Summary): string {
  if (summary.severe + summary.warning + summary.info === 0) return 'nothing found';
  const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
  return `${summary.severe} severe, ${plural(summary.warning, 'warning')}, ${plural(summary.info, 'note')}`;
}

/**
 * `{ findings: [...], summary: { severe, warning, info } }`, findings in report order, each with
 * id, severity, title, why, fix and (when known) where. The shape is stable for scripts.
 */
export function renderJson(findings: readonly Finding[]): string {
  const shaped = findings.map((f) => ({ id: f.id, severity: f.severity, title: f.title, why: f.why, fix: f.fix, ...(f.where !== undefined ? { where: f.where } : {}) }));
  return `${JSON.stringify({ findings: shaped, summary: summarise(findings) }, null, 2)}\n`;
}

export function renderText(findings: readonly Finding[], colour: boolean): string {
  const paint = (code: string, text: string): string => (colour ? `${code}${text}${RESET}` : text);
  const lines: string[] = [];
  for (const severity of ORDER) {
    const group = findings.filter((f) => f.severity === severity);
    if (group.length === 0) continue;
    lines.push(paint(COLOURS[severity], `${HEADINGS[severity]} (${group.length})`), '');
    for (const f of group) {
      lines.push(`${paint(COLOURS[severity], MARKS[severity])} ${paint(BOLD, f.title)}  ${paint(DIM, `[${f.id}]`)}`);
      lines.push(`  ${paint(DIM, 'why:')}   ${f.why}`);
      lines.push(`  ${paint(DIM, 'fix:')}   ${f.fix}`);
      if (f.where) lines.push(`  ${paint(DIM, 'where:')} ${f.where}`);
      lines.push('');
    }
  }
  const summary = summarise(findings);
  const tone = summary.severe > 0 ? COLOURS.severe : summary.warning > 0 ? COLOURS.warning : '\x1b[32m';
  lines.push(paint(tone, `keel doctor: ${summaryLine(summary)}`));
  return `${lines.join('\n')}\n`;
}
