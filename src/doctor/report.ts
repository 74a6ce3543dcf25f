/**
 * Prints doctor findings for people (colours when the terminal has them) or as JSON for machines,
 * and gives the exit status: 1 when anything severe was found, so doctor can gate a CI pipeline.
 */
import type { Finding } from './finding.js';

export function exitStatusFor(findings: readonly Finding[]): number {
  return findings.some((f) => f.severity === 'severe') ? 1 : 0;
}

export function renderJson(findings: readonly Finding[]): string {
  return `${JSON.stringify({ findings, severe: findings.filter((f) => f.severity === 'severe').length }, null, 2)}\n`;
}

export function renderText(findings: readonly Finding[], _colour: boolean): string {
  if (findings.length === 0) return 'keel doctor: nothing found\n';
  return findings.map((f) => `${f.severity.toUpperCase()} ${f.title}\n  why: ${f.why}\n  fix: ${f.fix}\n`).join('');
}
