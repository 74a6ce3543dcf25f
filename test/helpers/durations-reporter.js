// A node:test reporter for `KEEL_TEST_DURATIONS=1 npm test`: the time each file's top-level tests
// took, slowest first, to see where the suite's minutes go (CI should stay well under 15).
// The spec reporter prints per-test times, but scattered over thousands of lines.
export default async function* durations(source) {
  const files = new Map();
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const { file, nesting, details } = event.data;
    if (!file || nesting !== 0) continue;
    const entry = files.get(file) ?? { ms: 0, failed: 0 };
    entry.ms += details?.duration_ms ?? 0;
    if (event.type === 'test:fail') entry.failed++;
    files.set(file, entry);
  }
  const rows = [...files].sort((a, b) => b[1].ms - a[1].ms);
  const total = rows.reduce((sum, [, { ms }]) => sum + ms, 0);
  yield `\n# time per file (its top-level tests, added up; files run two at a time): ${(total / 1000).toFixed(0)} s in all\n`;
  for (const [file, { ms, failed }] of rows) {
    yield `${(ms / 1000).toFixed(1).padStart(7)} s  ${file.replace(/^.*?\/test\//, 'test/')}${failed ? `  (${failed} failed)` : ''}\n`;
  }
}
