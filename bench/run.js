// npm run bench [-- --duration N] [--only a,b] [--rounds N] [--paired N] [--slice N] [--quiet-wait N] [--warmup N] [--connections N] [--streams N] [--tool wrk|autocannon]
// Runs each server alone, one after another (start, warm up, measure, stop),
// so they never compete for the 2 cores with each other; or, with --paired, all
// of them up at once and loaded in turn, a short slice each.
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
      paired: { type: 'string', default: '0' },
      slice: { type: 'string', default: '2' },
      'quiet-wait': { type: 'string', default: '30' },
      connections: { type: 'string', default: '50' },
      streams: { type: 'string', default: '10' },
      only: { type: 'string' },
      tool: { type: 'string', default: 'wrk' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(`usage: npm run bench -- [--duration N] [--warmup N] [--rounds N | --paired N [--slice N]] [--connections N] [--streams N] [--only a,b] [--tool wrk|autocannon]
  --duration N   seconds measured per run (default 10, or env BENCH_DURATION)
  --warmup N     seconds of uncounted load before each run (default 2)
  --rounds N     run every server N times, interleaved, and report the median run (default 1)
  --paired N     instead: every server up at once, loaded in turn for N cycles of one --slice each;
                 ratios are the median of the slice-by-slice ratios (for a VM whose speed drifts)
  --slice N      seconds per slice with --paired (default 2)
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
    paired: nonNegativeInt('paired', values.paired),
    slice: positiveInt('slice', values.slice),
    quietWait: nonNegativeInt('quiet-wait', values['quiet-wait']),
    connections: positiveInt('connections', values.connections),
    streams: positiveInt('streams', values.streams),
    only: values.only?.split(',').map((s) => s.trim()).filter(Boolean),
    tool: values.tool,
  };
}

/** Starts a row's server and checks its answer: { row, server }, or { row } with row.error set. */
async function startChecked(scenario, ctx, opts) {
  const row = { id: scenario.id, name: scenario.name, group: scenario.group ?? 'http', protocol: scenario.protocol ?? 'h1', notes: [] };
  const failedPrepare = (scenario.prepare ?? []).map((p) => ctx.prepareErrors.get(p)).find(Boolean);
  if (failedPrepare) {
    row.error = `${scenario.name}: not run: ${failedPrepare}`;
    console.error(`   ${row.error}`);
    return { row };
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
    return { row };
  }
  row.notes.push(...(server.notes ?? []));
  if (server.status !== 200 && !scenario.expect) row.notes.push(`readiness probe got HTTP ${server.status}`);
  // A 501 stub, a 404 or a 502 answers fast: such a row must fail, not be measured.
  if (scenario.expect) {
    try {
      row.notes.push(await checkResponse(server.port, scenario.path ?? '/', await scenario.expect(ctx), { tls: scenario.tls ? ctx.certs : null }));
    } catch (err) {
      row.error = `${scenario.name}: wrong answer, not measured: ${err.message}`;
    }
  }
  return { row, server };
}

/** What runLoad needs to load a started row. */
function loadOf(scenario, row, server, ctx, opts, tag) {
  return {
    url: `${scenario.tls ? 'https' : 'http'}://127.0.0.1:${server.port}${scenario.path ?? '/'}`,
    connections: opts.connections,
    protocol: row.protocol,
    streams: opts.streams,
    logFile: path.join(ctx.tmpDir, `h2load-${scenario.id}-${tag}.log`),
  };
}

/** One measured load on a started row: the load's figures, with its notes and the under-load check. */
async function loadOnce(scenario, load, durationSec) {
  const result = await runLoad(load.tool, { ...load, durationSec });
  const notes = [];
  if (result.negotiated) notes.push(result.negotiated);
  if (result.latencyNote) notes.push(result.latencyNote);
  if (result.errors) notes.push(`${result.errors} socket errors`);
  if (result.non2xx) notes.push(`${result.non2xx} non-2xx responses`);
  // A checked row that answers errors under load is not serving what it was checked for.
  const error = scenario.expect && result.requests && result.non2xx > result.requests * 0.01 ? `${scenario.name}: ${result.non2xx} of ${result.requests} responses under load were not 2xx` : null;
  return { result, notes, error };
}

