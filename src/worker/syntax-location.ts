/**
 * Where a syntax error is, for `keel dev`. Node's ES module loader throws a SyntaxError whose stack
 * has no file or line (Node prints them only for an uncaught error), so dev asks `node --check`,
 * which prints "file:line", the line and a caret. Only on a load failure, only in dev.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';

/** Longest a check may take: it parses one file. */
const CHECK_TIMEOUT_MS = 5000;

/** True for a SyntaxError whose stack names no place (what Node's ESM loader throws). */
function lacksLocation(err: unknown): err is SyntaxError {
  return err instanceof SyntaxError && !/^(?:file:\/\/)?\/\S+:\d+/m.test(err.stack ?? '');
}

/**
 * Puts the location `node --check` reports in front of the stack of a SyntaxError (err or its
 * cause) that has none; resolves when done, whatever happens.
 *
 * @example await addSyntaxLocation(err, '/srv/app/app.js');
 */
export function addSyntaxLocation(err: unknown, file: string): Promise<void> {
  const cause = (err as { cause?: unknown })?.cause;
  const target = lacksLocation(err) ? err : lacksLocation(cause) ? cause : null;
  if (!target) return Promise.resolve();
  return new Promise((resolve) => {
    // The loader took the file as an ES module, so it is checked as one; from stdin, because
    // `node --check file` skips module syntax detection on Node 22.
    const child = execFile(process.execPath, ['--input-type=module', '--check'], { timeout: CHECK_TIMEOUT_MS, encoding: 'utf8' }, (_error, _stdout, stderr) => {
      // The report is "[stdin]:line", the source line, a caret, then the error; keep the part before the error.
      const place = stderr.split(/\n\s*\n/)[0];
      if (/^\[stdin\]:\d+$/m.test(place)) target.stack = `${place.replace('[stdin]', file)}\n\n${target.stack ?? ''}`;
      resolve();
    });
    child.stdin?.on('error', () => {});
    readFile(file)
      .then((source) => child.stdin?.end(source))
      .catch(() => child.kill());
  });
}
