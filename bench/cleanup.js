// One place that knows everything the run has left lying around (process
// groups, PM2 daemons, temp dirs), so Ctrl-C or a crash midway leaves nothing.
const tasks = [];
const lastResort = new Set();
let cleaning = false;
let interrupted = false;

// fn: async undo step, safe to call more than once (the owner may be running
// it already when a signal arrives). killSync: optional synchronous fallback for 'exit',
// when there is no event loop left to await fn.
export function onCleanup(fn, killSync) {
  const entry = { fn, killSync };
  if (cleaning) {
    // Registered after cleanup began (e.g. a child spawned during Ctrl-C): undo at once.
    fn().catch(() => {});
    return () => {};
  }
  tasks.push(entry);
  if (killSync) lastResort.add(killSync);
  return () => {
    const i = tasks.indexOf(entry);
    if (i >= 0) tasks.splice(i, 1);
    if (killSync) lastResort.delete(killSync);
  };
}

let cleanup = null;

// Shared promise: a signal and the normal end of run.js may both ask for
// cleanup, and neither may exit the process before it has finished.
export function runCleanup() {
  cleaning = true;
  cleanup ??= (async () => {
    while (tasks.length) {
      const { fn, killSync } = tasks.pop();
      try {
        await fn();
      } catch (err) {
        console.error(`cleanup: ${err.message}`);
      }
      if (killSync) lastResort.delete(killSync);
    }
  })();
  return cleanup;
}

// True once a signal asked the run to stop; the normal end of a run is not an abort.
export function isAborting() {
  return interrupted;
}

export function installSignalHandlers() {
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, async () => {
      if (interrupted) {
        console.error(`\n${sig}: still cleaning up, please wait`);
        return;
      }
      interrupted = true;
      console.error(`\n${sig}: stopping servers and cleaning up (partial results are not saved)`);
      await runCleanup();
      process.exit(130);
    });
  }
  process.on('exit', () => {
    for (const kill of lastResort) {
      try {
        kill();
      } catch {}
    }
  });
}
