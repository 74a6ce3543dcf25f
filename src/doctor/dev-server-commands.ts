/**
 * Recognises commands that start a development server: file watchers, hot reloaders and debug
 * modes, which are slow, leak stack traces or worse, and restart on any file change.
 */

/** [pattern, what it is]; a pattern matches one command of a shell line (no `&&`, `|` or `;` inside). */
const DEV_SERVERS: ReadonlyArray<readonly [RegExp, string]> = [
  [/\bkeel\s+dev\b/, 'keel dev'],
  [/\bnodemon\b/, 'nodemon'],
  [/\bts-node-dev\b|\btsnd\b/, 'ts-node-dev'],
  [/\bnode\b.*\s--watch(-path)?\b/, 'node --watch'],
  [/\btsx\s+(watch\b|.*\s--watch\b)/, 'tsx watch'],
  [/\bbun\b.*\s--(watch|hot)\b/, 'bun --watch'],
  [/\bnext\s+dev\b/, 'next dev'],
  [/\b(nuxt|nuxi)\s+dev\b/, 'nuxt dev'],
  [/\bastro\s+dev\b/, 'astro dev'],
  [/\bremix\s+(vite:)?dev\b/, 'remix dev'],
  [/\bsvelte-kit\s+dev\b/, 'svelte-kit dev'],
  [/\bvite(?:-node)?\b(?!\s+(build|preview|optimize))/, 'vite'],
  [/\bwebpack-dev-server\b|\bwebpack\s+(serve|s)\b/, 'webpack dev server'],
  [/\breact-scripts\s+start\b/, 'react-scripts start'],
  [/\bng\s+serve\b/, 'ng serve'],
  [/\bnest\s+start\b.*\s--watch\b/, 'nest start --watch'],
  [/\bflask\b.*\s--debug\b|\bflask\b.*\brun\b.*\s--reload\b/, 'flask --debug'],
  [/\bmanage\.py\s+runserver\b|\bdjango-admin\s+runserver\b/, 'Django runserver'],
  [/\b(uvicorn|gunicorn|hypercorn)\b.*\s--reload\b/, '--reload'],
];

/** Splits a shell line into its commands, roughly: `a && b | c; d`. */
function commandsOf(line: string): string[] {
  return line.split(/&&|\|\||[|;&]/).map((c) => c.trim()).filter((c) => c !== '');
}

/**
 * The development server a shell line starts, or null.
 *
 * @example devServerIn('tsc && nodemon dist/app.js') // 'nodemon'
 */
export function devServerIn(line: string): string | null {
  for (const command of commandsOf(line)) {
    for (const [pattern, name] of DEV_SERVERS) if (pattern.test(command)) return name;
  }
  return null;
}

/**
 * The package.json script that `npm start` runs, following one `npm run X` / `yarn X` / `pnpm X`
 * indirection, and the dev server it starts: { script, command, server } or null.
 *
 * @example devServerInScripts({ start: 'npm run dev', dev: 'vite' }) // { script: 'dev', command: 'vite', server: 'vite' }
 */
export function devServerInScripts(scripts: Readonly<Record<string, unknown>>): { script: string; command: string; server: string } | null {
  const seen = new Set<string>();
  let name = 'start';
  while (typeof scripts[name] === 'string' && !seen.has(name)) {
    seen.add(name);
    const command = scripts[name] as string;
    const server = devServerIn(command);
    if (server) return { script: name, command, server };
    const next = /^(?:npm\s+run(?:-script)?|yarn(?:\s+run)?|pnpm(?:\s+run)?|bun\s+run)\s+([\w:.-]+)\s*$/.exec(command.trim());
    if (!next) break;
    name = next[1];
  }
  return null;
}
