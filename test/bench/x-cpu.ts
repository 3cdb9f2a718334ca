import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { ManagerProcess } from '../support/manager.ts';
import { agentBin, start } from '../support/processes.ts';
import { cpuSeconds } from './proc-stats.ts';
const dir = mkdtempSync(join(tmpdir(), 'x-'));
const m = new ManagerProcess(join(dir, 'm'), ['--telemetry-interval-s', '0.5', '--health-interval-s', '600']);
await m.start();
const agents = [0, 1].map((p) => start(agentBin, ['--manager', m.grpc, '--bootstrap-token-file', m.tokenFile, '--simulate', '500', '--simulate-seed', `s${p}`, '--state-dir', join(dir, `a${p}`), '--log-level', 'error', '--kernel-cmdline', '/x', '--health-interval-s', '600']));
for (;;) { if ((await m.nodes()).total >= 1000) break; await new Promise((r) => setTimeout(r, 500)); }
await new Promise((r) => setTimeout(r, 5000));
const pids = { manager: m.proc!.child.pid!, a0: agents[0]!.child.pid!, a1: agents[1]!.child.pid! };
const c0 = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, cpuSeconds(p)]));
await new Promise((r) => setTimeout(r, 10000));
for (const [k, p] of Object.entries(pids)) console.log(k, ((cpuSeconds(p) - c0[k]!) / 10 * 100).toFixed(0), '% of a core');
for (const a of agents) await a.stop('SIGKILL'); await m.stop(); process.exit(0);
