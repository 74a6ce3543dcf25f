/**
 * `keel init systemd`: a keel.service unit that runs `keel serve` as the effective config says,
 * under a non-root user, restarted on failure, reloaded with HUP, stopped with time to drain,
 * and locked down with systemd's sandboxing.
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import type { ResolvedConfig } from '../config/resolve.js';
import { type DeployPlan, appArgument, listenAddresses, shutdownSeconds } from './deploy-plan.js';
import { type SecretSetting, serveArguments } from './serve-arguments.js';

export interface SystemdInput {
  /** Absolute path of the node binary to run. */
  readonly node: string;
  /** Absolute path of keel's bin/keel.js. */
  readonly keel: string;
}

/** Where the unit reads secret settings from; created by the operator, never by init. */
export const ENV_FILE = '/etc/keel/keel.env';
/** Extra seconds systemd waits past keel's own shutdown budget before it SIGKILLs. */
const STOP_MARGIN_S = 5;
/** Where ACME state goes when --https needs one and no --state-dir was given (StateDirectory=keel). */
const STATE_DIRECTORY = '/var/lib/keel';
const LOGS_DIRECTORY = '/var/log/keel';

/**
 * One word of a systemd command line: bare when safe, else double-quoted. `%` starts a specifier
 * and `$` a variable in systemd, so both are doubled to stay literal.
 */
