#!/usr/bin/env node
// Tiny launcher: the CLI lives in the build output so the primary process starts without a TypeScript loader.
import { main } from '../dist/cli/main.js';

main(process.argv.slice(2));
