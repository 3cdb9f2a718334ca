import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { ManagerProcess } from '../support/manager.ts';
import { agentBin, start } from '../support/processes.ts';
const dir = mkdtempSync(join(tmpdir(), 'x-'));
const m = new ManagerProcess(join(dir, 'm'), ['--telemetry-interval-s', '0.5', '--health-interval-s', '600'], ['--cpu-prof', `--cpu-prof-dir=${dir}/prof`]);
await m.start();
const agents = [0, 1].map((p) => start(agentBin, ['--manager', m.grpc, '--bootstrap-token-file', m.tokenFile, '--simulate', '500', '--simulate-seed', `s${p}`, '--state-dir', join(dir, `a${p}`), '--log-level', 'error', '--kernel-cmdline', '/x', '--health-interval-s', '600']));
for (;;) { if ((await m.nodes()).total >= 1000) break; await new Promise((r) => setTimeout(r, 500)); }
await new Promise((r) => setTimeout(r, 15000));
for (const a of agents) await a.stop('SIGKILL'); await m.stop();
const f = readdirSync(join(dir, 'prof'))[0]!;
const prof = JSON.parse(readFileSync(join(dir, 'prof', f), 'utf8')) as { nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>; samples: number[]; timeDeltas: number[] };
const self = new Map<number, number>();
prof.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0)));
const byFn = new Map<string, number>();
for (const n of prof.nodes) { const k = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').slice(-3).join('/')}:${n.callFrame.lineNumber}`; byFn.set(k, (byFn.get(k) ?? 0) + (self.get(n.id) ?? 0)); }
const byPkg = new Map<string, number>();
for (const n of prof.nodes) { const u = n.callFrame.url; const k = u.includes('node_modules/') ? u.split('node_modules/')[1]!.split('/').slice(0, u.split('node_modules/')[1]!.startsWith('@') ? 2 : 1).join('/') : u.includes('/libs/') ? 'libs/' + u.split('/libs/')[1]!.split('/')[0] : u.startsWith('node:') ? u : n.callFrame.functionName.startsWith('(') ? n.callFrame.functionName : 'other'; byPkg.set(k, (byPkg.get(k) ?? 0) + (self.get(n.id) ?? 0)); }
console.log([...byPkg.entries()].sort((x, y) => y[1] - x[1]).slice(0, 14).map(([k, v]) => `${(v / 1000).toFixed(0).padStart(6)} ${k}`).join('\n'));
console.log('---');
for (const [k, v] of [...byFn.entries()].sort((x, y) => y[1] - x[1]).slice(0, 16)) console.log((v / 1000).toFixed(0).padStart(6), k);
process.exit(0);
