// What gets shown and saved: the machine, the table, the JSON.
import os from 'node:os';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';

export function machineInfo(tool) {
  let cpu = os.cpus()[0]?.model ?? 'unknown';
  try {
    cpu = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpu;
  } catch {}
  return {
    nproc: os.availableParallelism(),
    cpu,
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    loadTool: tool.version,
  };
}

export function printMachine(m, opts) {
  console.log(`machine:  ${m.nproc} cores (nproc), ${m.cpu}, ${m.memGiB} GiB, ${m.os}`);
  console.log(`node:     ${m.node}`);
  const how = opts.paired
    ? `every server up at once, ${opts.paired} cycles of one ${opts.slice} s slice each (after a ${opts.warmup} s warm-up), ratios slice by slice`
    : `${opts.duration} s per run after a ${opts.warmup} s warm-up${opts.rounds > 1 ? `, median of ${opts.rounds} rounds` : ''}`;
  console.log(`load:     ${m.loadTool}, ${opts.connections} connections, ${how}`);
  if (m.tools) console.log(`tools:    ${Object.values(m.tools).join(', ')}`);
  if (opts.tls?.h2) console.log(`http/2:   h2load -t1 -c${opts.connections} -m${opts.streams}`);
  console.log(`handler:  ${opts.handlerLabel}`);
  if (opts.flaskApp) console.log(`flask:    ${opts.flaskApp}`);
  console.log('');
}

const fmtMs = (ms) => (ms == null ? '' : `${ms.toFixed(2)} ms`);

export function printTable(rows) {
  const head = ['server', 'req/s', 'p50', 'p99', 'ratio'];
  const body = rows.map((r) =>
    r.error
      ? [r.name, r.error]
      : [r.name, Math.round(r.rps).toLocaleString('en-US'), fmtMs(r.p50Ms), fmtMs(r.p99Ms), r.ratio == null ? 'n/a' : r.ratio.toFixed(2)],
  );
  const widths = head.map((h, i) => Math.max(h.length, ...body.filter((b) => i === 0 || b.length > 2).map((b) => String(b[i]).length)));
  const line = (cells) =>
    cells
      .map((c, i) => (i === 0 ? String(c).padEnd(widths[0]) : cells.length === 2 ? c : String(c).padStart(widths[i])))
      .join('  ');
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const b of body) console.log(line(b));
  const notes = rows.filter((r) => r.notes?.length);
  if (notes.length) {
    console.log('');
    for (const r of notes) console.log(`${r.name}: ${r.notes.join('; ')}`);
  }
}

function printColumns(head, body, alignLeft = [0]) {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => String(b[i] ?? '').length)));
  const line = (cells) => cells.map((c, i) => (alignLeft.includes(i) ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ').trimEnd();
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const b of body) console.log(line(b));
}

// Grouped rows (TLS, static, proxy, Flask) have no single baseline: the rows,
// then each ratio with the baseline it is taken against and its target.
export function printGroupTable(title, rows, ratios, { protocol = false } = {}) {
  console.log(title);
  const ok = rows.filter((r) => !r.error);
  printColumns(
    ['server', ...(protocol ? ['protocol'] : []), 'req/s', 'p50', 'p99'],
    ok.map((r) => [
      r.name,
      ...(protocol ? [r.protocol === 'h2' ? 'h2' : 'http/1.1'] : []),
      Math.round(r.rps).toLocaleString('en-US'),
      fmtMs(r.p50Ms),
      fmtMs(r.p99Ms),
    ]),
    protocol ? [0, 1] : [0],
  );
  for (const r of rows.filter((r) => r.error)) console.log(r.error);
  if (ratios.length) {
    console.log('');
    printColumns(
      ['ratio', 'row / baseline', 'value', 'target'],
      ratios.map((c) => [
        c.label,
        `${c.row} / ${c.baseline}`,
        c.ratio == null ? 'n/a' : c.ratio.toFixed(2),
        c.target == null ? (c.info ?? '-') : `>= ${c.target.toFixed(2)} ${c.met == null ? '' : c.met ? 'met' : 'MISSED'}`.trim(),
      ]),
      [0, 1, 3],
    );
  }
  const notes = rows.filter((r) => r.notes?.length);
  if (notes.length) {
    console.log('');
    for (const r of notes) console.log(`${r.name}: ${r.notes.join('; ')}`);
  }
}

export async function writeJson(file, data) {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify(data, null, 2)}\n`);
}
