/**
 * The command-line parser: commander, with every serve option generated from the settings table.
 * commander only collects strings; values are parsed and validated by the table in src/config.
 */
import { Command, Option } from 'commander';
import { type Setting, envName, settings } from '../config/settings.js';

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function helpFor(entry: Setting<string, unknown>): string {
  const env = entry.cliOnly ? '' : `; env ${envName(entry)}`;
  const fallback = entry.defaultText ?? (typeof entry.default === 'function' ? '' : entry.type.show ? entry.type.show(entry.default as never) : String(entry.default));
  return `${entry.help} [default: ${fallback === '' || fallback === 'null' ? 'none' : fallback}${env}]`;
}

/** Adds every setting of the table to a command as an option. */
export function addSettingOptions(command: Command): Command {
  for (const entry of settings as readonly Setting<string, unknown>[]) {
    const flags = `${entry.short ? `-${entry.short}, ` : ''}--${entry.flag}${entry.switch ? '' : ' <value>'}`;
    const option = new Option(flags, helpFor(entry));
    if (entry.repeatable) option.argParser(collect);
    command.addOption(option);
  }
  return command;
}

export function buildProgram(version: string): Command {
  const program = new Command('keel')
    .description('A production server for Node.js and TypeScript web apps.')
    .version(version, '-v, --version')
    .showSuggestionAfterError(true)
    .exitOverride();
  addSettingOptions(
    program
      .command('serve')
      .description('Serve APP with a primary process and pre-forked workers.')
      .argument('[APP]', 'path/to/file[:export] or path/to/file:factory() (default export, then `app`)')
      .exitOverride(),
  );
  addSettingOptions(
    program
      .command('dev')
      .description('Development mode: loopback only, reload on change, rich error page. Never for production.')
      .argument('[APP]', 'path/to/file[:export] or path/to/file:factory()')
      .exitOverride(),
  );
  addSettingOptions(
    program
      .command('doctor')
      .description('Audit the effective configuration and this host for production risks, or probe a running server with --url.')
      .argument('[APP]', 'the app keel serve would run (optional)')
      .option('--url <url>', 'probe a running server from outside instead of auditing the config')
      .option('--json', 'print findings as JSON')
      .exitOverride(),
  );
  addSettingOptions(
    program
      .command('init')
      .description('Write deployment files filled from the effective config: systemd, docker or kubernetes.')
      .argument('<target>', 'systemd | docker | kubernetes')
      .argument('[APP]', 'the app keel serve runs')
      .option('--out <dir>', 'directory to write the files into [default: the working directory]')
      .option('--force', 'overwrite files that already exist')
      .exitOverride(),
  );
  return program;
}
