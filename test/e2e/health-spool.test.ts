// "Never lose a report": health events raised while the manager is down wait
// in the agent's on-disk spool (even across an agent crash) and arrive exactly
// once, in order, when the manager is back.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeHealth } from '@metalfleet/api';
import { ManagerProcess } from '../support/manager.ts';
import { agentBin, eventually, start, type Proc } from '../support/processes.ts';

const dir = mkdtempSync(join(tmpdir(), 'mf-spool-'));
const faultsFile = join(dir, 'faults.json');
const manager = new ManagerProcess(join(dir, 'manager'), ['--health-interval-s', '0.3', '--health-digest-interval-s', '600', '--heartbeat-grace-s', '30']);
const agents: Proc[] = [];
let nodeId = '';

function startAgent(): Proc {
  const agent = start(agentBin, ['--manager', manager.grpc, '--bootstrap-token-file', manager.tokenFile, '--simulate', '1', '--faults-file', faultsFile,
    '--state-dir', join(dir, 'agent'), '--health-interval-s', '0.3', '--retry-initial-ms', '200', '--retry-max-ms', '500']);
  agents.push(agent);
  return agent;
}

/** Event ids the agent logged as spooled, in order, across all its runs. */
function spooledEventIds(): string[] {
  return agents.flatMap((a) => a.lines.filter((l) => l.includes('"health event spooled"')).map((l) => String((JSON.parse(l) as { eventId: string }).eventId)));
}

async function raise(faults: string[], expectedEvents: number): Promise<void> {
  writeFileSync(faultsFile, JSON.stringify({ 1: faults }));
  await eventually(async () => spooledEventIds().length, (n) => n >= expectedEvents, 15_000);
}

beforeAll(async () => {
  writeFileSync(faultsFile, '{}');
  await manager.start();
  startAgent();
  const list = await eventually(() => manager.nodes(), (l) => l.items[0]?.presence === 'online');
  nodeId = list.items[0]!.id;
});

afterAll(async () => {
  for (const a of agents) await a.stop('SIGKILL');
  await manager.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('health events across a manager outage and an agent crash', () => {
  it('delivers every event raised meanwhile exactly once, in order', async () => {
    await manager.stop();

    await raise(['thermal-slowdown'], 1);
    await raise(['thermal-slowdown', 'pcie-x8'], 2);
    await agents[0]!.stop('SIGKILL'); // events 1 and 2 exist only in the agent's spool now
    startAgent(); // a fresh process: it finds both conditions again and reports them as a new event
    await eventually(async () => spooledEventIds().length, (n) => n >= 3, 15_000);
    await raise(['pcie-x8'], 4); // thermal clears

    const spooled = spooledEventIds();
    expect(spooled).toHaveLength(4);

    await manager.start();
    const health = await eventually(
      () => manager.get<NodeHealth>(`/api/v1/nodes/${nodeId}/health`),
      (h) => h.events.length >= 4,
      30_000,
    );
    expect(health.events.map((e) => e.eventId)).toEqual(spooled);
    expect(health.events.map((e) => e.sequence)).toEqual([1, 2, 3, 4]);
    expect(health.events[0]!.changes.map((c) => `${c.kind} ${c.condition.code}`)).toEqual(['appeared temperature-high', 'appeared thermal-slowdown']);
    expect(health.events[3]!.changes.map((c) => `${c.kind} ${c.condition.code}`)).toEqual(['cleared temperature-high', 'cleared thermal-slowdown']);
    expect(health.conditions.map((c) => `${c.component} ${c.code} ${c.severity} ${c.remediation}`)).toEqual(['gpu:0000:58:00 pcie-width-degraded warning replace']);
    expect(health.overall).toEqual({ severity: 'warning', remediation: 'replace' });

    // Nothing arrives twice, however many reconnects happen.
    await new Promise((r) => setTimeout(r, 1500));
    const again = await manager.get<NodeHealth>(`/api/v1/nodes/${nodeId}/health`);
    expect(again.events.map((e) => e.eventId)).toEqual(spooled);
    const listed = (await manager.nodes()).items[0]!;
    expect(listed.health).toEqual({ severity: 'warning', remediation: 'replace', conditionCount: 1 });
  });
});
