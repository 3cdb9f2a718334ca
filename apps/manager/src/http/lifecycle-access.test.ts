// Who may report a provisioning step by hand. `provisioned` makes a node
// active for its tenant (its port on the tenant's VLAN), which otherwise only
// a verified wipe and reimage does: a tenant that could send it would get the
// previous tenant's disk, or keep its own OS, on a node the fleet believes
// reimaged. So tenant-scoped tokens may not; unscoped operators and admins
// may (a step the manager cannot see), and the audit log says who did what.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, testTime, type TestApp } from './test-app.ts';

let t: TestApp;
let tenantId = '';
const bearer: Record<string, string> = {};
const report = (who: string, nodeId: string, event: string) =>
  t.app.inject({ method: 'POST', url: `/api/v1/nodes/${nodeId}/lifecycle`, payload: { event, reason: `by ${who}` }, headers: { authorization: `Bearer ${bearer[who] ?? ''}` } });
const stateOf = async (nodeId: string) => (await t.inject({ method: 'GET', url: `/api/v1/nodes/${nodeId}` })).json<{ state: string }>().state;

beforeAll(async () => {
  t = await startTestApp();
  tenantId = (await t.inject({ method: 'POST', url: '/api/v1/tenants', payload: { name: 'tenant-a' } })).json<{ id: string }>().id;
  for (const [name, role, scope] of [['tenant-operator', 'operator', tenantId], ['operator', 'operator', null]] as const) {
    bearer[name] = (await t.inject({ method: 'POST', url: '/api/v1/tokens', payload: { name, role, tenantId: scope } })).json<{ token: string }>().token;
  }
  for (const nodeId of ['n1', 'n2']) {
    await t.store.transitionNode(nodeId, 'discovered', 'inspecting', 'inspect', { actor: 'test', reason: 'test', at: testTime });
    await t.store.transitionNode(nodeId, 'inspecting', 'available', 'inspection-passed', { actor: 'test', reason: 'test', at: testTime });
    // The admin allocates the node to the tenant: it waits, allocated, for its wipe and reimage.
    expect((await t.inject({ method: 'POST', url: `/api/v1/tenants/${tenantId}/nodes`, payload: { nodeId } })).statusCode).toBe(200);
  }
});

afterAll(async () => {
  await t.close();
});

describe('POST /api/v1/nodes/:id/lifecycle', () => {
  it('refuses a tenant-scoped operator every step on its own node: the node never becomes active without a reimage', async () => {
    expect(await stateOf('n2')).toBe('allocated');
    for (const event of ['provision', 'provisioned', 'released']) {
      const res = await report('tenant-operator', 'n2', event);
      expect([event, res.statusCode, res.json().error]).toEqual([event, 403, { code: 'permission-denied', message: `a token scoped to tenant ${tenantId} may not use this route` }]);
    }
    expect(await stateOf('n2')).toBe('allocated');
  });

  it('lets an unscoped operator report the steps by hand, and audits who reported what', async () => {
    expect((await report('operator', 'n1', 'provision')).statusCode).toBe(204);
    expect((await report('operator', 'n1', 'provisioned')).statusCode).toBe(204);
    expect(await stateOf('n1')).toBe('active');
    const audit = (await t.inject({ method: 'GET', url: '/api/v1/audit?limit=1000' })).json<{ items: Array<{ actor: string; route: string; status: number; detail: string }> }>().items
      .filter((e) => e.route === 'POST /api/v1/nodes/:id/lifecycle').map((e) => [e.actor, e.status, e.detail]);
    expect(audit).toContainEqual(['operator', 204, 'node n1 lifecycle provisioned']);
    expect(audit).toContainEqual(['tenant-operator', 403, '']);
  });
});
