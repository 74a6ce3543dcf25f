#!/usr/bin/env -S node --
// Tiny launcher: the CLI lives in the build output so the primary process starts without a TypeScript loader.
// `--` ends Node's own options: without it Node reads keel's `--env-file FILE` as its own, loads
// the file itself and exits 9 when it is missing, before keel can name the setting (nodejs/node#58338).
import { main } from '../dist/cli/main.js';

main(process.argv.slice(2));
