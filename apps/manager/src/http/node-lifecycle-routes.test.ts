// The way back from failed and repair (issue 22): a node whose reimage failed
// is retried, sent to repair, marked repaired with its ticket, or retired;
// every refusal names what the node's state allows and changes nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queuedProgress } from '@metalfleet/domain';
import { startTestApp, testTime, type TestApp } from './test-app.ts';

let t: TestApp;
let tenantId = '';
let tenantOperator = '';
const act = (nodeId: string, action: string, payload: unknown, bearer?: string) => (bearer
  ? t.app.inject({ method: 'POST', url: `/api/v1/nodes/${nodeId}/${action}`, payload: payload as object, headers: { authorization: `Bearer ${bearer}` } })
  : t.inject({ method: 'POST', url: `/api/v1/nodes/${nodeId}/${action}`, payload: payload as object }));
const node = async (nodeId: string) => (await t.inject({ method: 'GET', url: `/api/v1/nodes/${nodeId}` }))
  .json<{ state: string; tenant: string | null; actions: string[]; history: Array<{ event: string; actor: string; reason: string }> }>();

beforeAll(async () => {
  t = await startTestApp();
  tenantId = (await t.inject({ method: 'POST', url: '/api/v1/tenants', payload: { name: 'tenant-a' } })).json<{ id: string }>().id;
  tenantOperator = (await t.inject({ method: 'POST', url: '/api/v1/tokens', payload: { name: 'tenant-op', role: 'operator', tenantId } })).json<{ token: string }>().token;
  for (const nodeId of ['n1', 'n2']) {
    await t.store.transitionNode(nodeId, 'discovered', 'inspecting', 'inspect', { actor: 'test', reason: 'test', at: testTime });
    await t.store.transitionNode(nodeId, 'inspecting', 'available', 'inspection-passed', { actor: 'test', reason: 'test', at: testTime });
  }
  // n1's reimage into the tenant fails: it leaves the tenant (its failure asks for a replacement) and sits in failed.
  expect((await t.inject({ method: 'POST', url: `/api/v1/tenants/${tenantId}/nodes`, payload: { nodeId: 'n1' } })).statusCode).toBe(200);
  expect((await t.inject({ method: 'POST', url: '/api/v1/nodes/n1/lifecycle', payload: { event: 'provision', reason: 'test' } })).statusCode).toBe(204);
  await t.store.transitionNode('n1', 'provisioning', 'failed', 'provision-failed', { actor: 'reimage', reason: 'install failed', at: testTime });
  await t.store.setNodeTenant('n1', null);
});

afterAll(async () => {
  await t.close();
});

