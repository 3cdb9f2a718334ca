import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { ManagerProcess } from '../support/manager.ts';
import { agentBin, start } from '../support/processes.ts';
const dir = mkdtempSync(join(tmpdir(), 'x-'));
const m = new ManagerProcess(join(dir, 'm'), ['--telemetry-interval-s', '0.5']);
await m.start();
const t0 = Date.now();
const a = start(agentBin, ['--manager', m.grpc, '--bootstrap-token-file', m.tokenFile, '--simulate', '500', '--state-dir', join(dir, 'a'), '--log-level', 'error', '--kernel-cmdline', '/x'], [`--cpu-prof`, `--cpu-prof-dir=${dir}/prof`]);
for (;;) { const n = (await m.nodes()).total; if (n >= 500 || Date.now() - t0 > 90000) { console.log(n, 'in', Date.now() - t0, 'ms'); break; } await new Promise((r) => setTimeout(r, 500)); }
await a.stop('SIGTERM'); await m.stop();
const f = readdirSync(join(dir, 'prof'))[0]!;
const prof = JSON.parse(readFileSync(join(dir, 'prof', f), 'utf8')) as { nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>; samples: number[]; timeDeltas: number[] };
const self = new Map<number, number>();
prof.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0)));
const byFn = new Map<string, number>();
for (const n of prof.nodes) { const k = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber}`; byFn.set(k, (byFn.get(k) ?? 0) + (self.get(n.id) ?? 0)); }
const total = [...byFn.values()].reduce((x, y) => x + y, 0);
console.log('total ms', (total / 1000).toFixed(0));
for (const [k, v] of [...byFn.entries()].sort((x, y) => y[1] - x[1]).slice(0, 25)) console.log((v / 1000).toFixed(0).padStart(6), k);
process.exit(0);
