/**
 * The CLI entry: parse, dispatch, and turn every expected failure into one line and its exit status.
 */
import { CommanderError } from 'commander';
import { EXIT, isKeelError } from '../errors.js';
import { buildProgram } from './program.js';
import { KEEL_VERSION } from './version.js';

function fail(message: string, code: number): never {
  process.stderr.write(`keel: ${message}\n`);
  process.exit(code);
}

// Each command's module loads when that command runs: `keel serve` need not load the doctor's
// probes or the deploy templates, and `--help` none of them.
export async function main(argv: string[]): Promise<void> {
  const program = buildProgram(KEEL_VERSION);
  const serveCommand = program.commands.find((c) => c.name() === 'serve')!;
  serveCommand.action(async (app: string | undefined, options: Record<string, string | string[] | boolean>) => {
    const { serve } = await import('./serve.js');
    await serve({ appArg: app ?? null, cli: options });
  });
  const command = (name: string) => program.commands.find((c) => c.name() === name)!;
  command('dev').action(async (app: string | undefined, options: Record<string, string | string[] | boolean>) => {
    const { dev } = await import('./dev.js');
    await dev({ appArg: app ?? null, cli: options });
  });
  command('doctor').action(async (app: string | undefined, options: Record<string, string | string[] | boolean>) => {
    const { url, json, ...cli } = options;
    const { doctor } = await import('./doctor.js');
    process.exitCode = await doctor({ appArg: app ?? null, cli, url: typeof url === 'string' ? url : null, json: json === true });
  });
  command('init').action(async (target: string, app: string | undefined, options: Record<string, string | string[] | boolean>) => {
    const { out, force, ...cli } = options;
    const { init } = await import('./init.js');
    await init({ target, appArg: app ?? null, cli, out: typeof out === 'string' ? out : null, force: force === true });
  });
  // One `keel: ...` line, as for every other usage error; set on serve too, which copied the
  // program's output settings when it was created.
  const output = {
    writeErr: (text: string) =>
      process.stderr.write(text.startsWith('error:') ? `keel: ${text.slice(7).replace(/\n\(Did you mean (.+)\?\)\n?$/, '; did you mean $1?\n')}` : text),
  };
  program.configureOutput(output);
  for (const sub of program.commands) sub.configureOutput(output);
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') process.exit(EXIT.ok);
      // commander already printed its message; usage errors share the config errors' status.
      process.exit(EXIT.usage);
    }
    if (isKeelError(err)) fail(err.message, err.exitCode);
    fail(`unexpected error: ${(err as Error)?.stack ?? String(err)}`, EXIT.failure);
  }
}
