// A reimage with acceptance after it (--acceptance-after-reimage), on the
// fleet harness: each node enters acceptance testing in its new image, off its
// tenant's network; the lifecycle's verdict ends its entry.
import { afterEach, describe, expect, it } from 'vitest';
import { queuedProgress } from '@metalfleet/domain';
import { openSqliteFleetStore } from '@metalfleet/store';
import { startFleet, until } from '../fleet-harness.test-kit.ts';

const t0 = new Date('2026-11-21T10:00:00Z');
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function fleet(options: Parameters<typeof startFleet>[0]) {
  const f = await startFleet(options);
  closers.push(f.close);
  return f;
}

describe('acceptance after a reimage', () => {
  it('acceptance-tests a reimaged node before it serves again (--acceptance-after-reimage): passed, back to its tenant; failed, the node is replaced and the entry says why', async () => {
    const store = openSqliteFleetStore({ path: ':memory:' });
    const f = await fleet({ now: () => t0, store, acceptAfterReimage: true });
    const tenant = await f.tenants.create('training');
    await f.templates.create({ name: 'train', image: { name: 'gpu-os', version: '1' }, tenantId: tenant.id, nodeCount: 2, profile: { gpuModel: '', gpuCount: 0, minMemoryBytes: 0 } });
    for (const id of ['n1', 'n2', 'spare']) await f.addNode(id);
    for (const id of ['n1', 'n2']) await f.activeIn(tenant.id, id);
    // Both were reimaged, their new image installed and healthy when the manager stopped: it resumes each at its health check.
    const operation = { id: 'op', kind: 'reimage' as const, state: 'running' as const, image: { name: 'gpu-os', version: '1' }, priority: 0, urgent: false, actor: 'test', reason: 'r', createdAt: t0, updatedAt: t0 };
    const checking = { ...queuedProgress(), phase: 'health-check' as const, message: 'checking health in the new image' };
    await store.createOperation(operation, ['n1', 'n2'].map((nodeId, position) => ({ operationId: 'op', nodeId, position, rack: '', tenant: tenant.id, progress: checking, commandId: null, updatedAt: t0 })));
    for (const id of ['n1', 'n2']) await f.lifecycle.apply(id, 'provision', 'reimage op', 'reimage to gpu-os@1');
    const running = await f.reimages.start(20);
    closers.push(running.stop);
    // Each enters acceptance testing, off its tenant's network still.
    await until(() => Promise.all(['n1', 'n2'].map(f.node)), (nodes) => nodes.every((n) => n.state === 'accepting'), 'both nodes accepting');
    expect((await store.operationNodes('op')).map((e) => e.progress.phase)).toEqual(['accepting', 'accepting']);
    // The acceptance controller's verdicts: n1 passed, n2 failed.
    expect(await f.lifecycle.apply('n1', 'acceptance-passed', 'acceptance', 'acceptance passed (sim): 20 checks')).toMatchObject({ ok: true, to: 'active' });
    expect(await f.lifecycle.apply('n2', 'acceptance-failed', 'acceptance', 'acceptance failed (sim): nvlink: GPU 5: 2 at 13.281 GB/s of 26.562')).toMatchObject({ ok: true, to: 'failed' });
    const finished = await until(() => store.getOperation('op'), (o) => o?.state !== 'running', 'the operation to finish');
    expect(finished?.state).toBe('failed');
    const [n1, n2] = await store.operationNodes('op');
    expect(n1?.progress).toMatchObject({ phase: 'done' });
    expect(n2?.progress.failure).toEqual({ code: 'acceptance-failed', phase: 'accepting', details: 'the node is failed: acceptance failed (sim): nvlink: GPU 5: 2 at 13.281 GB/s of 26.562' });
    expect(await f.node('n1')).toMatchObject({ state: 'active', tenant: tenant.id });
    // The tenant loses n2 as it loses any serving node: out of the tenant, the spare allocated and reimaged in its place.
    expect(await f.node('n2')).toMatchObject({ state: 'failed', tenant: null });
    expect(await f.node('spare')).toMatchObject({ tenant: tenant.id });
  });

});
