// npm run bench [-- --duration N] [--only a,b] [--rounds N] [--quiet-wait N] [--warmup N] [--connections N] [--streams N] [--tool wrk|autocannon]
// Runs each server alone, one after another (start, warm up, measure, stop),
// so they never compete for the 2 cores with each other.
import path from 'node:path';
import os from 'node:os';
import { mkdtemp, rm } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { installSignalHandlers, onCleanup, runCleanup, isAborting } from './cleanup.js';
import { chooseLoadTool, runLoad } from './load.js';
import { ROOT, StartError } from './servers.js';
import { handlerPath, EXAMPLE_APP } from './peers/handler.js';
import { selectScenarios, knownNames, BASELINE, GROUPS, comparisons } from './scenarios.js';
import { machineInfo, printMachine, printTable, printGroupTable, writeJson } from './report.js';
import { makeCertificate } from './tls.js';
import { ensureTools, toolVersions } from './tools.js';
import { checkResponse } from './check.js';
import { waitForQuiet, BUSY_WARN_PCT } from './quiet.js';

const RESULTS = path.join(ROOT, 'bench', 'results', 'latest.json');

function positiveInt(name, value) {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer, got "${value}"`);
  return n;
}

function nonNegativeInt(name, value) {
  return value === '0' ? 0 : positiveInt(name, value);
}

function options() {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string' },
      warmup: { type: 'string', default: '2' },
      rounds: { type: 'string', default: '1' },
      'quiet-wait': { type: 'string', default: '30' },
      connections: { type: 'string', default: '50' },
      streams: { type: 'string', default: '10' },
      only: { type: 'string' },
      tool: { type: 'string', default: 'wrk' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(`usage: npm run bench -- [--duration N] [--warmup N] [--rounds N] [--connections N] [--streams N] [--only a,b] [--tool wrk|autocannon]
  --duration N   seconds measured per run (default 10, or env BENCH_DURATION)
  --warmup N     seconds of uncounted load before each run (default 2)
  --rounds N     run every server N times, interleaved, and report the median run (default 1)
  --quiet-wait N before each run, wait up to N s for other processes to leave the CPUs idle (default 30)
  --connections N  connections of wrk and h2load (default 50)
  --streams N    h2load streams in flight per connection, HTTP/2 rows (default 10)
  --only a,b     run only these rows; a name also selects every row whose id starts with name-:
                 "keel" both plain keel rows, "tls" every TLS row, "static", "proxy", "flask" theirs.
                 Known: ${knownNames().join(', ')}`);
    process.exit(0);
  }
  if (!['wrk', 'autocannon'].includes(values.tool)) throw new Error(`--tool must be wrk or autocannon`);
  return {
    duration: positiveInt('duration', values.duration ?? process.env.BENCH_DURATION ?? 10),
    warmup: positiveInt('warmup', values.warmup),
    rounds: positiveInt('rounds', values.rounds),
    quietWait: nonNegativeInt('quiet-wait', values['quiet-wait']),
    connections: positiveInt('connections', values.connections),
    streams: positiveInt('streams', values.streams),
    only: values.only?.split(',').map((s) => s.trim()).filter(Boolean),
    tool: values.tool,
  };
}

async function measure(scenario, ctx, opts, tool) {
  const row = { id: scenario.id, name: scenario.name, group: scenario.group ?? 'http', protocol: scenario.protocol ?? 'h1', notes: [] };
  console.error(`-> ${scenario.name}${opts.rounds > 1 ? ` (round ${ctx.round}/${opts.rounds})` : ''}: starting`);
  const failedPrepare = (scenario.prepare ?? []).map((p) => ctx.prepareErrors.get(p)).find(Boolean);
  if (failedPrepare) {
    row.error = `${scenario.name}: not run: ${failedPrepare}`;
    console.error(`   ${row.error}`);
    return row;
  }
  row.busyBeforePct = await waitForQuiet(opts.quietWait, (busy) =>
    console.error(`   machine ${busy}% busy; waiting up to ${opts.quietWait} s for it to go quiet`),
  );
  if (row.busyBeforePct > BUSY_WARN_PCT) {
    row.notes.push(`machine ${row.busyBeforePct}% busy before the run (other processes): numbers may be low`);
    console.error(`   warning: machine ${row.busyBeforePct}% busy before the run`);
  }
  let server;
  try {
    if (scenario.tls && !ctx.certs) throw new StartError(`${scenario.name}: failed to start: ${ctx.certError}`);
    server = await scenario.start(ctx);
  } catch (err) {
    if (!(err instanceof StartError)) throw err;
    row.error = err.message;
    console.error(`   ${err.message}`);
    if (err.output) console.error(err.output.replace(/^/gm, '   | '));
    return row;
  }
  const urlPath = scenario.path ?? '/';
  try {
    row.notes.push(...(server.notes ?? []));
    if (server.status !== 200 && !scenario.expect) row.notes.push(`readiness probe got HTTP ${server.status}`);
    // A 501 stub, a 404 or a 502 answers fast: such a row must fail, not be measured.
    if (scenario.expect) {
      try {
        row.notes.push(await checkResponse(server.port, urlPath, await scenario.expect(ctx), { tls: scenario.tls ? ctx.certs : null }));
      } catch (err) {
        row.error = `${scenario.name}: wrong answer, not measured: ${err.message}`;
      }
    }
    if (!row.error) {
      const url = `${scenario.tls ? 'https' : 'http'}://127.0.0.1:${server.port}${urlPath}`;
      const load = {
        url,
        connections: opts.connections,
        protocol: row.protocol,
        streams: opts.streams,
        logFile: path.join(ctx.tmpDir, `h2load-${scenario.id}-${ctx.round}.log`),
      };
      console.error(`   warm-up ${opts.warmup} s, then ${opts.duration} s on ${url}${row.protocol === 'h2' ? ' (h2load, HTTP/2)' : ''}`);
      await runLoad(tool, { ...load, durationSec: opts.warmup });
      Object.assign(row, await runLoad(tool, { ...load, durationSec: opts.duration }));
      if (row.negotiated) row.notes.push(row.negotiated);
      if (row.latencyNote) row.notes.push(row.latencyNote);
      if (row.errors) row.notes.push(`${row.errors} socket errors`);
      if (row.non2xx) row.notes.push(`${row.non2xx} non-2xx responses`);
      // A checked row that answers errors under load is not serving what it was checked for.
      if (scenario.expect && row.requests && row.non2xx > row.requests * 0.01) {
        row.error = `${scenario.name}: ${row.non2xx} of ${row.requests} responses under load were not 2xx`;
      }
    }
  } catch (err) {
    row.error = `${scenario.name}: load failed: ${err.message}`;
  } finally {
    await server.stop();
  }
  if (scenario.after) {
    const note = await scenario.after(ctx);
    if (note) row.notes.push(note);
  }
  if (!isAborting()) console.error(row.error ? `   ${row.error}` : `   ${Math.round(row.rps)} req/s`);
  return row;
}

