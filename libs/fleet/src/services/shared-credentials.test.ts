import { describe, expect, it } from 'vitest';
import { emptyInventory } from '@metalfleet/domain';
import { openSqliteFleetStore } from '@metalfleet/store';
import { createBootstrapTokens } from './bootstrap-tokens.ts';
import { FleetEvents, type FleetEvent } from '../events/fleet-events.ts';
import { createIdentityReviews } from './identity-reviews.ts';
import { createRegistrar } from './registrar.ts';
import { comebackWindowMs, conflictWriteIntervalMs, createSharedCredentialWatch, maxSessionIdLength } from './shared-credentials.ts';

const machine = { systemUuid: 'c0ffee00-0000-4000-8000-000000000001', systemSerial: 'SER-1', chassisSerial: '', boardSerial: '', macs: ['02:de:ad:00:00:01'], bmcAddress: '' };

async function setUp() {
  const store = openSqliteFleetStore({ path: ':memory:' });
  let clock = new Date('2026-11-29T10:00:00Z').getTime();
  const now = () => new Date(clock);
  const events = new FleetEvents();
  const seen: FleetEvent[] = [];
  events.on((e) => void seen.push(e));
  const tokens = createBootstrapTokens({ store, now, caFingerprint: null });
  const { token } = await tokens.create({ description: 'one machine', ttlSeconds: 600, maxUses: 1 });
  const register = createRegistrar({ store, events, tokens, admitDiscovered: 'operator', newNodeId: () => 'n1', now });
  await register({ identity: machine, inventory: { ...emptyInventory(), system: { ...emptyInventory().system, hostname: 'gpu-17' } }, bootstrapToken: token, nodeCredential: null, registrationNonce: 'n'.repeat(43), agentVersion: '0.1.0', peer: 'test' });
  const tick = (ms: number) => void (clock += ms);
  return { store, seen, tick, watch: createSharedCredentialWatch({ store, events, now }), reviews: createIdentityReviews({ store, now }) };
}

describe('two agents with one credential', () => {
  it('are recorded once as a shared-credential conflict of the node, counting each time a session comes back, and announced once', async () => {
    const { store, seen, tick, watch } = await setUp();
    // One agent reconnecting, then restarted twice: no conflict.
    for (const session of ['a', 'a', 'b', 'c']) await watch.online('n1', session);
    expect(await store.listConflicts()).toEqual([]);
    // A second agent on the same credential: c and d take turns, fast (written once a minute at most) and slowly.
    for (const session of ['d', 'c', 'd', 'c']) await watch.online('n1', session);
    expect((await store.listConflicts()).map((c) => c.attempts)).toEqual([1]);
    for (const session of ['d', 'c']) {
      tick(conflictWriteIntervalMs);
      await watch.online('n1', session);
    }
    const [conflict, ...more] = await store.listConflicts();
    expect(more).toEqual([]);
    expect(conflict).toMatchObject({ kind: 'shared-credential', status: 'open', nodeIds: ['n1'], attempts: 3, identity: machine });
    expect(conflict!.reason).toMatch(/^two agents hold node n1's credential and take its broker session from each other/);
    // The host name is the tenant's to choose: not in what goes to alerts and webhooks.
    expect(conflict!.reason).not.toContain('gpu-17');
    expect(seen.filter((e) => e.type === 'identity-conflict')).toEqual([
      expect.objectContaining({ kind: 'shared-credential', nodeIds: ['n1'], conflictId: conflict!.id }),
    ]);
  });

  it('cannot be approved (there is no machine to approve); rejected, it is closed, and a fight found again opens a new one', async () => {
    const { store, watch, reviews, tick } = await setUp();
    for (const session of ['a', 'b', 'a', 'b']) await watch.online('n1', session);
    const [conflict] = await store.listConflicts();
    await expect(reviews.approve(conflict!.id, undefined, 'op')).rejects.toThrow(/no machine to approve; stop the second agent/);
    expect((await reviews.reject(conflict!.id, 'op')).status).toBe('rejected');
    tick(conflictWriteIntervalMs);
    await watch.online('n1', 'a');
    expect((await store.listConflicts()).map((c) => [c.id === conflict!.id, c.status, c.attempts])).toEqual([[true, 'rejected', 1], [false, 'open', 1]]);
  });

  it('keeps session ids short, however long the ones a tenant sends', async () => {
    const { store, watch } = await setUp();
    const long = (c: string) => c.repeat(256 * 1024);
    for (const session of [long('a'), long('b'), long('a'), long('b')]) await watch.online('n1', session);
    const [conflict] = await store.listConflicts();
    expect(conflict?.kind).toBe('shared-credential');
    expect(maxSessionIdLength).toBeLessThanOrEqual(64);
  });

  it('takes one session coming back alone for a status delivered late, not for two agents (hostile review)', async () => {
    const { store, watch, tick } = await setUp();
    for (const session of ['a', 'b', 'a', 'b']) {
      await watch.online('n1', session);
      tick(comebackWindowMs);
    }
    expect(await store.listConflicts()).toEqual([]);
  });

  it('ignores nodes it does not know and agents that send no session id', async () => {
    const { store, watch } = await setUp();
    for (const session of ['a', 'b', 'a']) await watch.online('ghost', session);
    for (const session of ['', 'x', '', 'x']) await watch.online('n1', session);
    expect(await store.listConflicts()).toEqual([]);
  });
});
