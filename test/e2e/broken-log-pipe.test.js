// A log pipe whose reader has gone (a killed supervisor, a closed terminal, `keel serve | head`)
// fails every write with EPIPE. keel's processes flush the error log before they exit; that flush
// once retried such a write forever (sonic-boom 4's flushSync), so a TERM left keel running.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ROOT, isAlive, startKeel } from '../helpers/keel.js';
import { waitFor } from '../helpers/wait.js';

/** Resolves with { code, signal }, or with 'still running' (and kills it) after `ms`. */
function exitWithin(child, ms) {
  return new Promise((resolvePromise) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolvePromise('still running');
    }, ms);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal });
    });
  });
}

describe('an error log whose reader has gone', () => {
  it('the flush at exit gives up on EPIPE: a line still queued does not keep the process alive', async () => {
    // The fixture logs two lines in one turn (the second queued behind the first's write), then
    // flushes and exits: exactly what keel's primary does when its last worker exits.
    const child = spawn(process.execPath, [join(ROOT, 'test/fixtures/log-then-exit.mjs')], { stdio: ['pipe', 'ignore', 'pipe'] });
    child.stderr.destroy();
    // Tells the fixture the pipe is closed; exiting within 5 s is what matters, not how fast.
    setTimeout(() => child.stdin.end(), 200);
    assert.deepEqual(await exitWithin(child, 5_000), { code: 0, signal: null });
  });

  describe('keel serve', () => {
    let keel;
    after(() => keel?.stop());

    it('stops on TERM after its stdout and stderr readers have gone, workers included', async () => {
      keel = await startKeel('test/fixtures/sig-app.js', ['--access-logfile', '-'], { workers: 1 });
      const workers = keel.workerPids();
      keel.child.stdout.destroy();
      keel.child.stderr.destroy();
      // An access-log line and the shutdown lines: writes into the broken pipes.
      await fetch(`${keel.url}/`, { signal: AbortSignal.timeout(5_000) }).then((res) => res.text()).catch(() => {});
      process.kill(keel.pid, 'SIGTERM');
      assert.deepEqual(await keel.waitExit(15_000), { code: 0, signal: null });
      for (const pid of workers) await waitFor(() => !isAlive(pid), { what: `worker ${pid} to be gone` });
    });
  });
});
