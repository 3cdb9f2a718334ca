import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import type { FleetEvents } from '@metalfleet/fleet';
import type { FleetStore } from '@metalfleet/store';
import { startTestApp, testTime as at, type TestApp } from './test-app.ts';

let t: TestApp;
let app: FastifyInstance;
let store: FleetStore;
let events: FleetEvents;
let bearer: Record<string, string>;
const inject: TestApp['inject'] = (options) => t.inject(options);

beforeAll(async () => {
  t = await startTestApp();
  ({ app, store, events, bearer } = t);
});

afterAll(async () => {
  await t.close();
});

describe('REST API', () => {
  it('answers /healthz with version and uptime', async () => {
    const res = await inject({ method: 'GET', url: '/healthz' });
    expect(res.json()).toEqual({ status: 'ok', version: '9.9.9', uptimeSeconds: 5 });
  });

  it('answers /readyz 200 while the store answers, and 503 naming the store while it does not', async () => {
    expect((await inject({ method: 'GET', url: '/readyz' })).json()).toMatchObject({ status: 'ready', checks: { store: { ready: true, message: '' } } });
    const real = store.availability;
    const errors = { unreachable: 1, 'disk-full': 0, 'not-writable': 0 };
    store.availability = async () => ({
      available: false, since: at.getTime(), problem: 'unreachable', message: 'the fleet store (PostgreSQL) is unreachable', reason: 'connect ECONNREFUSED', errors,
    });
    try {
      const down = await inject({ method: 'GET', url: '/readyz' });
      expect([down.statusCode, down.json()]).toEqual([503, {
        status: 'not-ready', checks: { store: { ready: false, since: at.toISOString(), problem: 'unreachable', message: 'the fleet store (PostgreSQL) is unreachable' } },
      }]);
      expect((await inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
      store.availability = async () => ({
        available: false, since: at.getTime(), problem: 'disk-full', message: "the manager's disk is full: /var/lib/metalfleet", reason: 'database or disk is full', errors,
      });
      expect((await inject({ method: 'GET', url: '/readyz' })).json()).toMatchObject({
        status: 'not-ready', checks: { store: { ready: false, problem: 'disk-full', message: "the manager's disk is full: /var/lib/metalfleet" } },
      });
    } finally {
      store.availability = real;
    }
  });

  it('lists nodes, filtered by presence', async () => {
    const all = (await inject({ method: 'GET', url: '/api/v1/nodes' })).json();
    expect(all.total).toBe(2);
    expect(all.items[0]).toMatchObject({ id: 'n1', presence: 'online', state: 'discovered', registeredAt: at.toISOString(), identity: { systemUuid: 'uuid-1' } });
    const online = (await inject({ method: 'GET', url: '/api/v1/nodes?presence=online' })).json();
    expect(online.items.map((n: { id: string }) => n.id)).toEqual(['n1']);
  });

  it('sums the fleet up by state, presence and health, zeros included', async () => {
    const summary = (await inject({ method: 'GET', url: '/api/v1/summary' })).json();
    expect(summary).toMatchObject({ total: 2, byPresence: { online: 1, offline: 0, unknown: 1 }, byHealth: { ok: 2, warning: 0, critical: 0 } });
    expect(summary.byState).toMatchObject({ discovered: 2, active: 0, failed: 0 });
  });

  it('maps GPU conditions for the heatmap and lists a node\'s commands', async () => {
    const since = new Date(at.getTime() + 1000);
    await t.store.applyHealthEvent('n2', { eventId: 'heat-1', sequence: 1, at: since, receivedAt: since, changes: [
      { kind: 'appeared', condition: { component: 'gpu:0000:9b:00', code: 'xid-79', severity: 'critical', remediation: 'replace', message: 'fallen off the bus', since } },
      { kind: 'appeared', condition: { component: 'disk:/dev/nvme0n1', code: 'smart-failed', severity: 'warning', remediation: 'replace', message: 'SMART', since } },
    ] });
    const map = (await inject({ method: 'GET', url: '/api/v1/gpu-health' })).json();
    expect(map.items.find((n: { nodeId: string }) => n.nodeId === 'n2')).toMatchObject({
      host: 'warning', hostCodes: ['disk:/dev/nvme0n1 smart-failed'], gpus: [{ index: null, bus: '0000:9b:00', severity: 'critical', codes: ['xid-79'] }],
    });
    expect(map.items.find((n: { nodeId: string }) => n.nodeId === 'n1')).toMatchObject({ host: 'ok', gpus: [] });
    expect((await inject({ method: 'GET', url: '/api/v1/nodes/n1/commands' })).json()).toEqual({ items: [] });
    expect((await inject({ method: 'GET', url: '/api/v1/nodes/nope/commands' })).statusCode).toBe(404);
    await t.store.replaceConditions('n2', []);
  });

  it('refuses an invalid filter with a stable code', async () => {
    const res = await inject({ method: 'GET', url: '/api/v1/nodes?presence=sideways' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: { code: 'invalid-argument' } });
  });

  it('returns a node with its inventory, 404 for an unknown one, 400 for a malformed id', async () => {
    expect((await inject({ method: 'GET', url: '/api/v1/nodes/n2' })).json()).toMatchObject({ id: 'n2', inventory: { cpus: [], collectedAt: null }, conditions: [], history: [] });
    const missing = await inject({ method: 'GET', url: '/api/v1/nodes/n3' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toEqual({ error: { code: 'not-found', message: 'no node n3' } });
    expect((await inject({ method: 'GET', url: '/api/v1/nodes/%24bad' })).statusCode).toBe(400);
  });

  it('answers unknown routes with a JSON 404', async () => {
    const res = await inject({ method: 'GET', url: '/api/v1/nope' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ error: { code: 'not-found' } });
  });

  it('creates a bootstrap token once, lists it without its secret, and revokes it', async () => {
    const created = await inject({ method: 'POST', url: '/api/v1/bootstrap-tokens', payload: { description: 'rack 12', ttlSeconds: 3600, maxUses: 5 } });
    expect(created.statusCode).toBe(201);
    const body = created.json();
    expect(body).toMatchObject({ description: 'rack 12', state: 'active', maxUses: 5, uses: 0, token: expect.stringMatching(new RegExp(`^mfbt\\.${body.id}\\.[\\w-]+\\.${'f'.repeat(64)}$`)) });
    const listed = await inject({ method: 'GET', url: '/api/v1/bootstrap-tokens' });
    expect(listed.json().items).toEqual([expect.objectContaining({ id: body.id, state: 'active' })]);
    expect(listed.body).not.toContain(body.token.split('.')[2]);
    expect((await inject({ method: 'DELETE', url: `/api/v1/bootstrap-tokens/${body.id}` })).statusCode).toBe(204);
    expect((await inject({ method: 'DELETE', url: `/api/v1/bootstrap-tokens/${body.id}` })).json()).toMatchObject({ error: { code: 'conflict' } });
    expect((await inject({ method: 'DELETE', url: '/api/v1/bootstrap-tokens/unknown1' })).statusCode).toBe(404);
    expect((await inject({ method: 'GET', url: '/api/v1/bootstrap-tokens' })).json().items[0].state).toBe('revoked');
  });

  it('refuses bad JSON, unknown fields and out-of-range values with 400, creating nothing', async () => {
    const before = (await inject({ method: 'GET', url: '/api/v1/bootstrap-tokens' })).json().items.length;
    const badJson = await inject({ method: 'POST', url: '/api/v1/bootstrap-tokens', headers: { 'content-type': 'application/json' }, payload: '{"description": ' });
    expect(badJson.statusCode).toBe(400);
    expect(badJson.json()).toMatchObject({ error: { code: 'invalid-argument' } });
    expect((await inject({ method: 'POST', url: '/api/v1/bootstrap-tokens', payload: { ttlSeconds: 5 } })).statusCode).toBe(400);
    expect((await inject({ method: 'POST', url: '/api/v1/bootstrap-tokens', payload: { admin: true } })).statusCode).toBe(400);
    const huge = await inject({ method: 'POST', url: '/api/v1/bootstrap-tokens', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ description: 'x'.repeat(2_000_000) }) });
    expect(huge.statusCode).toBe(413);
    expect(huge.json()).toMatchObject({ error: { code: 'payload-too-large' } });
    expect((await inject({ method: 'GET', url: '/api/v1/bootstrap-tokens' })).json().items.length).toBe(before);
  });

  it('serves a GPU telemetry series, and refuses an unknown metric', async () => {
    const res = await inject({ method: 'GET', url: '/api/v1/nodes/n1/telemetry?metric=power_w&gpu=0&range=1h' });
    expect(res.json()).toEqual({ metric: 'power_w', gpu: 0, points: [{ at: new Date(at.getTime() - 60_000).toISOString(), avg: 620, min: 600, max: 640, count: 2 }] });
    expect((await inject({ method: 'GET', url: '/api/v1/nodes/n1/telemetry?metric=vibes' })).statusCode).toBe(400);
    expect((await inject({ method: 'GET', url: '/api/v1/nodes/n9/telemetry?metric=power_w' })).statusCode).toBe(404);
  });

  it('pages and filters the node list', async () => {
    const page = (await inject({ method: 'GET', url: '/api/v1/nodes?limit=1&offset=1' })).json();
    expect(page).toMatchObject({ total: 2, offset: 1, limit: 1, items: [{ id: 'n2' }] });
    expect((await inject({ method: 'GET', url: '/api/v1/nodes?q=UUID-2' })).json().items.map((n: { id: string }) => n.id)).toEqual(['n2']);
    expect((await inject({ method: 'GET', url: '/api/v1/nodes?health=critical' })).json().total).toBe(0);
    expect((await inject({ method: 'GET', url: '/api/v1/nodes?limit=5000' })).statusCode).toBe(400);
    expect((await inject({ method: 'GET', url: '/api/v1/nodes?colour=red' })).statusCode).toBe(400);
  });

  it('serves the OpenAPI document and its UI at /api/docs', async () => {
    const spec = (await inject({ method: 'GET', url: '/api/docs/json' })).json();
    expect(spec.openapi).toMatch(/^3\./);
    expect(Object.keys(spec.paths)).toEqual(expect.arrayContaining(['/api/v1/nodes', '/api/v1/nodes/{id}', '/api/v1/nodes/{id}/health', '/api/v1/nodes/{id}/telemetry', '/api/v1/bootstrap-tokens', '/api/v1/events']));
    expect((await inject({ method: 'GET', url: '/api/docs/' })).statusCode).toBe(200);
    // Grouped by resource, none under "default" (issue 23).
    const operations = Object.entries(spec.paths as Record<string, Record<string, { tags?: string[] }>>)
      .filter(([path]) => path.startsWith('/api/v1/')).flatMap(([path, methods]) => Object.values(methods).map((op) => [path, op.tags?.join() ?? 'default']));
    expect(operations.filter(([, tags]) => tags === 'default')).toEqual([]);
    expect(operations).toContainEqual(['/api/v1/nodes/{id}/health', 'nodes']);
    expect(operations).toContainEqual(['/api/v1/bootstrap-tokens', 'bootstrap-tokens']);
  });

  it('exposes Prometheus metrics: nodes by state and presence, counters from fleet events', async () => {
    events.emit({ type: 'node-registered', nodeId: 'n1', returning: false, via: 'new', at });
    events.emit({ type: 'registration-refused', reason: 'x', peer: 'p', at });
    await store.replaceConditions('n2', [
      { component: 'gpu:0000:18:00', code: 'xid-79', severity: 'critical', remediation: 'reboot', message: 'fell off the bus', since: at },
      { component: 'gpu:0000:28:00', code: 'thermal-slowdown', severity: 'warning', remediation: 'none', message: 'hot', since: at },
    ]);
    const text = (await inject({ method: 'GET', url: '/metrics' })).body;
    expect(text).toContain('metalfleet_nodes{state="discovered",presence="online"} 1');
    expect(text).toContain('metalfleet_nodes{state="discovered",presence="unknown"} 1');
    expect(text).toContain('metalfleet_registrations_total{result="new"} 1');
    expect(text).toContain('metalfleet_registrations_total{result="refused"} 1');
    expect(text).toContain('metalfleet_nodes_by_health{severity="ok"} 1');
    expect(text).toContain('metalfleet_nodes_by_health{severity="critical"} 1');
    expect(text).toContain('metalfleet_health_conditions{severity="critical"} 1');
    expect(text).toContain('metalfleet_health_conditions{severity="warning"} 1');
    expect(text).toContain('metalfleet_mqtt_clients 3');
  });

  it('streams fleet events as server-sent events', async () => {
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    const abort = new AbortController();
    const response = await fetch(`${address}/api/v1/events`, { signal: abort.signal, headers: { authorization: `Bearer ${bearer['admin'] ?? ''}` } });
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = decoder.decode((await reader.read()).value);
    events.emit({ type: 'presence-changed', nodeId: 'n2', presence: 'offline', reason: 'last will', at });
    while (!text.includes('presence-changed')) text += decoder.decode((await reader.read()).value);
    expect(text).toMatch(/event: presence-changed\ndata: \{"type":"presence-changed","nodeId":"n2","presence":"offline"/);
    abort.abort();
  });

  it('creates tenants with their own VLAN and VNI from the pools, and refuses what it cannot do', async () => {
    const create = (body: unknown) => inject({ method: 'POST', url: '/api/v1/tenants', payload: body as object });
    const acme = await create({ name: 'acme' });
    expect(acme.statusCode).toBe(201);
    expect(acme.json()).toMatchObject({ name: 'acme', vlan: 100, vni: 5000, nodes: [], ports: [] });
    expect((await create({ name: 'blue' })).json()).toMatchObject({ vlan: 101, vni: 5001 });
    expect((await create({ name: 'acme' })).json()).toEqual({ error: { code: 'conflict', message: 'a tenant named acme already exists' } });
    expect((await create({ name: 'coral' })).json()).toEqual({ error: { code: 'conflict', message: 'VLAN pool 100-101 has no free id' } });
    expect((await create({ name: 'Bad Name' })).statusCode).toBe(400);
    expect((await create({ name: 'x', vlan: 7 })).statusCode).toBe(400);
    // Created in the same (fake) millisecond: compare as a set.
    expect((await inject({ method: 'GET', url: '/api/v1/tenants' })).json().items.map((t: { name: string }) => t.name).sort()).toEqual(['acme', 'blue']);
  });

  it('allocates only an available node, and releases it from its tenant', async () => {
    const tenant = (await inject({ method: 'GET', url: '/api/v1/tenants' })).json().items[0] as { id: string };
    const allocate = (nodeId: string) => inject({ method: 'POST', url: `/api/v1/tenants/${tenant.id}/nodes`, payload: { nodeId } });
    expect((await allocate('n1')).json()).toMatchObject({ error: { code: 'conflict', message: 'node n1 is discovered; only an available node can be allocated' } });
    expect((await allocate('nobody')).statusCode).toBe(404);
    await store.transitionNode('n1', 'discovered', 'inspecting', 'inspect', { actor: 'test', reason: 'test', at });
    await store.transitionNode('n1', 'inspecting', 'available', 'inspection-passed', { actor: 'test', reason: 'test', at });
    const allocated = await allocate('n1');
    expect(allocated.json()).toMatchObject({ nodes: [{ id: 'n1', state: 'allocated' }] });
    expect((await inject({ method: 'DELETE', url: `/api/v1/tenants/${tenant.id}` })).statusCode).toBe(409);
    const released = await inject({ method: 'DELETE', url: `/api/v1/tenants/${tenant.id}/nodes/n1` });
    expect(released.json()).toMatchObject({ nodes: [] });
    expect((await store.getNodeSummary('n1'))).toMatchObject({ state: 'releasing', tenant: null });
    expect((await inject({ method: 'GET', url: '/api/v1/fabric' })).json()).toMatchObject({ provisioningVlan: 10, switches: [], ports: [], driftRepairs: 0 });
    const report = (id: string, event: string) => inject({ method: 'POST', url: `/api/v1/nodes/${id}/lifecycle`, payload: { event, reason: 'test' } });
    expect((await report('nobody', 'provisioned')).json()).toEqual({ error: { code: 'not-found', message: 'no node nobody' } });
    expect((await report('n2', 'provisioned')).json()).toMatchObject({ error: { code: 'conflict' } }); // discovered: never provisioning
    expect((await report('n1', 'released')).statusCode).toBe(204);
    expect((await store.getNodeSummary('n1'))?.state).toBe('available');
  });

  it('an admin unmaps a port: its plan and every claim on it go, trusted ones too, which no later report can remove', async () => {
    const at = new Date('2026-11-01T00:00:00Z');
    await store.recordLearnedLinks('n2', 'lldp-manager-image', [{ nodeId: 'n2', switchName: 'leaf-9', port: 'p1', mac: 'aa:bb:cc:00:00:01' }], at);
    await store.recordLearnedLinks('n2', 'lldp-manager-image', [], at);
    expect((await store.portLinks()).learned.filter((l) => l.switchName === 'leaf-9').map((l) => l.port)).toEqual(['p1']);
    expect((await inject({ method: 'DELETE', url: '/api/v1/fabric/links/leaf-9/p1' })).statusCode).toBe(204);
    expect((await store.portLinks()).learned.filter((l) => l.switchName === 'leaf-9')).toEqual([]);
  });

  describe('images, templates, reimaging, power and the boot endpoint', () => {
    const sha = 'ab'.repeat(32);
    const image = { kernelUrl: 'http://m/images/vmlinuz', initrdUrl: 'http://m/images/initrd', rootUrl: 'http://m/images/root.img', sha256: sha.toUpperCase(), cmdline: 'console=ttyS0' };

    it('keeps an image catalog and refuses a malformed image', async () => {
      expect((await inject({ method: 'PUT', url: '/api/v1/images/discovery/1', payload: image })).json()).toMatchObject({ name: 'discovery', version: '1', sha256: sha });
      expect((await inject({ method: 'PUT', url: '/api/v1/images/ubuntu/24.04', payload: image })).statusCode).toBe(200);
      expect((await inject({ method: 'GET', url: '/api/v1/images' })).json().items.map((i: { name: string }) => i.name)).toEqual(['discovery', 'ubuntu']);
      for (const bad of [{ ...image, sha256: 'xyz' }, { ...image, kernelUrl: 'ftp://x' }, { ...image, extra: 1 }]) {
        const res = await inject({ method: 'PUT', url: '/api/v1/images/ubuntu/24.04', payload: bad });
        expect(res.statusCode).toBe(400);
      }
      expect((await inject({ method: 'PUT', url: '/api/v1/images/bad%20name/1', payload: image })).statusCode).toBe(400);
      expect((await inject({ method: 'GET', url: '/api/v1/images' })).json().items).toHaveLength(2);
    });

    it('refuses to reimage a node no tenant has, an unknown image or an unknown node, and starts nothing', async () => {
      const cases = [
        { url: '/api/v1/nodes/n2/reimage', payload: { image: 'ubuntu@24.04' }, status: 409, message: 'reimage is not allowed for node n2 (discovered): only nodes allocated to a tenant or active are reimaged; allowed: power-cycle, retire' },
        { url: '/api/v1/nodes/n1/reimage', payload: { image: 'ubuntu@99' }, status: 404, message: 'no image ubuntu@99 in the catalog' },
        { url: '/api/v1/nodes/nobody/reimage', payload: { image: 'ubuntu@24.04' }, status: 404, message: 'no node nobody' },
        { url: '/api/v1/nodes/n1/reimage', payload: { image: 'no-version' }, status: 400, message: expect.any(String) },
        { url: '/api/v1/reimage', payload: { image: 'ubuntu@24.04', selector: { rack: 'nowhere' } }, status: 400, message: expect.stringContaining('no node matches') },
      ];
      for (const c of cases) {
        const res = await inject({ method: 'POST', url: c.url, payload: c.payload });
        expect([res.statusCode, res.json().error.message]).toEqual([c.status, c.message]);
      }
      expect((await inject({ method: 'GET', url: '/api/v1/operations' })).json().items).toEqual([]);
    });

    it('a template that cannot be filled allocates nothing', async () => {
      const tenant = (await inject({ method: 'GET', url: '/api/v1/tenants' })).json().items[0] as { id: string };
      const created = await inject({ method: 'POST', url: '/api/v1/templates', payload: { name: 'train', image: 'ubuntu@24.04', tenantId: tenant.id, nodeCount: 2, gpuCount: 8 } });
      expect(created.statusCode).toBe(201);
      expect((await inject({ method: 'POST', url: '/api/v1/templates', payload: { name: 'x', image: 'ubuntu@1', tenantId: tenant.id, nodeCount: 1 } })).statusCode).toBe(404);
      const applied = await inject({ method: 'POST', url: `/api/v1/templates/${created.json().id}/apply` });
      expect(applied.statusCode).toBe(409);
      expect(applied.json().error.message).toMatch(/needs 2 more node\(s\), only 0 available/);
      expect((await store.listNodes()).filter((n) => n.tenant === tenant.id)).toEqual([]);
    });

    it('enrolls a machine by its BMC and boot MAC, refuses a MAC a node has, and stores nothing when the BMC does not answer', async () => {
      const bmc = { driver: 'ipmi', address: '127.0.0.1', port: 9, username: 'admin', password: 'pw' };
      const enrolled = await inject({ method: 'POST', url: '/api/v1/enrollments', payload: { mac: '52-54-00-AA-00-01', bmc, powerOn: false } });
      expect(enrolled.statusCode).toBe(201);
      expect(enrolled.json()).toMatchObject({ mac: '52:54:00:aa:00:01', nodeId: null, power: 'unchanged', bmc: { address: '127.0.0.1', cipherSuite: 3 } });
      expect(enrolled.body).not.toContain('pw');
      const taken = await inject({ method: 'POST', url: '/api/v1/enrollments', payload: { mac: 'aa:bb:cc:00:00:01', bmc, powerOn: false } });
      expect([taken.statusCode, taken.json().error.message]).toEqual([409, expect.stringMatching(/^MAC aa:bb:cc:00:00:01 belongs to node n\d already/)]);
      // A Redfish BMC on a closed port: refused at once.
      const unreachable = await inject({ method: 'POST', url: '/api/v1/enrollments', payload: { mac: '52:54:00:aa:00:02', bmc: { ...bmc, driver: 'redfish', https: false } } });
      expect(unreachable.statusCode).toBe(503);
      expect((await inject({ method: 'GET', url: '/api/v1/enrollments' })).json().items.map((e: { mac: string }) => e.mac)).toEqual(['52:54:00:aa:00:01']);
      expect((await inject({ method: 'POST', url: '/api/v1/enrollments', payload: { mac: 'nope', bmc } })).statusCode).toBe(400);
    });

    it('power control needs a BMC, and never shows its password', async () => {
      expect((await inject({ method: 'GET', url: '/api/v1/nodes/n1/power' })).json().error.message).toMatch(/has no BMC configured/);
      const set = await inject({ method: 'PUT', url: '/api/v1/nodes/n1/bmc', payload: { driver: 'redfish', address: '127.0.0.1', port: 1, username: 'u', password: 'p', https: false } });
      expect(set.json()).toEqual({ driver: 'redfish', address: '127.0.0.1', port: 1, username: 'u', cipherSuite: 3, insecureTls: false });
      const power = await inject({ method: 'POST', url: '/api/v1/nodes/n1/power', payload: { action: 'cycle' } });
      expect([power.statusCode, power.json().error.code]).toEqual([503, 'unavailable']);
      expect((await inject({ method: 'POST', url: '/api/v1/nodes/n1/power', payload: { action: 'explode' } })).statusCode).toBe(400);
    });

    it('boots a known node without work from its disk, and an unknown machine into discovery with a token', async () => {
      const known = await inject({ method: 'GET', url: '/boot/ipxe?mac=AA:BB:CC:00:00:01' });
      expect(known.headers['content-type']).toMatch(/^text\/plain/);
      // Anyone can ask with any MAC: the answer does not say which node has it.
      expect(known.body).toBe('#!ipxe\necho metalfleet: no work for this machine; booting from the local disk\nexit\n');
      const unknown = (await inject({ method: 'GET', url: '/boot/ipxe?mac=02-00-00-00-00-99' })).body;
      expect(unknown).toMatch(/^kernel http:\/\/m\/images\/vmlinuz initrd=initrd.img console=ttyS0 metalfleet.manager=10.0.0.1:7471 metalfleet.token=mfbt\.\S+ metalfleet.image=discovery@1 /m);
      expect(unknown).not.toContain('metalfleet.command=');
      expect((await inject({ method: 'GET', url: '/boot/ipxe?mac=nonsense' })).statusCode).toBe(400);
      // A client that did not say which NIC it is asks again with the MAC.
      expect((await inject({ method: 'GET', url: '/boot/ipxe' })).body).toBe('#!ipxe\nchain http://10.0.0.1:7470/boot/ipxe?mac=${netX/mac}\n');
    });

    it('serves a discovery image kept on the manager, with a single-use token, and installs nothing with it', async () => {
      const discovery = { kernelUrl: '/images/pxe/2/vmlinuz', initrdUrl: '/images/pxe/2/initrd.img', cmdline: 'console=ttyS0' };
      expect((await inject({ method: 'PUT', url: '/api/v1/images/discovery/1', payload: discovery })).json()).toMatchObject({ rootUrl: '', sha256: '' });
      const script = (await inject({ method: 'GET', url: '/boot/ipxe?mac=02:00:00:00:00:98' })).body;
      expect(script).toContain('kernel http://10.0.0.1:7470/images/pxe/2/vmlinuz initrd=initrd.img console=ttyS0 metalfleet.manager=10.0.0.1:7471 metalfleet.token=mfbt.');
      expect(script).toContain('initrd --name initrd.img http://10.0.0.1:7470/images/pxe/2/initrd.img');
      expect(script).not.toContain('metalfleet.root');
      const tokens = (await inject({ method: 'GET', url: '/api/v1/bootstrap-tokens' })).json().items as Array<{ description: string; maxUses: number }>;
      expect(tokens.find((t) => t.description === 'discovery boot of 02:00:00:00:00:98')).toMatchObject({ maxUses: 1 });
      const reimage = await inject({ method: 'POST', url: '/api/v1/nodes/n1/reimage', payload: { image: 'discovery@1' } });
      expect(reimage.json()).toMatchObject({ error: { message: 'image discovery@1 has no root image (rootUrl, sha256) to install; it can only boot machines for discovery' } });
      const half = await inject({ method: 'PUT', url: '/api/v1/images/half/1', payload: { ...discovery, rootUrl: '/images/root.img' } });
      expect(half.json()).toMatchObject({ error: { message: 'rootUrl and sha256 go together: both for an install image, neither for a discovery image' } });
    });

    it('caps discovery tokens per MAC and overall: past the cap, HTTP 429 with a local-boot script and no token', async () => {
      // This app allows 2 per MAC and 3 overall per token lifetime (test-app.ts).
      const ask = (mac: string) => inject({ method: 'GET', url: `/boot/ipxe?mac=${mac}` });
      const answers = [];
      for (const mac of ['02:00:00:00:01:01', '02:00:00:00:01:01', '02:00:00:00:01:01', '02:00:00:00:01:02', '02:00:00:00:01:03', '02:00:00:00:01:04']) answers.push(await ask(mac));
      // Earlier tests here took discovery tokens too: whatever the order, never more than the cap exist.
      const refused = answers.filter((a) => a.statusCode === 429);
      expect(refused.length).toBeGreaterThanOrEqual(3);
      for (const r of refused) {
        expect(r.body).toMatch(/^#!ipxe\necho metalfleet: no token: [\s\S]*\nexit/);
        expect(r.body).not.toContain('metalfleet.token=');
        expect(r.headers['retry-after']).toBe('900');
      }
      const tokens = (await inject({ method: 'GET', url: '/api/v1/bootstrap-tokens' })).json().items as Array<{ purpose: string; state: string }>;
      expect(tokens.filter((t) => t.purpose === 'discovery')).toHaveLength(3);
      expect(answers.at(-1)).toMatchObject({ statusCode: 429, body: expect.stringMatching(/limit 3/) });
    });
  });
});
