// Every peer must serve the exact same handler, or the ratios compare apps
// rather than servers. The harness resolves the path once and passes it down
// in BENCH_HANDLER so a file appearing mid-run cannot split the peers.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const EXAMPLE_APP = fileURLToPath(new URL('../../examples/hello/app.ts', import.meta.url));
export const FALLBACK_APP = fileURLToPath(new URL('./hello-handler.js', import.meta.url));

export function handlerPath() {
  if (process.env.BENCH_HANDLER) return process.env.BENCH_HANDLER;
  return existsSync(EXAMPLE_APP) ? EXAMPLE_APP : FALLBACK_APP;
}

export async function loadHandler(file = handlerPath()) {
  // .ts loads through Node's type stripping (Node >= 23.6 / the pinned node@24).
  const mod = await import(pathToFileURL(file).href);
  if (typeof mod.default !== 'function') {
    throw new Error(`${file}: default export is not a (req, res) request listener`);
  }
  return mod.default;
}
