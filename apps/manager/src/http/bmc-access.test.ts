// Who may point the manager at a BMC: the manager connects there with the
// BMC's credentials, so an address outside --bmc-networks is an admin's call
// alone. Refused, nothing is stored and nothing connects. The audit log says
// who changed which node's BMC to which address, never the password.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { giveNode, startTestApp, type TestApp } from './test-app.ts';

let t: TestApp;
let listener: Server;
let listenerPort = 0;
const received: IncomingHttpHeaders[] = [];
let connections = 0;
const bearer: Record<string, string> = {};
let tenantId = '';

const as = (who: string, method: 'PUT' | 'POST', url: string, payload: object) =>
  t.app.inject({ method, url, payload, headers: { authorization: `Bearer ${bearer[who] ?? ''}` } });
const bmc = (address: string, port = 623) => ({ driver: 'redfish', address, port, username: 'root', password: 'calvin-secret', https: false });

beforeAll(async () => {
  // A listener where the attacker wants the manager to connect (with the BMC's Basic credentials).
  listener = createServer((request, response) => {
    received.push(request.headers);
    response.writeHead(503).end();
  });
  listener.on('connection', () => (connections += 1));
  await new Promise<void>((done) => listener.listen(0, '127.0.0.1', done));
  const address = listener.address();
  listenerPort = typeof address === 'object' && address ? address.port : 0;
  t = await startTestApp({ bmcNetworks: '10.1.0.0/16, fd00:b0c::/32' });
  tenantId = (await t.inject({ method: 'POST', url: '/api/v1/tenants', payload: { name: 'tenant-a' } })).json<{ id: string }>().id;
  await giveNode(t.store, 'n2', tenantId);
  for (const [name, role, scope] of [['tenant-operator', 'operator', tenantId], ['operator', 'operator', null]] as const) {
    bearer[name] = (await t.inject({ method: 'POST', url: '/api/v1/tokens', payload: { name, role, tenantId: scope } })).json<{ token: string }>().token;
  }
  bearer['admin'] = t.bearer['admin'] ?? '';
});

afterAll(async () => {
  await t.close();
  await new Promise((done) => listener.close(done));
});

