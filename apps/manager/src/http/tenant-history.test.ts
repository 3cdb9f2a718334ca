// A node that passes from tenant A to tenant B: B's scoped token sees none of
// what the node did for A (its telemetry, health events, commands, lifecycle
// steps), only what happened from B's allocation on; an unscoped operator
// still sees all of it. Before, node routes judged by the node's tenant now.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FleetStore } from '@metalfleet/store';
import { startTestApp, testTime, type TestApp } from './test-app.ts';

let t: TestApp;
const minutesBefore = (m: number) => new Date(testTime.getTime() - m * 60_000);
const allocatedToB = minutesBefore(10);

async function step(store: FleetStore, event: 'allocate' | 'release' | 'released', minutes: number, reason: string) {
  const state = (await store.getNodeSummary('n2'))?.state ?? 'available';
  await store.transitionNode('n2', state, state, event, { actor: 'test', reason, at: minutesBefore(minutes) });
}

async function nodeDataAt(minutes: number, label: string) {
  const at = minutesBefore(minutes);
  await t.store.applyHealthEvent('n2', { eventId: `event-${label}`, sequence: minutes, at, receivedAt: at, changes: [] });
  t.rollups.write({ nodeId: 'n2', at, points: [{ gpu: null, metric: 'cpu_load_percent', value: minutes }] });
  await t.store.createCommand({
    id: `command-${label}`, nodeId: 'n2', operationId: null, kind: 'reboot', args: { pxeNext: false }, state: 'succeeded', attempts: 1, ackDeadlineAt: null,
    message: label, verifiedSha256: '', createdAt: at, updatedAt: at,
  });
}

beforeAll(async () => {
  t = await startTestApp();
  const [a, b] = await Promise.all(['tenant-a', 'tenant-b'].map(async (name) => (await t.inject({ method: 'POST', url: '/api/v1/tenants', payload: { name } })).json<{ id: string }>().id));
  // A has the node, uses it, lets it go; B gets it and uses it.
  await t.store.setNodeTenant('n2', a!);
  await step(t.store, 'allocate', 50, 'allocated to tenant a');
  await nodeDataAt(40, 'a');
  await step(t.store, 'release', 20, 'released from tenant a');
  await t.store.setNodeTenant('n2', null);
  await step(t.store, 'released', 15, 'wiped');
  await t.store.setNodeTenant('n2', b!);
  await step(t.store, 'allocate', 10, 'allocated to tenant b');
  await nodeDataAt(5, 'b');
  const created = await t.inject({ method: 'POST', url: '/api/v1/tokens', payload: { name: 'b viewer', role: 'viewer', tenantId: b } });
  t.bearer['b'] = created.json<{ token: string }>().token;
});

afterAll(async () => {
  await t.close();
});

const get = async (who: 'admin' | 'b', path: string) => {
  const response = await t.app.inject({ method: 'GET', url: `/api/v1/nodes/n2${path}`, headers: { authorization: `Bearer ${t.bearer[who] ?? ''}` } });
  expect(response.statusCode).toBe(200);
  return response.json<Record<string, Array<Record<string, string>>>>();
};
const times = (items: ReadonlyArray<Record<string, string>> | undefined, key: string) => (items ?? []).map((i) => Date.parse(i[key] ?? ''));

describe('a node given from tenant A to tenant B', () => {
  it.each([
    ['/telemetry?metric=cpu_load_percent&range=1h', 'points', 'at'],
    ['/health', 'events', 'receivedAt'],
    ['/commands', 'items', 'createdAt'],
    ['/history', 'items', 'at'],
    ['', 'history', 'at'],
  ])('GET …%s shows B nothing from before B had the node, the operator all of it', async (path, list, key) => {
    const seenByB = times((await get('b', path))[list], key);
    const seenByOperator = times((await get('admin', path))[list], key);
    expect(seenByB.length).toBeGreaterThan(0);
    expect(seenByB.filter((at) => at < allocatedToB.getTime())).toEqual([]);
    expect(seenByOperator.some((at) => at < allocatedToB.getTime())).toBe(true);
  });
});
