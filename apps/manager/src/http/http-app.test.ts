import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { emptyInventory } from '@metalfleet/domain';
import { openSqliteFleetStore, type FleetStore } from '@metalfleet/store';
import type { FastifyInstance } from 'fastify';
import { createBootstrapTokens } from '@metalfleet/fleet';
import { RollupStore } from '@metalfleet/telemetry';
import { buildHttpApp } from './http-app.ts';

let store: FleetStore;
let app: FastifyInstance;
let rollups: RollupStore;
const at = new Date('2026-11-21T10:00:00Z');

beforeAll(async () => {
  store = openSqliteFleetStore({ path: ':memory:' });
  for (const [id, uuid] of [['n1', 'uuid-1'], ['n2', 'uuid-2']] as const) {
    await store.createNode({ id, hostname: `host-${id}`, identity: { systemUuid: uuid, systemSerial: '', chassisSerial: '', boardSerial: '', macs: ['aa:bb:cc:00:00:01'], bmcAddress: '' }, inventory: emptyInventory(), agentVersion: '0.1.0', credentialHash: 'h', at });
  }
  await store.setPresence('n1', 'online', at);
  const now = () => new Date(at.getTime() + 5000);
  rollups = new RollupStore({ path: ':memory:', now });
  rollups.write({ nodeId: 'n1', at: new Date(at.getTime() - 60_000), points: [{ gpu: 0, metric: 'power_w', value: 600 }, { gpu: 0, metric: 'power_w', value: 640 }] });
  app = await buildHttpApp({ store, logger: pino({ level: 'silent' }), version: '9.9.9', startedAt: at, now, dashboardDir: null, tokens: createBootstrapTokens({ store, now, caFingerprint: 'f'.repeat(64) }), telemetry: rollups });
});

afterAll(async () => {
  await app.close();
  await store.close();
});

describe('REST API', () => {
  it('answers /healthz with version and uptime', async () => {
    const res = await app.inject({ method: 'GET', url: '/healthz' });
    expect(res.json()).toEqual({ status: 'ok', version: '9.9.9', uptimeSeconds: 5 });
  });

  it('lists nodes, filtered by presence', async () => {
    const all = (await app.inject({ method: 'GET', url: '/api/v1/nodes' })).json();
    expect(all.total).toBe(2);
    expect(all.items[0]).toMatchObject({ id: 'n1', presence: 'online', state: 'discovered', registeredAt: at.toISOString(), identity: { systemUuid: 'uuid-1' } });
    const online = (await app.inject({ method: 'GET', url: '/api/v1/nodes?presence=online' })).json();
    expect(online.items.map((n: { id: string }) => n.id)).toEqual(['n1']);
  });

  it('refuses an invalid filter with a stable code', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/v1/nodes?presence=sideways' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: { code: 'invalid-argument' } });
  });

  it('returns a node with its inventory, 404 for an unknown one, 400 for a malformed id', async () => {
    expect((await app.inject({ method: 'GET', url: '/api/v1/nodes/n2' })).json()).toMatchObject({ id: 'n2', inventory: { cpus: [], collectedAt: null } });
    const missing = await app.inject({ method: 'GET', url: '/api/v1/nodes/n3' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toEqual({ error: { code: 'not-found', message: 'no node n3' } });
    expect((await app.inject({ method: 'GET', url: '/api/v1/nodes/%24bad' })).statusCode).toBe(400);
  });

  it('answers unknown routes with a JSON 404', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/v1/nope' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ error: { code: 'not-found' } });
  });

  it('creates a bootstrap token once, lists it without its secret, and revokes it', async () => {
    const created = await app.inject({ method: 'POST', url: '/api/v1/bootstrap-tokens', payload: { description: 'rack 12', ttlSeconds: 3600, maxUses: 5 } });
    expect(created.statusCode).toBe(201);
    const body = created.json();
    expect(body).toMatchObject({ description: 'rack 12', state: 'active', maxUses: 5, uses: 0, token: expect.stringMatching(new RegExp(`^mfbt\\.${body.id}\\.[\\w-]+\\.${'f'.repeat(64)}$`)) });
    const listed = await app.inject({ method: 'GET', url: '/api/v1/bootstrap-tokens' });
    expect(listed.json().items).toEqual([expect.objectContaining({ id: body.id, state: 'active' })]);
    expect(listed.body).not.toContain(body.token.split('.')[2]);
    expect((await app.inject({ method: 'DELETE', url: `/api/v1/bootstrap-tokens/${body.id}` })).statusCode).toBe(204);
    expect((await app.inject({ method: 'DELETE', url: `/api/v1/bootstrap-tokens/${body.id}` })).json()).toMatchObject({ error: { code: 'conflict' } });
    expect((await app.inject({ method: 'DELETE', url: '/api/v1/bootstrap-tokens/unknown1' })).statusCode).toBe(404);
    expect((await app.inject({ method: 'GET', url: '/api/v1/bootstrap-tokens' })).json().items[0].state).toBe('revoked');
  });

  it('refuses bad JSON, unknown fields and out-of-range values with 400, creating nothing', async () => {
    const before = (await app.inject({ method: 'GET', url: '/api/v1/bootstrap-tokens' })).json().items.length;
    const badJson = await app.inject({ method: 'POST', url: '/api/v1/bootstrap-tokens', headers: { 'content-type': 'application/json' }, payload: '{"description": ' });
    expect(badJson.statusCode).toBe(400);
    expect(badJson.json()).toMatchObject({ error: { code: 'invalid-argument' } });
    expect((await app.inject({ method: 'POST', url: '/api/v1/bootstrap-tokens', payload: { ttlSeconds: 5 } })).statusCode).toBe(400);
    expect((await app.inject({ method: 'POST', url: '/api/v1/bootstrap-tokens', payload: { admin: true } })).statusCode).toBe(400);
    const huge = await app.inject({ method: 'POST', url: '/api/v1/bootstrap-tokens', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ description: 'x'.repeat(2_000_000) }) });
    expect(huge.statusCode).toBe(413);
    expect(huge.json()).toMatchObject({ error: { code: 'payload-too-large' } });
    expect((await app.inject({ method: 'GET', url: '/api/v1/bootstrap-tokens' })).json().items.length).toBe(before);
  });

  it('serves a GPU telemetry series, and refuses an unknown metric', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/v1/nodes/n1/telemetry?metric=power_w&gpu=0&range=1h' });
    expect(res.json()).toEqual({ metric: 'power_w', gpu: 0, points: [{ at: new Date(at.getTime() - 60_000).toISOString(), avg: 620, min: 600, max: 640, count: 2 }] });
    expect((await app.inject({ method: 'GET', url: '/api/v1/nodes/n1/telemetry?metric=vibes' })).statusCode).toBe(400);
    expect((await app.inject({ method: 'GET', url: '/api/v1/nodes/n9/telemetry?metric=power_w' })).statusCode).toBe(404);
  });
});
