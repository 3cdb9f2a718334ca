// A fault that comes back after a repair escalates: the software remedy is not
// tried again, the node goes back to repair, and its history says why.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLifecycle } from '@metalfleet/fleet';
import { startTestApp, testTime, type TestApp } from './test-app.ts';

const cohorts = { fleet: 'fleet', pool: 'spares', rack: 'unknown', tenant: 'none', vendor: 'unknown', model: 'unknown', gpuModel: 'none', bios: 'unknown', vbios: 'none', driver: 'none', firmware: 'unknown' };
const gsp = (since: Date) => ({ component: 'gpu:0000:1b:00', code: 'xid-119', severity: 'critical' as const, remediation: 'reset-gpu' as const, message: 'GSP RPC timeout', since });

describe('repeat faults', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  const raise = async (nodeId: string, eventId: string, since: Date) => {
    await t.store.applyHealthEvent(nodeId, { eventId, sequence: 1, at: since, receivedAt: since, changes: [{ kind: 'appeared', condition: gsp(since) }] });
    t.events.emit({ type: 'health-changed', nodeId, eventId, changes: ['appeared gpu:0000:1b:00 xid-119'], at: since });
  };
  const node = async (id: string) => (await t.inject({ method: 'GET', url: `/api/v1/nodes/${id}` })).json<{ state: string; history: Array<{ to: string; reason: string }> }>();

  it('the same XID on a spare after its repair sends it back to repair; without the repair it waits for its next reimage', async () => {
    const lifecycle = createLifecycle({ store: t.store, events: t.events, now: () => new Date(testTime.getTime() + 5000) });
    for (const id of ['n1', 'n2']) {
      for (const event of ['inspect', 'inspection-passed'] as const) expect((await lifecycle.apply(id, event, 'test', 'setup')).ok).toBe(true);
    }
    for (const event of ['fail', 'repair', 'repaired', 'inspection-passed'] as const) expect((await lifecycle.apply('n1', event, 'test', 'GSP timeouts')).ok).toBe(true);
    for (const id of ['n1', 'n2']) await t.store.recordFailure({ nodeId: id, kind: 'critical-condition', code: 'xid-119', at: new Date(testTime.getTime() - 86_400_000), cohorts });

    await raise('n1', 'e-n1', new Date(testTime.getTime() + 60_000));
    await raise('n2', 'e-n2', new Date(testTime.getTime() + 60_000));
    await expect.poll(async () => (await node('n1')).state, { timeout: 5000 }).toBe('repair');
    expect((await node('n1')).history.at(-1)?.reason).toBe(`sent to repair with its evidence: gpu:0000:1b:00 xid-119: GSP RPC timeout; came back after the node was repaired at ${new Date(testTime.getTime() + 5000).toISOString()}: escalated to repair`);
    expect((await node('n2')).state).toBe('available');
  });
});
