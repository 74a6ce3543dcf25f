#!/usr/bin/env -S node --
// Tiny launcher: the CLI lives in the build output so the primary process starts without a TypeScript loader.
// `--` ends Node's own options: without it Node reads keel's `--env-file FILE` as its own, loads
// the file itself and exits 9 when it is missing, before keel can name the setting (nodejs/node#58338).

// An older Node gets one clear line instead of a TypeError from deep inside (package.json's
// engines only warns, at install time). Kept in sync with engines.node.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 12)) {
  process.stderr.write(`keel: needs Node.js 22.12 or later; this is ${process.version} (${process.execPath}).\n`);
  process.exit(2);
}

const { main } = await import('../dist/cli/main.js');
main(process.argv.slice(2));