async function measure(scenario, ctx, opts, tool) {
  console.error(`-> ${scenario.name}${opts.rounds > 1 ? ` (round ${ctx.round}/${opts.rounds})` : ''}: starting`);
  const busy = await waitForQuiet(opts.quietWait, (pct) =>
    console.error(`   machine ${pct}% busy; waiting up to ${opts.quietWait} s for it to go quiet`),
  );
  const { row, server } = await startChecked(scenario, ctx, opts);
  row.busyBeforePct = busy;
  if (busy > BUSY_WARN_PCT) {
    row.notes.push(`machine ${busy}% busy before the run (other processes): numbers may be low`);
    console.error(`   warning: machine ${busy}% busy before the run`);
  }
  if (!server) return row;
  try {
    if (!row.error) {
      const load = { ...loadOf(scenario, row, server, ctx, opts, ctx.round), tool };
      console.error(`   warm-up ${opts.warmup} s, then ${opts.duration} s on ${load.url}${row.protocol === 'h2' ? ' (h2load, HTTP/2)' : ''}`);
      await runLoad(tool, { ...load, durationSec: opts.warmup });
      const { result, notes, error } = await loadOnce(scenario, load, opts.duration);
      Object.assign(row, result);
      row.notes.push(...notes);
      if (error) row.error = error;
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

/**
 * --paired N: every selected server up at once, loaded in turn, one short slice each, N cycles
 * (the order rotating each cycle). On a shared VM whose speed drifts by tens of percent over
 * minutes, rows measured seconds apart see the same machine; the ratios are then taken slice by
 * slice (see ratioOf). An idle server costs the others nothing measurable but its timers.
 */
async function measurePaired(selected, ctxBase, opts, tool) {
  const ctx = { ...ctxBase, round: 'paired' };
  const started = [];
  for (const scenario of selected) {
    if (isAborting()) break;
    console.error(`-> ${scenario.name}: starting`);
    const { row, server } = await startChecked(scenario, ctx, opts);
    started.push({ scenario, row, server, load: server && !row.error ? { ...loadOf(scenario, row, server, ctx, opts, 'paired'), tool } : null, slices: [] });
  }
  const live = started.filter((s) => s.load);
  const busy = await waitForQuiet(opts.quietWait, (pct) => console.error(`   machine ${pct}% busy; waiting up to ${opts.quietWait} s for it to go quiet`));
  if (busy > BUSY_WARN_PCT) console.error(`   warning: machine ${busy}% busy before the run`);
  for (const s of live) {
    if (isAborting()) break;
    console.error(`   warm-up ${opts.warmup} s on ${s.scenario.name}`);
    try {
      await runLoad(tool, { ...s.load, durationSec: opts.warmup });
    } catch (err) {
      s.row.error = `${s.scenario.name}: load failed: ${err.message}`;
    }
  }
  for (let cycle = 0; cycle < opts.paired && !isAborting(); cycle++) {
    const order = live.filter((s) => !s.row.error);
    const turn = cycle % Math.max(order.length, 1);
    for (const s of [...order.slice(turn), ...order.slice(0, turn)]) {
      if (isAborting()) break;
      try {
        const { result, notes, error } = await loadOnce(s.scenario, s.load, opts.slice);
        s.slices[cycle] = result;
        for (const note of notes) if (!s.row.notes.includes(note) && !/^p50|latenc/i.test(note)) s.row.notes.push(note);
        if (error) s.row.error = error;
      } catch (err) {
        s.row.error = `${s.scenario.name}: load failed: ${err.message}`;
      }
    }
    console.error(`   cycle ${cycle + 1}/${opts.paired}: ${order.map((s) => `${s.scenario.id} ${Math.round(s.slices[cycle]?.rps ?? 0)}`).join(', ')}`);
  }
  const rows = [];
  for (const s of started) {
    if (s.server) await s.server.stop();
    if (s.scenario.after) {
      const note = await s.scenario.after(ctx);
      if (note) s.row.notes.push(note);
    }
    const measured = s.slices.filter(Boolean);
    if (!s.row.error && measured.length) {
      // The median slice stands for the row; the ratios use every slice (ratioOf).
      const median = [...measured].sort((a, b) => a.rps - b.rps)[Math.floor((measured.length - 1) / 2)];
      Object.assign(s.row, median, { notes: s.row.notes });
      s.row.slices = s.slices.map((r) => (r ? r.rps : null));
      s.row.busyBeforePct = busy;
      s.row.notes.push(`paired: median of ${measured.length} slices of ${opts.slice} s (req/s ${Math.round(Math.min(...measured.map((r) => r.rps)))}-${Math.round(Math.max(...measured.map((r) => r.rps)))})`);
    } else if (!s.row.error) {
      s.row.error = `${s.scenario.name}: not measured`;
    }
    rows.push(s.row);
  }
  return rows;
}

/**
 * One row's speed over another's. Paired rows: the median, over the cycles both were measured in,
 * of the ratio of their slices, each pair taken seconds apart; otherwise the ratio of their req/s.
 */
function ratioOf(a, b) {
  if (a.error || b.error) return null;
  if (a.slices && b.slices) {
    const pairs = a.slices.map((x, i) => (x && b.slices[i] ? x / b.slices[i] : null)).filter((r) => r !== null).sort((x, y) => x - y);
    if (pairs.length) return pairs[Math.floor((pairs.length - 1) / 2)];
  }
  return a.rps / b.rps;
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
  let rows;
  if (opts.paired) {
    rows = await measurePaired(selected, ctxBase, opts, tool);
  } else {
    const runs = new Map(selected.map((s) => [s.id, []]));
    for (let round = 1; round <= opts.rounds && !isAborting(); round++) {
      for (const scenario of selected) {
        if (isAborting()) break;
        runs.get(scenario.id).push(await measure(scenario, { ...ctxBase, round }, opts, tool));
      }
    }
    rows = selected.map((s) => medianRun(runs.get(s.id)));
  }

  // Plain rows: against node:cluster. Every other group: its comparisons,
  // each row against its own baseline.
  const plainRows = rows.filter((r) => r.group === 'http');
  const base = plainRows.find((r) => r.id === BASELINE && !r.error);
  for (const r of plainRows) r.ratio = base ? ratioOf(r, base) : null;
  const byId = new Map(rows.map((r) => [r.id, r]));
  const ratios = comparisons
    .filter((c) => byId.has(c.row) && byId.has(c.baseline))
    .map((c) => {
      const a = byId.get(c.row);
      const b = byId.get(c.baseline);
      const ratio = ratioOf(a, b);
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
    load: { tool: tool.name, connections: opts.connections, durationSec: opts.duration, warmupSec: opts.warmup, rounds: opts.rounds, ...(opts.paired ? { paired: { cycles: opts.paired, sliceSec: opts.slice } } : {}), quietWaitSec: opts.quietWait, threads: tool.name === 'wrk' ? 1 : undefined, ...(showTls?.h2 ? { h2: { tool: 'h2load', threads: 1, streamsPerConnection: opts.streams } } : {}) },
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