export function systemdWord(word: string): string {
  const escaped = word.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  if (/^[A-Za-z0-9_@+=:,./%$-]+$/.test(word)) return escaped;
  return `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** A value outside command lines (a path, a description): taken literally except for specifiers. */
function systemdText(text: string): string {
  return text.replace(/%/g, '%%');
}

/** A command line with one flag and its value per continued line, for a unit that reads at a glance. */
function commandLines(words: readonly string[]): string {
  return words.map((word, i) => (i > 0 && word.startsWith('--') ? ` \\\n    ${systemdWord(word)}` : `${i > 0 ? ' ' : ''}${systemdWord(word)}`)).join('');
}

function isFilePath(value: string): boolean {
  return value !== '-' && value !== 'off';
}

/** Directories keel writes to: log files, the pid file, unix sockets, ACME state. */
function writablePaths(config: ResolvedConfig, stateDir: string | null): string[] {
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(config.cwd, p));
  const dirs = new Set<string>();
  for (const file of [config.accessLogfile, config.errorLogfile]) if (isFilePath(file)) dirs.add(dirname(abs(file)));
  if (config.pid) dirs.add(dirname(abs(config.pid)));
  for (const bind of listenAddresses(config)) if (bind.kind === 'unix') dirs.add(dirname(abs(bind.path)));
  if (stateDir && stateDir !== STATE_DIRECTORY) dirs.add(abs(stateDir));
  return [...dirs].sort();
}

/** Paths keel reads at run time, to decide which parts of the file system the sandbox may hide. */
function readPaths(config: ResolvedConfig, input: SystemdInput, writable: readonly string[]): string[] {
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(config.cwd, p));
  const paths = [config.cwd, input.node, input.keel, ...writable];
  if (config.app) paths.push(config.app.file);
  for (const route of config.routeTable) if (route.kind === 'static') paths.push(route.root);
  for (const file of [config.certfile, config.keyfile, config.caCerts, ...config.cert.flatMap((c) => [c.certfile, c.keyfile]), ...config.envFile]) {
    if (file) paths.push(abs(file));
  }
  return paths;
}

const under = (paths: readonly string[], roots: readonly string[]): boolean => paths.some((p) => roots.some((root) => p === root || p.startsWith(`${root}/`)));

/**
 * Builds keel.service (and keel.env.example when secret settings need values).
 *
 * @example
 *   renderSystemdUnit(config, { node: process.execPath, keel: '/srv/app/node_modules/keel/bin/keel.js' })
 */
export function renderSystemdUnit(config: ResolvedConfig, input: SystemdInput): DeployPlan {
  const notes: string[] = [];
  // ACME account and certificates must outlive restarts; the default under ~ is hidden by ProtectHome.
  const needsState = config.https !== 'off';
  const stateDir = config.stateDir ?? (needsState ? STATE_DIRECTORY : null);
  // systemd starts keel as the service user, so keel itself must not switch users (--user needs root).
  const { args, secrets } = serveArguments(config, {
    app: config.app ? appArgument(config.app, config.app.file) : null,
    omit: new Set(['user', 'group']),
    overrides: stateDir !== config.stateDir ? { stateDir } : {},
  });
  const user = config.user ?? 'keel';
  const group = config.group ?? (config.user ? null : 'keel');
  const writable = writablePaths(config, stateDir);
  const reads = readPaths(config, input, writable);
  const lowPort = listenAddresses(config).some((b) => b.kind === 'tcp' && b.port > 0 && b.port < 1024);
  const homeUsed = under(reads, ['/home', '/root', '/run/user']);
  const tmpUsed = under(reads, ['/tmp', '/var/tmp']);
  const stopSeconds = Math.ceil(shutdownSeconds(config) + STOP_MARGIN_S);

  const lines: string[] = [
    '# Written by `keel init systemd` from the effective config; regenerate it after changing settings.',
    '[Unit]',
    `Description=${systemdText(`keel serving ${config.app ? config.app.text : 'routes'} (${config.cwd})`)}`,
    'After=network-online.target',
    'Wants=network-online.target',
    '',
    '[Service]',
    '# keel tells systemd when its first workers are ready (sd_notify READY=1, sent with systemd-notify,',
    '# so NotifyAccess=all lets that helper process speak for keel).',
    'Type=notify',
    'NotifyAccess=all',
  ];
  if (config.user) {
    lines.push(`User=${user}`);
  } else {
    lines.push('# A dedicated user without a login; create it once with:', '#   sudo useradd --system --no-create-home --shell /usr/sbin/nologin keel', `User=${user}`);
  }
  if (group) lines.push(`Group=${group}`);
  lines.push(
    `WorkingDirectory=${systemdText(config.cwd)}`,
    'Environment=NODE_ENV=production',
  );
  if (secrets.length > 0) {
    lines.push(`# ${secrets.map((s) => s.envName).join(', ')}: secret settings, kept out of this file (see keel.env.example).`, `EnvironmentFile=${ENV_FILE}`);
  }
  lines.push(
    // `--`: keel's --env-file is keel's, not Node's (see bin/keel.js).
    `ExecStart=${commandLines([input.node, '--', input.keel, ...args])}`,
    '# HUP: keel starts new workers, then drains the old ones: a reload without downtime.',
    'ExecReload=/bin/kill -HUP $MAINPID',
    '# TERM goes to the primary only; it drains its workers itself, and systemd kills what is left after TimeoutStopSec.',
    'KillSignal=SIGTERM',
    'KillMode=mixed',
    `# --shutdown-delay ${config.shutdownDelay} + --graceful-timeout ${config.gracefulTimeout} + keel's kill grace + ${STOP_MARGIN_S} s margin.`,
    `TimeoutStopSec=${stopSeconds}`,
    'Restart=on-failure',
    'RestartSec=2',
    '# 2: bad configuration, 3: workers crash on boot, 4: the app fails to load. A restart cannot fix those.',
    'RestartPreventExitStatus=2 3 4',
    'LimitNOFILE=65536',
  );
  if (lowPort) {
    lines.push('# A port below 1024 is bound: this capability, and no other, lets a non-root keel bind it.', 'AmbientCapabilities=CAP_NET_BIND_SERVICE', 'CapabilityBoundingSet=CAP_NET_BIND_SERVICE');
  } else {
    lines.push('CapabilityBoundingSet=');
  }
  lines.push('# Sandboxing: keel needs to write only its logs, pid file, sockets and state.', 'NoNewPrivileges=yes', 'ProtectSystem=strict');
  // A leading - : a directory that does not exist yet is not a start-up failure.
  for (const dir of writable) lines.push(`ReadWritePaths=${systemdWord(`-${dir}`)}`);
  if (stateDir === STATE_DIRECTORY) lines.push('StateDirectory=keel', 'StateDirectoryMode=0700');
  // systemd creates /var/log/keel owned by the service user, so logs there need no setup.
  if (writable.includes(LOGS_DIRECTORY)) lines.push('LogsDirectory=keel');
  lines.push(homeUsed ? '# The app lives under a home directory: read-only rather than hidden.\nProtectHome=read-only' : 'ProtectHome=yes');
  if (tmpUsed) {
    lines.push('# PrivateTmp=yes would hide the app, which lives under /tmp; move it (e.g. to /srv) and turn it on.');
    notes.push('the app lives under /tmp, so PrivateTmp=yes is left out of keel.service');
  } else {
    lines.push('PrivateTmp=yes');
  }
  lines.push('PrivateDevices=yes', 'ProtectKernelTunables=yes', 'ProtectKernelModules=yes', 'ProtectControlGroups=yes', 'RestrictSUIDSGID=yes', 'LockPersonality=yes');
  lines.push('', '[Install]', 'WantedBy=multi-user.target', '');

  const files = [{ name: 'keel.service', text: lines.join('\n') }];
  if (secrets.length > 0) files.push({ name: 'keel.env.example', text: envExample(secrets) });

  const nextSteps: string[] = [];
  if (!config.user) nextSteps.push('sudo useradd --system --no-create-home --shell /usr/sbin/nologin keel');
  nextSteps.push(`make ${config.cwd} readable by ${user} (and the log directories writable)`);
  if (secrets.length > 0) {
    nextSteps.push(`sudo install -d -m 700 /etc/keel && sudo install -m 600 keel.env.example ${ENV_FILE}  # then fill in ${secrets.map((s) => s.envName).join(', ')}`);
  }
  nextSteps.push(
    'sudo cp keel.service /etc/systemd/system/ && sudo systemctl daemon-reload && sudo systemctl enable --now keel',
    'systemctl status keel; journalctl -u keel -f; sudo systemctl reload keel  # reload = HUP, no downtime',
  );
  return { files, notes, nextSteps };
}

function envExample(secrets: readonly SecretSetting[]): string {
  const lines = [
    `# Secret settings of keel.service, read by systemd from ${ENV_FILE} (mode 600, owned by root).`,
    '# keel init never writes their values; fill them in here.',
  ];
  for (const secret of secrets) lines.push(`# ${secret.flag}`, `${secret.envName}=`);
  return `${lines.join('\n')}\n`;
}
