// Who may do what through the REST API: every route with every role, tenant
// isolation, the audit log and revocation.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { queuedProgress } from '@metalfleet/domain';
import type { FleetEvents } from '@metalfleet/fleet';
import type { FleetStore } from '@metalfleet/store';
import { giveNode, startTestApp, testTime as at, type TestApp } from './test-app.ts';

let t: TestApp;
let app: FastifyInstance;
let store: FleetStore;
let events: FleetEvents;
let bearer: Record<string, string>;
const inject: TestApp['inject'] = (options) => t.inject(options);

beforeAll(async () => {
  t = await startTestApp();
  ({ app, store, events, bearer } = t);
  // A listening port for the event stream test.
  await app.listen({ port: 0, host: '127.0.0.1' });
});

afterAll(async () => {
  await t.close();
});

describe('who may do what', () => {
  type Operation = { method: string; path: string; scopes: string[] | null };
  let operations: Operation[] = [];
  let tenantId = '';

  beforeAll(async () => {
    const spec = app.swagger() as { paths: Record<string, Record<string, { security?: Array<Record<string, string[]>> }>> };
    operations = Object.entries(spec.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({
      method: method.toUpperCase(), path, scopes: op.security === undefined ? null : (op.security[0]?.['apiToken'] ?? []),
    })));
    // Two tenants: the scoped tokens' and another.
    tenantId = (await inject({ method: 'POST', url: '/api/v1/tenants', payload: { name: 'access-test' } })).json<{ id: string }>().id;
    expect((await inject({ method: 'POST', url: '/api/v1/tenants', payload: { name: 'someone-else' } })).statusCode).toBe(201);
    expect(tenantId).not.toBe('');
    for (const [name, role, scope] of [['operator', 'operator', null], ['viewer', 'viewer', null], ['tenant-operator', 'operator', tenantId], ['tenant-viewer', 'viewer', tenantId]] as const) {
      const created = await inject({ method: 'POST', url: '/api/v1/tokens', payload: { name, role, tenantId: scope } });
      expect(created.statusCode).toBe(201);
      bearer[name] = created.json<{ token: string }>().token;
    }
  });

  it('every API route declares the permission it needs; only the boot script, liveness and readiness are open', () => {
    expect(operations.length).toBeGreaterThan(35);
    const undeclared = operations.filter((o) => o.scopes === null && (o.path.startsWith('/api/v1') || o.path === '/metrics'));
    expect(undeclared.map((o) => `${o.method} ${o.path}`)).toEqual([]);
    expect(operations.filter((o) => o.scopes?.length === 0).map((o) => `${o.method} ${o.path}`).sort()).toEqual(['GET /boot/ipxe', 'GET /healthz', 'GET /readyz']);
  });

  it('a tenant-scoped operator changes only these, on its own nodes: never a BMC (the reimage evidence) nor a lifecycle step (active without a wipe)', () => {
    const tenantWrites = operations.filter((o) => o.scopes?.includes('tenant-scoped') === true && o.scopes.includes('nodes:write')).map((o) => `${o.method} ${o.path}`).sort();
    expect(tenantWrites).toEqual([
      'POST /api/v1/nodes/{id}/drain', 'POST /api/v1/nodes/{id}/power', 'POST /api/v1/nodes/{id}/reimage', 'POST /api/v1/nodes/{id}/replace',
    ]);
  });

  it('answers 401 without a valid token, 403 where the role does not allow, and lets the allowed through — every route, every role', async () => {
    const grants: Record<string, string[]> = {
      admin: ['fleet:read', 'nodes:write', 'tenants:write', 'alerts:write', 'admin'], operator: ['fleet:read', 'nodes:write', 'tenants:write', 'alerts:write'], viewer: ['fleet:read'],
      'tenant-operator': ['fleet:read', 'nodes:write'], 'tenant-viewer': ['fleet:read'],
    };
    const checked: string[] = [];
    for (const op of operations.filter((o) => (o.scopes?.length ?? 0) > 0 && o.path !== '/api/v1/events')) {
      const url = op.path.replace(/\{[^}]+\}/g, 'zz-none');
      const permission = op.scopes?.find((x) => x !== 'tenant-scoped') ?? '';
      const payload = ['POST', 'PUT'].includes(op.method) ? { zzUnknownField: 1 } : undefined;
      for (const auth of [undefined, 'Bearer mfat.nosuchtok.' + 'x'.repeat(43), 'Basic abc']) {
        const res = await app.inject({ method: op.method as 'GET', url, ...(payload ? { payload } : {}), headers: auth ? { authorization: auth } : {} });
        expect([`${op.method} ${op.path}`, res.statusCode]).toEqual([`${op.method} ${op.path}`, 401]);
      }
      for (const [role, allowed] of Object.entries(grants)) {
        const scoped = role.startsWith('tenant-');
        const may = allowed.includes(permission) && (!scoped || op.scopes?.includes('tenant-scoped') === true);
        const res = await app.inject({ method: op.method as 'GET', url, ...(payload ? { payload } : {}), headers: { authorization: `Bearer ${bearer[role] ?? ''}` } });
        const verdict = may ? ![401, 403].includes(res.statusCode) : res.statusCode === 403;
        expect([`${role} ${op.method} ${op.path}`, res.statusCode, verdict]).toEqual([`${role} ${op.method} ${op.path}`, res.statusCode, true]);
      }
      checked.push(`${op.method} ${op.path}`);
    }
    expect(checked.length).toBeGreaterThan(35);
  });

  it('a tenant-scoped token sees only its tenant\'s nodes: another tenant\'s node answers 404, like one that does not exist', async () => {
    await giveNode(store, 'n1', null);
    await giveNode(store, 'n2', tenantId);
    const as = (role: string, url: string) => app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${bearer[role] ?? ''}` } });
    expect((await as('tenant-viewer', '/api/v1/nodes')).json<{ items: Array<{ id: string }> }>().items.map((n) => n.id)).toEqual(['n2']);
    expect((await as('tenant-viewer', '/api/v1/nodes?tenant=someone-else')).json<{ items: Array<{ id: string }> }>().items.map((n) => n.id)).toEqual(['n2']);
    expect((await as('tenant-viewer', '/api/v1/nodes/n2')).statusCode).toBe(200);
    const foreign = await as('tenant-viewer', '/api/v1/nodes/n1');
    const missing = await as('tenant-viewer', '/api/v1/nodes/n9');
    expect([foreign.statusCode, foreign.json()]).toEqual([404, { error: { code: 'not-found', message: 'no node n1' } }]);
    expect(missing.json()).toEqual({ error: { code: 'not-found', message: 'no node n9' } });
    const reimage = await app.inject({ method: 'POST', url: '/api/v1/nodes/n1/reimage', payload: { image: 'ubuntu@24.04' }, headers: { authorization: `Bearer ${bearer['tenant-operator'] ?? ''}` } });
    expect(reimage.statusCode).toBe(404);
    // Its own tenant only; another tenant answers 404.
    const all = (await inject({ method: 'GET', url: '/api/v1/tenants' })).json<{ items: Array<{ id: string }> }>().items.map((t) => t.id);
    expect((await as('tenant-viewer', '/api/v1/tenants')).json<{ items: Array<{ id: string }> }>().items.map((t) => t.id)).toEqual([tenantId]);
    for (const other of all.filter((id) => id !== tenantId)) expect((await as('tenant-viewer', `/api/v1/tenants/${other}`)).statusCode).toBe(404);
    // Operations: only those on its nodes, and only its nodes in them. One across both tenants' nodes, one on the other's only.
    // One open entry per node: n1's entry in the other operation has ended.
    for (const [id, nodes, phase] of [['op-mixed', [['n1', null], ['n2', tenantId]], 'queued'], ['op-other', [['n1', null]], 'done']] as const) {
      const progress = { ...queuedProgress(), phase };
      await store.createOperation(
        { id, kind: 'reimage', state: 'running', image: { name: 'ubuntu', version: '24.04' }, priority: 0, urgent: false, actor: 'test', reason: 'scope', createdAt: at, updatedAt: at },
        nodes.map(([nodeId, tenant], position) => ({ operationId: id, nodeId, position, rack: '', tenant, progress, commandId: null, updatedAt: at })),
      );
    }
    const ops = (await inject({ method: 'GET', url: '/api/v1/operations' })).json<{ items: Array<{ id: string }> }>().items;
    const seen = (await as('tenant-viewer', '/api/v1/operations')).json<{ items: Array<{ id: string }> }>().items.map((o) => o.id);
    for (const op of ops) {
      const detail = (await inject({ method: 'GET', url: `/api/v1/operations/${op.id}` })).json<{ nodes: Array<{ nodeId: string; hostname: string; tenant: string | null }> }>();
      // Each node with its host name, not only its id (issue 23: a replacement showed as an id).
      for (const n of detail.nodes) expect(n.hostname).toBe((await store.getNodeSummary(n.nodeId))?.hostname);
      expect(detail.nodes.every((n) => n.hostname !== '')).toBe(true);
      const theirs = detail.nodes.filter((n) => n.tenant === tenantId).length;
      const scoped = await as('tenant-viewer', `/api/v1/operations/${op.id}`);
      expect([op.id, scoped.statusCode, seen.includes(op.id)]).toEqual([op.id, theirs > 0 ? 200 : 404, theirs > 0]);
      if (theirs > 0) expect(scoped.json<{ progress: { total: number } }>().progress.total).toBe(theirs);
    }
    expect(ops.length).toBeGreaterThan(0);
    expect((await as('tenant-operator', '/api/v1/fabric')).statusCode).toBe(403);

    // The event stream: its nodes' and operations' events, not the other tenant's.
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const abort = new AbortController();
    const response = await fetch(`http://127.0.0.1:${port}/api/v1/events`, { signal: abort.signal, headers: { authorization: `Bearer ${bearer['tenant-viewer'] ?? ''}` } });
    const reader = response.body?.getReader();
    const decoder = new TextDecoder();
    let text = decoder.decode((await reader?.read())?.value);
    events.emit({ type: 'presence-changed', nodeId: 'n1', presence: 'offline', reason: 'other tenant', at });
    events.emit({ type: 'operation-finished', operationId: 'op-other', state: 'succeeded', done: 1, failed: 0, at });
    events.emit({ type: 'operation-finished', operationId: 'op-mixed', state: 'succeeded', done: 2, failed: 0, at });
    events.emit({ type: 'presence-changed', nodeId: 'n2', presence: 'offline', reason: 'own tenant', at });
    while (!text.includes('own tenant')) text += decoder.decode((await reader?.read())?.value);
    abort.abort();
    expect([...text.matchAll(/^data: (.*)$/gm)].map((m) => JSON.parse(m[1] ?? '{}') as { type: string; nodeId?: string; operationId?: string })
      .map((e) => `${e.type} ${e.nodeId ?? e.operationId ?? ''}`)).toEqual(['operation-finished op-mixed', 'presence-changed n2']);
  });

  it('keeps an audit log of every mutating call, refused ones too, readable by admins only', async () => {
    const audit = (await inject({ method: 'GET', url: '/api/v1/audit?limit=1000' })).json<{ items: Array<{ actor: string; route: string; target: string; status: number; error: string }> }>().items;
    expect(audit).toContainEqual(expect.objectContaining({ actor: 'tenant-operator', route: 'POST /api/v1/nodes/:id/reimage', target: '/api/v1/nodes/n1/reimage', status: 404, error: 'no node n1' }));
    expect(audit).toContainEqual(expect.objectContaining({ actor: 'anonymous', status: 401, error: 'API token missing: send Authorization: Bearer <token>' }));
    expect(audit).toContainEqual(expect.objectContaining({ actor: 'test admin', route: 'POST /api/v1/tokens', status: 201 }));
    expect(audit.some((e) => e.route.startsWith('GET '))).toBe(false);
    const asOperator = await app.inject({ method: 'GET', url: '/api/v1/audit', headers: { authorization: `Bearer ${bearer['operator'] ?? ''}` } });
    expect([asOperator.statusCode, asOperator.json().error.message]).toEqual([403, 'role operator may not admin']);
  });

  it('revokes a token: it stops working at once', async () => {
    const tokens = (await inject({ method: 'GET', url: '/api/v1/tokens' })).json<{ items: Array<{ id: string; name: string }> }>().items;
    const viewer = tokens.find((t) => t.name === 'viewer');
    expect((await inject({ method: 'DELETE', url: `/api/v1/tokens/${viewer?.id ?? ''}` })).statusCode).toBe(204);
    const res = await app.inject({ method: 'GET', url: '/api/v1/nodes', headers: { authorization: `Bearer ${bearer['viewer'] ?? ''}` } });
    expect([res.statusCode, res.json().error.message]).toEqual([401, `API token ${viewer?.id ?? ''} was revoked`]);
    expect(JSON.stringify(tokens)).not.toContain(bearer['viewer']?.split('.')[2]);
  });
});