describe('PUT /api/v1/nodes/:id/bmc and POST /api/v1/enrollments', () => {
  it('refuses an operator a BMC address outside --bmc-networks: 403, nothing stored, the listener never reached', async () => {
    const res = await as('operator', 'PUT', '/api/v1/nodes/n2/bmc', bmc('127.0.0.1', listenerPort));
    expect([res.statusCode, res.json().error]).toEqual([403, {
      code: 'permission-denied', message: 'BMC address 127.0.0.1 is outside the BMC networks (10.1.0.0/16, fd00:b0c::/32); only admins may set it',
    }]);
    expect(await t.store.getBmc('n2')).toBeNull();
    // Power control has no BMC to go to.
    const power = await as('tenant-operator', 'POST', '/api/v1/nodes/n2/power', { action: 'cycle' });
    expect(power.statusCode).toBe(404);
    // Enrollment (which powers the machine on through the BMC at once): the same rule.
    const enroll = await as('operator', 'POST', '/api/v1/enrollments', { mac: '52:54:00:00:00:99', bmc: bmc('127.0.0.1', listenerPort), powerOn: true });
    expect(enroll.statusCode).toBe(403);
    expect(await t.store.listEnrollments()).toEqual([]);
    expect([connections, received]).toEqual([0, []]);
  });

  it('refuses a tenant-scoped operator any BMC, even inside the networks: a decoy BMC would fake the power cycle a reimage is proven by', async () => {
    // A decoy Redfish service inside --bmc-networks, with credentials the tenant chose: the manager's "power cycle" would reach it
    // while the tenant's OS never rebooted. Only unscoped operators and admins set a BMC; the tenant keeps power actions.
    const res = await as('tenant-operator', 'PUT', '/api/v1/nodes/n2/bmc', bmc('10.1.66.6'));
    expect([res.statusCode, res.json().error]).toEqual([403, { code: 'permission-denied', message: `a token scoped to tenant ${tenantId} may not use this route` }]);
    expect(await t.store.getBmc('n2')).toBeNull();
    // Power actions stay the tenant's: allowed (404 here only because no BMC is set yet, never 403).
    expect((await as('tenant-operator', 'POST', '/api/v1/nodes/n2/power', { action: 'cycle' })).statusCode).toBe(404);
    const real = { ...bmc('10.1.2.3'), password: 'calvin-secret' };
    expect((await as('operator', 'PUT', '/api/v1/nodes/n2/bmc', real)).statusCode).toBe(200);
    // Nor can it re-point the BMC an operator set.
    expect((await as('tenant-operator', 'PUT', '/api/v1/nodes/n2/bmc', bmc('10.1.66.6'))).statusCode).toBe(403);
    expect(await t.store.getBmc('n2')).toMatchObject({ address: '10.1.2.3', username: 'root' });
  });

  it('lets operators set addresses inside the networks, refuses names, and lets admins set any address', async () => {
    expect((await as('operator', 'PUT', '/api/v1/nodes/n2/bmc', bmc('10.1.2.3'))).statusCode).toBe(200);
    expect((await t.store.getBmc('n2'))?.address).toBe('10.1.2.3');
    expect((await as('operator', 'PUT', '/api/v1/nodes/n1/bmc', bmc('::ffff:10.1.9.9'))).statusCode).toBe(200);
    const named = await as('operator', 'PUT', '/api/v1/nodes/n1/bmc', bmc('bmc.attacker.example'));
    expect([named.statusCode, named.json().error.code]).toEqual([400, 'invalid-argument']);
    expect((await t.store.getBmc('n1'))?.address).toBe('::ffff:10.1.9.9');
    expect((await as('admin', 'PUT', '/api/v1/nodes/n1/bmc', bmc('192.0.2.50'))).statusCode).toBe(200);
  });

  it('without --bmc-networks only admins set BMC addresses', async () => {
    const bare = await startTestApp();
    try {
      const token = (await bare.inject({ method: 'POST', url: '/api/v1/tokens', payload: { name: 'op', role: 'operator' } })).json<{ token: string }>().token;
      const res = await bare.app.inject({ method: 'PUT', url: '/api/v1/nodes/n1/bmc', payload: bmc('10.1.2.3'), headers: { authorization: `Bearer ${token}` } });
      expect([res.statusCode, res.json().error.message]).toEqual([403, 'only admins may set a BMC address (the manager has no --bmc-networks for operators)']);
      expect((await bare.inject({ method: 'PUT', url: '/api/v1/nodes/n1/bmc', payload: bmc('10.1.2.3') })).statusCode).toBe(200);
    } finally {
      await bare.close();
    }
  });

  it('the audit log shows who changed which node\'s BMC to which address, refused attempts too, never the password', async () => {
    const audit = (await t.inject({ method: 'GET', url: '/api/v1/audit?limit=1000' })).json<{ items: Array<{ actor: string; route: string; status: number; detail: string }> }>().items;
    const bmcChanges = audit.filter((e) => e.route === 'PUT /api/v1/nodes/:id/bmc').map((e) => [e.actor, e.status, e.detail]);
    expect(bmcChanges).toContainEqual(['operator', 403, `node n2 bmc redfish 127.0.0.1:${listenerPort} user root`]);
    expect(bmcChanges).toContainEqual(['operator', 200, 'node n2 bmc redfish 10.1.2.3:623 user root']);
    expect(bmcChanges).toContainEqual(['tenant-operator', 403, '']);
    expect(bmcChanges.filter(([actor, status]) => actor === 'tenant-operator' && status === 200)).toEqual([]);
    expect(bmcChanges).toContainEqual(['test admin', 200, 'node n1 bmc redfish 192.0.2.50:623 user root']);
    expect(audit.find((e) => e.route === 'POST /api/v1/enrollments')?.detail).toBe(`enrollment 52:54:00:00:00:99 bmc redfish 127.0.0.1:${listenerPort} user root`);
    expect(JSON.stringify(audit)).not.toContain('calvin-secret');
  });
});

describe('POST /api/v1/tokens', () => {
  it('refuses "tenantId": "" (it came out as an unscoped token) with a clear 400, and makes no token', async () => {
    const before = (await t.inject({ method: 'GET', url: '/api/v1/tokens' })).json<{ items: unknown[] }>().items.length;
    for (const tenant of ['', '  ']) {
      const res = await t.inject({ method: 'POST', url: '/api/v1/tokens', payload: { name: 'sneaky', role: 'operator', tenantId: tenant } });
      expect([res.statusCode, res.json().error]).toEqual([400, {
        code: 'invalid-argument', message: 'tenantId must name a tenant; leave it out (or null) for a token that is not scoped to one',
      }]);
    }
    expect((await t.inject({ method: 'GET', url: '/api/v1/tokens' })).json<{ items: unknown[] }>().items.length).toBe(before);
  });
});