describe('the ways out of failed and repair', () => {
  it('shows a failed node only what it allows, and refuses a replacement naming them, with nothing changed', async () => {
    expect(await node('n1')).toMatchObject({ state: 'failed', tenant: null, actions: ['power-cycle', 'retry', 'repair', 'retire'] });
    const replace = await t.inject({ method: 'POST', url: '/api/v1/nodes/n1/replace', payload: { reason: 'try' } });
    expect([replace.statusCode, replace.json().error.message]).toEqual([409,
      'replace is not allowed for node n1 (failed): only a tenant\'s allocated, provisioning, accepting or active node is replaced; allowed: power-cycle, retry, repair, retire']);
    expect((await node('n1')).state).toBe('failed');
  });

  it('sends it to repair, refuses what repair does not allow, and marks it repaired with the note and ticket in its history', async () => {
    const repair = await act('n1', 'repair', { reason: 'GPU 3 fell off the bus' });
    expect([repair.statusCode, repair.json()]).toEqual([200, { nodeId: 'n1', from: 'failed', to: 'repair', actions: ['power-cycle', 'repaired', 'retire'] }]);
    const retry = await act('n1', 'retry', { reason: 'again' });
    expect([retry.statusCode, retry.json().error.message]).toEqual([409,
      'retry is not allowed for node n1 (repair): only a failed node out of its tenant is retried (a tenant\'s node leaves it by a replacement or a release first); ' +
      'allowed: power-cycle, repaired, retire']);
    const repaired = await act('n1', 'repaired', { reason: 'GPU 3 replaced (serial 1650924060621)', ticket: 'RMA-4411' });
    expect(repaired.json()).toEqual({ nodeId: 'n1', from: 'repair', to: 'inspecting', actions: ['power-cycle', 'retire'] });
    expect((await node('n1')).history.slice(-2).map((h) => [h.event, h.actor, h.reason])).toEqual([
      ['repair', 'api test admin', 'GPU 3 fell off the bus'],
      ['repaired', 'api test admin', 'GPU 3 replaced (serial 1650924060621) (ticket RMA-4411)'],
    ]);
  });

  it('retries a failed node: inspected again, it rejoins the pool when healthy', async () => {
    await t.store.transitionNode('n1', 'inspecting', 'failed', 'inspection-failed', { actor: 'inspection', reason: 'gpu 3 Xid 79', at: testTime });
    const retry = await act('n1', 'retry', { reason: 'reseated the riser' });
    expect(retry.json()).toMatchObject({ from: 'failed', to: 'inspecting' });
    expect((await node('n1')).state).toBe('inspecting');
  });

  it('retires for good: nothing is allowed afterwards', async () => {
    expect((await act('n1', 'retire', { reason: 'third GPU failure this quarter' })).json()).toMatchObject({ to: 'retired', actions: [] });
    const again = await act('n1', 'repaired', { reason: 'x' });
    expect([again.statusCode, again.json().error.message]).toEqual([409,
      'repaired is not allowed for node n1 (retired): only a node in repair, out of any tenant, is marked repaired; allowed: nothing (retired is final)']);
    expect((await node('n1')).actions).toEqual([]);
  });

  it('refuses bad input and unknown nodes, changing nothing', async () => {
    expect((await act('n2', 'retire', {})).statusCode).toBe(400);
    expect((await act('n2', 'retire', { reason: '' })).statusCode).toBe(400);
    expect((await act('n2', 'retire', { reason: 'x', extra: 1 })).statusCode).toBe(400);
    expect((await act('n2', 'retire', { reason: 'x'.repeat(501) })).statusCode).toBe(400);
    expect((await act('nope', 'retire', { reason: 'x' })).statusCode).toBe(404);
    expect((await node('n2')).state).toBe('available');
  });

  it('is not for tenant-scoped tokens', async () => {
    await t.inject({ method: 'POST', url: `/api/v1/tenants/${tenantId}/nodes`, payload: { nodeId: 'n2' } });
    expect((await act('n2', 'retire', { reason: 'mine' }, tenantOperator)).statusCode).toBe(403);
    expect((await node('n2')).state).toBe('allocated');
  });

  it('retires no tenant\'s node (it would leave the tenant a node short, for good): replace or release it first', async () => {
    const res = await act('n2', 'retire', { reason: 'old' });
    expect([res.statusCode, res.json().error.message]).toEqual([409, 'retire is not allowed for node n2 (allocated, in tenant ' + tenantId +
      '): only a node in no tenant is retired (replace or release a tenant\'s node first); retired is final; allowed: reimage, replace, drain, power-cycle, release']);
    expect(await node('n2')).toMatchObject({ state: 'allocated', tenant: tenantId });
  });

  it('retires no node a reimage still holds (its next step would power it on and install on it), and audits why', async () => {
    expect((await t.inject({ method: 'DELETE', url: `/api/v1/tenants/${tenantId}/nodes/n2` })).statusCode).toBe(200);
    await t.store.transitionNode('n2', 'releasing', 'available', 'released', { actor: 'test', reason: 'wiped', at: testTime });
    await t.store.createOperation({ id: 'op-1', kind: 'reimage', state: 'running', image: { name: 'gpu-os', version: '1' }, priority: 0, urgent: false, actor: 'test', reason: 'test', createdAt: testTime, updatedAt: testTime },
      [{ operationId: 'op-1', nodeId: 'n2', position: 0, rack: '', tenant: null, progress: queuedProgress(), commandId: null, updatedAt: testTime }], []);
    const res = await act('n2', 'retire', { reason: 'fans', ticket: 'T-9' });
    expect([res.statusCode, res.json().error.message]).toEqual([409, 'node n2 is still in reimage operation op-1 (queued): wait for it to end, or cancel it']);
    expect((await node('n2')).state).toBe('available');
    const audit = (await t.inject({ method: 'GET', url: '/api/v1/audit?limit=1000' })).json<{ items: Array<{ route: string; status: number; detail: string }> }>().items;
    expect(audit.filter((e) => e.route === 'POST /api/v1/nodes/:id/retire').map((e) => [e.status, e.detail])).toContainEqual([409, 'node n2 retire: fans (ticket T-9)']);
  });
});
