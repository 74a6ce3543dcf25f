import { readFileSync } from 'node:fs';
const p = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const dt = new Map();
for (let i = 0; i < p.samples.length; i++) dt.set(p.samples[i], (dt.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
const agg = new Map(); let busy = 0;
for (const n of p.nodes) { const t = dt.get(n.id) ?? 0; if (n.callFrame.functionName === '(idle)') continue; busy += t; let u = n.callFrame.url; u = u.includes('undici') ? 'undici' : u.includes('/dist/') ? 'keel:' + u.split('/dist/')[1] : u.startsWith('node:') ? u : (u || '(native) ' + n.callFrame.functionName); agg.set(u, (agg.get(u) ?? 0) + t); }
for (const [k, v] of [...agg].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log((100 * v / busy).toFixed(1).padStart(5), '%', k);
