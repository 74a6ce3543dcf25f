/**
 * A managed upstream's stdout and stderr become error-log records, one per line: a line is what
 * the program meant as one message, where a pipe chunk may hold half a line or fifty.
 */
import { StringDecoder } from 'node:string_decoder';

/** Longer lines are cut here (and the rest logged as the next record), so one runaway line cannot hold memory. */
export const MAX_LINE_CHARS = 16 * 1024;

export type OutputLevel = 'debug' | 'info' | 'warn' | 'error' | 'fatal';

/**
 * Splits a byte stream into lines: `\n` or `\r\n` ends one, UTF-8 split across chunks is kept whole,
 * and a line longer than `max` characters is emitted in pieces of `max`.
 *
 * @example
 *   const lines = new LineSplitter((line) => log.info(line));
 *   child.stdout.on('data', (chunk) => lines.push(chunk));
 *   child.stdout.on('end', () => lines.end());
 */
export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private pending = '';

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly max = MAX_LINE_CHARS,
  ) {}

  push(chunk: Buffer | string): void {
    let text = this.pending + (typeof chunk === 'string' ? chunk : this.decoder.write(chunk));
    let start = 0;
    for (let nl = text.indexOf('\n', start); nl >= 0; nl = text.indexOf('\n', start)) {
      this.emit(text.slice(start, nl > start && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl));
      start = nl + 1;
    }
    text = text.slice(start);
    while (text.length > this.max) {
      this.onLine(text.slice(0, this.max));
      text = text.slice(this.max);
    }
    this.pending = text;
  }

  /** The stream ended: a last line without its newline is still a line. */
  end(): void {
    const rest = this.pending + this.decoder.end();
    this.pending = '';
    if (rest !== '') this.emit(rest);
  }

  private emit(line: string): void {
    if (line.length <= this.max) return this.onLine(line);
    for (let at = 0; at < line.length; at += this.max) this.onLine(line.slice(at, at + this.max));
  }
}

const LEVEL_WORDS: Record<string, OutputLevel> = {
  DEBUG: 'debug',
  INFO: 'info',
  WARNING: 'warn',
  WARN: 'warn',
  ERROR: 'error',
  CRITICAL: 'fatal',
  FATAL: 'fatal',
};
// Gunicorn writes `[2026-01-01 10:00:00 +0000] [42] [INFO] Booting worker`; many loggers write `[ERROR]` or `ERROR:` near the start.
const LEVEL_MARK = /(?:^|[\s\]])\[?(DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL)[\]:]/;

/**
 * The level a line is logged at: the program's own level word when it writes one near the start
 * (Gunicorn logs everything, INFO included, to stderr), else info for stdout and warning for stderr.
 */
export function levelOfLine(line: string, stream: 'stdout' | 'stderr'): OutputLevel {
  const mark = LEVEL_MARK.exec(line.length > 80 ? line.slice(0, 80) : line);
  if (mark) return LEVEL_WORDS[mark[1]];
  return stream === 'stdout' ? 'info' : 'warn';
}