function medianRun(attempts) {
  const ok = attempts.filter((r) => !r.error).sort((a, b) => a.rps - b.rps);
  if (!ok.length) return attempts.at(-1);
  const row = ok[Math.floor((ok.length - 1) / 2)];
  if (attempts.length > 1) {
    row.rounds = ok.map((r) => Math.round(r.rps));
    row.notes.push(`median of ${ok.length} rounds (req/s: ${row.rounds.join(', ')})`);
    const failed = attempts.length - ok.length;
    if (failed) row.notes.push(`${failed} round(s) failed: ${attempts.find((r) => r.error).error}`);
  }
  return row;
}

async function main() {
  installSignalHandlers();
  let opts, selected;
  try {
    opts = options();
    selected = selectScenarios(opts.only);
  } catch (err) {
    console.error(`bench: ${err.message} (see --help)`);
    return 2;
  }
  if (Number(process.versions.node.split('.')[0]) < 24) {
    console.error(`warning: running on Node ${process.version}; the repo pins node@24 (use \`npm run bench\` or \`npx node bench/run.js\`)`);
  }

  const tmpDir = await mkdtemp(path.join(os.tmpdir(), 'keel-bench-'));
  onCleanup(() => rm(tmpDir, { recursive: true, force: true }));

  const tool = await chooseLoadTool(opts.tool);
  const handler = handlerPath();
  const handlerLabel = path.relative(ROOT, handler) + (handler === EXAMPLE_APP ? '' : ' (stand-in: examples/hello/app.ts not found)');
  const machine = machineInfo(tool);

  // Outside tools the selected rows need, one certificate for every TLS
  // server of the run, and what the rows prepare once (files, expected answers).
  const ctxBase = { tmpDir, handler, prepareErrors: new Map() };
  const needs = [...new Set(selected.flatMap((s) => s.needs ?? []))];
  const tlsSelected = selected.some((s) => s.tls);
  if (tlsSelected) needs.push('openssl');
  if (needs.length) {
    await ensureTools(needs);
    machine.tools = await toolVersions(needs);
  }
  if (tlsSelected) {
    try {
      ctxBase.certs = await makeCertificate(tmpDir);
    } catch (err) {
      ctxBase.certError = err.message;
    }
  }
  for (const prepare of new Set(selected.flatMap((s) => s.prepare ?? []))) {
    try {
      Object.assign(ctxBase, await prepare(ctxBase));
    } catch (err) {
      // StartError carries the server's output; the rows relying on this prepare fail with it.
      ctxBase.prepareErrors.set(prepare, err.message);
      console.error(`bench: ${err.message}`);
      if (err.output) console.error(err.output.replace(/^/gm, '   | '));
    }
  }
  const showTls = tlsSelected ? { h2: selected.some((s) => s.protocol === 'h2') } : null;
  printMachine(machine, { ...opts, handlerLabel, tls: showTls, flaskApp: ctxBase.flaskApp?.label });

  // Rounds are interleaved (A B C, A B C) so a slow patch of a shared VM
  // lands on every server rather than on one.
  const runs = new Map(selected.map((s) => [s.id, []]));
  for (let round = 1; round <= opts.rounds && !isAborting(); round++) {
    for (const scenario of selected) {
      if (isAborting()) break;
      runs.get(scenario.id).push(await measure(scenario, { ...ctxBase, round }, opts, tool));
    }
  }
  const rows = selected.map((s) => medianRun(runs.get(s.id)));

  // Plain rows: against node:cluster. Every other group: its comparisons,
  // each row against its own baseline.
  const plainRows = rows.filter((r) => r.group === 'http');
  const base = plainRows.find((r) => r.id === BASELINE && !r.error);
  for (const r of plainRows) r.ratio = base && !r.error ? r.rps / base.rps : null;
  const byId = new Map(rows.map((r) => [r.id, r]));
  const ratios = comparisons
    .filter((c) => byId.has(c.row) && byId.has(c.baseline))
    .map((c) => {
      const a = byId.get(c.row);
      const b = byId.get(c.baseline);
      const ratio = a.error || b.error ? null : a.rps / b.rps;
      return { ...c, ratio, met: ratio == null || c.target == null ? null : ratio >= c.target };
    });

  if (isAborting()) return 130;
  if (plainRows.length) {
    console.log('');
    printTable(plainRows);
  }
  for (const [group, title] of Object.entries(GROUPS)) {
    const groupRows = rows.filter((r) => r.group === group);
    if (!groupRows.length) continue;
    console.log('');
    printGroupTable(title, groupRows, ratios.filter((c) => c.group === group), { protocol: group === 'tls' });
  }
  await writeJson(RESULTS, {
    date: new Date().toISOString(),
    command: ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' '),
    machine,
    load: { tool: tool.name, connections: opts.connections, durationSec: opts.duration, warmupSec: opts.warmup, rounds: opts.rounds, quietWaitSec: opts.quietWait, threads: tool.name === 'wrk' ? 1 : undefined, ...(showTls?.h2 ? { h2: { tool: 'h2load', threads: 1, streamsPerConnection: opts.streams } } : {}) },
    handler: path.relative(ROOT, handler),
    baseline: BASELINE,
    results: rows,
    ...(ctxBase.flaskApp ? { flaskApp: ctxBase.flaskApp.label } : {}),
    ...(ratios.length ? { comparisons: ratios.map(({ group, label, row, baseline, ratio, target, met }) => ({ group, label, row, baseline, ratio, target, met })) } : {}),
  });
  console.log(`\nresults written to ${path.relative(process.cwd(), RESULTS)}`);
  return rows.some((r) => r.error) ? 1 : 0;
}

let code = 1;
try {
  code = await main();
} catch (err) {
  // After Ctrl-C, failures are just servers being torn down under the run.
  if (!isAborting()) console.error(`bench: ${err.stack ?? err}`);
} finally {
  await runCleanup();
}
process.exit(isAborting() && code !== 0 ? 130 : code);
