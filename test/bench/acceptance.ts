// npm run bench -- acceptance: acceptance testing of 500 simulated nodes
// powered on at once (the real manager and agent processes; the suite each
// simulated node runs prints NVLink and NCCL outputs that the agent parses
// and the manager judges), beside the same fleet with acceptance off, in the
// same run: the time until every node is available, the acceptance window
// (first `accept` to last `acceptance-passed`), per-node time in `accepting`,
// and the manager's CPU. Then one node's way back: from `repaired` (its disk
// replaced) to `available`, acceptance included.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NodeList } from '@metalfleet/api';
import { ManagerProcess } from '../support/manager.ts';
import { agentBin, eventually, start, type Proc } from '../support/processes.ts';
import { cpuSeconds } from './proc-stats.ts';

const nodes = Number(process.env['BENCH_ACCEPTANCE_NODES'] ?? 500);
type History = { history: Array<{ event: string; at: string }> };

const profile = {
  name: 'sim-h100-8', gpuModel: 'H100', gpuCount: 8, minGpuMemoryBytes: 79 * 1024 ** 3, allowedDrivers: [], allowedVbios: [], pcieGen: 5, pcieWidth: 16,
  nvlinksPerGpu: 18, nicCount: 2, minNicSpeedMbps: 100_000, nvmeCount: 2, dimmCount: 32,
  gates: { ncclBusbwGBs: 460, p2pGBs: 335, hostCopyGBs: 48, dcgmLevel: 3, stress: { seconds: 300, maxTempSpreadC: 10 } },
};

interface Run { toAvailableS: number; managerCpuS: number; windowS: number | null; accepting: number[]; repairedToAvailableS: number | null }

async function fleet(acceptance: boolean): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), `mf-bench-acceptance-${acceptance ? 'on' : 'off'}-`));
  const faultsFile = join(dir, 'faults.json');
  writeFileSync(faultsFile, '{}');
  writeFileSync(join(dir, 'profiles.json'), JSON.stringify([profile]));
  const manager = new ManagerProcess(join(dir, 'manager'), ['--acceptance', acceptance ? 'on' : 'off', '--sku-profiles-file', join(dir, 'profiles.json')]);
  let agent: Proc | null = null;
  try {
    await manager.start();
    const pid = manager.proc?.child.pid ?? 0;
    const cpuBefore = cpuSeconds(pid);
    const started = performance.now();
    agent = start(agentBin, ['--manager', manager.grpc, '--bootstrap-token-file', manager.tokenFile, '--simulate', String(nodes), '--simulate-seed', 'acceptance-bench',
      '--faults-file', faultsFile, '--state-dir', join(dir, 'agents'), '--log-level', 'error', '--kernel-cmdline', '/nonexistent']);
    const list = await eventually(() => manager.get<NodeList>('/api/v1/nodes?limit=1000'), (l) => l.items.length === nodes && l.items.every((n) => n.state === 'available'), 600_000);
    const toAvailableS = (performance.now() - started) / 1000;
    const managerCpuS = cpuSeconds(pid) - cpuBefore;
    let windowS: number | null = null;
    const accepting: number[] = [];
    if (acceptance) {
      let first = Infinity;
      let last = 0;
      for (const node of list.items) {
        const { history } = await manager.get<History>(`/api/v1/nodes/${node.id}`);
        const begun = Date.parse(history.find((h) => h.event === 'accept')?.at ?? '');
        const passed = Date.parse(history.find((h) => h.event === 'acceptance-passed')?.at ?? '');
        first = Math.min(first, begun);
        last = Math.max(last, passed);
        accepting.push((passed - begun) / 1000);
      }
      windowS = (last - first) / 1000;
    }
    // One node's way back: its disk fails (sent to repair by the policy), is replaced, marked repaired.
    const one = list.items[0]!;
    writeFileSync(faultsFile, JSON.stringify({ [one.hostname.replace(/^sim-0*/, '')]: ['smart-failure'] }));
    await eventually(() => manager.get<{ state: string }>(`/api/v1/nodes/${one.id}`), (n) => n.state === 'repair', 120_000);
    writeFileSync(faultsFile, '{}');
    await eventually(() => manager.get<{ health: { severity: string } }>(`/api/v1/nodes/${one.id}`), (n) => n.health.severity === 'ok', 120_000);
    const repairedAt = performance.now();
    await manager.request('POST', `/api/v1/nodes/${one.id}/repaired`, { reason: 'disk replaced', ticket: 'BENCH-1' });
    await eventually(() => manager.get<{ state: string }>(`/api/v1/nodes/${one.id}`), (n) => n.state === 'available', 120_000);
    return { toAvailableS, managerCpuS, windowS, accepting, repairedToAvailableS: (performance.now() - repairedAt) / 1000 };
  } finally {
    await agent?.stop('SIGKILL');
    await manager.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;

export async function runAcceptanceBench(): Promise<void> {
  const off = await fleet(false);
  const on = await fleet(true);
  const accepting = [...on.accepting].sort((a, b) => a - b);
  console.log(`${nodes} simulated nodes powered on at once, until every one is available:`);
  console.log(`  acceptance off: ${off.toAvailableS.toFixed(1)} s, manager CPU ${off.managerCpuS.toFixed(1)} s (${((off.managerCpuS / nodes) * 1000).toFixed(1)} ms/node)`);
  console.log(`  acceptance on:  ${on.toAvailableS.toFixed(1)} s, manager CPU ${on.managerCpuS.toFixed(1)} s (${((on.managerCpuS / nodes) * 1000).toFixed(1)} ms/node); ` +
    `${(on.toAvailableS / off.toAvailableS).toFixed(2)}× the time, ${(on.managerCpuS / off.managerCpuS).toFixed(2)}× the CPU`);
  console.log(`  acceptance window (first accept → last acceptance-passed): ${on.windowS?.toFixed(1)} s; time in accepting per node p50 ${pct(accepting, 0.5).toFixed(2)} s, p95 ${pct(accepting, 0.95).toFixed(2)} s, max ${(accepting.at(-1) ?? NaN).toFixed(2)} s`);
  console.log(`one node from repaired to available: ${on.repairedToAvailableS?.toFixed(2)} s with acceptance (inspection, the suite, the verdict), ${off.repairedToAvailableS?.toFixed(2)} s without`);
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  await runAcceptanceBench();
  process.exit(0);
}
