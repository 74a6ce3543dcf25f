/**
 * The error log: pino, levelled JSON lines, written asynchronously, secrets redacted on the
 * way out, reopened on USR1 and flushed on exit. Levels use Gunicorn's names.
 */
import pino, { type Logger } from 'pino';
import type { LogLevel } from '../config/settings.js';
import { createRedactor } from './redact.js';

export type ErrorLog = Logger;

const PINO_LEVEL: Record<LogLevel, pino.Level> = {
  debug: 'debug',
  info: 'info',
  warning: 'warn',
  error: 'error',
  critical: 'fatal',
};

export interface ErrorLogOptions {
  readonly errorLogfile: string;
  readonly logLevel: LogLevel;
  readonly secrets: readonly string[];
  /** Names this process in every line: "primary" or "worker". */
  readonly role: string;
}

let destination: pino.DestinationStream & { reopen?: () => void; flushSync?: () => void } | null = null;

export function createErrorLog(options: ErrorLogOptions): ErrorLog {
  const redact = createRedactor(options.secrets);
  destination = pino.destination({
    dest: options.errorLogfile === '-' ? 2 : options.errorLogfile,
    sync: false,
    mkdir: true,
    minLength: 0,
  });
  return pino(
    {
      level: PINO_LEVEL[options.logLevel],
      base: { pid: process.pid, role: options.role },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label === 'warn' ? 'warning' : label === 'fatal' ? 'critical' : label }) },
      hooks: { streamWrite: redact },
    },
    destination,
  );
}

export function reopenErrorLog(): void {
  destination?.reopen?.();
}

export function flushErrorLog(): void {
  try {
    destination?.flushSync?.();
  } catch {
    // Nothing more can be done for a log that cannot be written at exit.
  }
}
