import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emptyInventory, queuedProgress } from '@metalfleet/domain';
import { giveNode, startTestApp, testTime as at, type TestApp } from './test-app.ts';

let t: TestApp;
beforeAll(async () => { t = await startTestApp(); });
afterAll(async () => { await t.close(); });

// Operations name their nodes by host name (issue 23); a tenant-scoped token sees them only for the nodes its tenant
// holds now (hostile review: a node's next tenant names it, and that name is the next tenant's).
describe('operation host names for a tenant-scoped token', () => {
  it("are not shown in a tenant's old operation once the node is another tenant's", async () => {
    const a = (await t.inject({ method: 'POST', url: '/api/v1/tenants', payload: { name: 'tenant-a' } })).json<{ id: string }>().id;
    const b = (await t.inject({ method: 'POST', url: '/api/v1/tenants', payload: { name: 'tenant-b-secret-project' } })).json<{ id: string }>().id;
    const tokA = (await t.inject({ method: 'POST', url: '/api/v1/tokens', payload: { name: 'a', role: 'viewer', tenantId: a } })).json<{ token: string }>().token;
    await giveNode(t.store, 'n2', a);
    await t.store.createOperation(
      { id: 'op-a', kind: 'reimage', state: 'succeeded', image: { name: 'ubuntu', version: '24.04' }, priority: 0, urgent: false, actor: 'a', reason: 'r', createdAt: at, updatedAt: at },
      [{ operationId: 'op-a', nodeId: 'n2', position: 0, rack: '', tenant: a, progress: { ...queuedProgress(), phase: 'done' }, commandId: null, updatedAt: at }]);
    // n2 goes back to the fleet, then to tenant B, whose OS names it.
    await giveNode(t.store, 'n2', null);
    await giveNode(t.store, 'n2', b);
    await t.store.updateRegistration({ id: 'n2', hostname: 'b-llm-secret-07', identity: { systemUuid: 'uuid-2', systemSerial: '', chassisSerial: '', boardSerial: '', macs: ['aa:bb:cc:00:00:01'], bmcAddress: '' }, inventory: emptyInventory(), agentVersion: '0.1.0', credentialHash: 'h', at });
    const asA = (url: string) => t.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${tokA}` } });
    expect((await asA('/api/v1/nodes/n2')).statusCode).toBe(404);
    const op = await asA('/api/v1/operations/op-a');
    expect(op.statusCode).toBe(200);
    expect(op.json<{ nodes: Array<{ nodeId: string; hostname: string }> }>().nodes).toEqual([expect.objectContaining({ nodeId: 'n2', hostname: '' })]);
    // The operators' view names it.
    const full = await t.inject({ method: 'GET', url: '/api/v1/operations/op-a' });
    expect(full.json<{ nodes: Array<{ hostname: string }> }>().nodes[0]?.hostname).toBe('b-llm-secret-07');
  });
});
