import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { emptyInventory } from '@metalfleet/domain';
import { openSqliteFleetStore, type FleetStore } from '@metalfleet/store';
import type { FastifyInstance } from 'fastify';
import { buildHttpApp } from './http-app.ts';

let store: FleetStore;
let app: FastifyInstance;
const at = new Date('2026-11-21T10:00:00Z');

beforeAll(async () => {
  store = openSqliteFleetStore({ path: ':memory:' });
  for (const [id, uuid] of [['n1', 'uuid-1'], ['n2', 'uuid-2']] as const) {
    await store.createNode({ id, hostname: `host-${id}`, identity: { systemUuid: uuid, systemSerial: '', chassisSerial: '', boardSerial: '', macs: ['aa:bb:cc:00:00:01'], bmcAddress: '' }, inventory: emptyInventory(), agentVersion: '0.1.0', credentialHash: 'h', at });
  }
  await store.setPresence('n1', 'online', at);
  app = await buildHttpApp({ store, logger: pino({ level: 'silent' }), version: '9.9.9', startedAt: at, now: () => new Date(at.getTime() + 5000), dashboardDir: null });
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
});
