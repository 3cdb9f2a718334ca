import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { ManagerProcess } from '../support/manager.ts';
import { agentBin, start } from '../support/processes.ts';
const dir = mkdtempSync(join(tmpdir(), 'x-'));
const m = new ManagerProcess(join(dir, 'm'));
await m.start();
const t0 = Date.now();
const a = start(agentBin, ['--manager', m.grpc, '--bootstrap-token-file', m.tokenFile, '--simulate', '500', '--state-dir', join(dir, 'a'), '--log-level', 'warn', '--kernel-cmdline', '/x', '--retry-initial-ms', '500']);
for (;;) { const n = (await m.nodes()).total; if (n >= 500 || Date.now() - t0 > 90000) { console.log(n, 'in', Date.now() - t0, 'ms'); break; } await new Promise((r) => setTimeout(r, 250)); }
const reasons = new Map<string, number>();
for (const l of a.lines) { try { const j = JSON.parse(l); const k = `${j.msg} ${j.code ?? ''} ${String(j.reason ?? '').slice(0, 80)}`; reasons.set(k, (reasons.get(k) ?? 0) + 1); } catch {} }
console.log([...reasons.entries()].sort((x, y) => y[1] - x[1]).slice(0, 8));
await a.stop('SIGKILL'); await m.stop(); process.exit(0);
