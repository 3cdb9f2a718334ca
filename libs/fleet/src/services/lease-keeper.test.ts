// Replicas sharing work through leases in the store (real SQLite and PostgreSQL,
// whose clocks decide expiry), driven round by round.
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { shardLease } from '@metalfleet/domain';
import { openPgFleetStore, openSqliteFleetStore, type FleetStore } from '@metalfleet/store';
import { createLeaseKeeper, type LeaseKeeper } from './lease-keeper.ts';

const connectionString = process.env['METALFLEET_TEST_POSTGRES'] ?? 'postgresql://postgres@127.0.0.1:5432/test';
const schemas: string[] = [];
afterAll(async () => {
  const client = new pg.Client({ connectionString });
  await client.connect();
  for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await client.end();
});

const stores: Array<[string, () => Promise<FleetStore>]> = [
  ['SQLite', async () => openSqliteFleetStore({ path: join(mkdtempSync(join(tmpdir(), 'mf-leases-')), 'fleet.db') })],
  ['PostgreSQL', async () => {
    const schema = `mf_test_leases_${randomBytes(4).toString('hex')}`;
    schemas.push(schema);
    return openPgFleetStore({ connectionString, schema });
  }],
];

/** Rounds of every keeper until `done`, each round waiting on the store. */
async function roundsUntil(keepers: LeaseKeeper[], done: () => boolean, most = 200): Promise<number> {
  for (let round = 1; round <= most; round += 1) {
    for (const k of keepers) await k.tick();
    if (done()) return round;
  }
  throw new Error(`not converged in ${most} rounds: ${keepers.map((k) => k.held().length).join(', ')} leases held`);
}

const shardsHeld = (k: LeaseKeeper) => k.held().filter((name) => name.startsWith('shard/'));

describe.each(stores)('replicas sharing work on %s', (_name, open) => {
  it('one replica takes every shard and singleton; a second one joins and they converge on 128 shards each, none held twice', async () => {
    const store = await open();
    const a = createLeaseKeeper({ store, holder: 'a', singletons: ['alerts', 'fabric'] });
    await a.tick();
    expect(shardsHeld(a)).toHaveLength(256);
    expect(a.runsSingleton('alerts') && a.runsSingleton('fabric')).toBe(true);
    const b = createLeaseKeeper({ store, holder: 'b', singletons: ['alerts', 'fabric'] });
    await roundsUntil([a, b], () => shardsHeld(a).length === 128 && shardsHeld(b).length === 128);
    expect(new Set([...shardsHeld(a), ...shardsHeld(b)]).size).toBe(256);
    // Singletons stay where they are: one runner each.
    expect(b.runsSingleton('alerts') || b.runsSingleton('fabric')).toBe(false);
    await a.stop();
    await b.stop();
  });

  it('takes over a dead replica\'s shards and singletons once its leases expire (by the database\'s clock), under new epochs', async () => {
    const store = await open();
    const ttlMs = 1500;
    const a = createLeaseKeeper({ store, holder: 'a', ttlMs, singletons: ['alerts'] });
    const b = createLeaseKeeper({ store, holder: 'b', ttlMs, singletons: ['alerts'] });
    await roundsUntil([a, b], () => shardsHeld(a).length === 128 && shardsHeld(b).length === 128);
    const oldEpoch = a.epochFor(shardsHeld(a)[0]!);
    const taken = shardsHeld(a)[0]!;
    // a dies (no more rounds, no release): b takes everything once a's leases have expired.
    await roundsUntil([b], () => shardsHeld(b).length === 256 && b.runsSingleton('alerts'), 100_000);
    expect(b.epochFor(taken)).toBe((oldEpoch ?? 0) + 1);
    expect(await store.holdsLease(taken, 'a', oldEpoch ?? 0)).toBe(false);
    await b.stop();
  });

  it('restarted under the same id (killed, no release), takes its leases back at once under new epochs', async () => {
    const store = await open();
    const before = createLeaseKeeper({ store, holder: 'a', ttlMs: 600_000, singletons: ['alerts'] });
    await before.tick();
    const epoch = before.epochFor(shardLease(0));
    const after = createLeaseKeeper({ store, holder: 'a', ttlMs: 600_000, singletons: ['alerts'] });
    await after.tick();
    expect(shardsHeld(after)).toHaveLength(256);
    expect(after.runsSingleton('alerts')).toBe(true);
    expect(after.epochFor(shardLease(0))).toBe((epoch ?? 0) + 1);
    expect(await store.holdsLease(shardLease(0), 'a', epoch ?? 0)).toBe(false);
    await after.stop();
  });

  it('says so when another process runs under the same replica id (they take each other\'s leases)', async () => {
    const store = await open();
    const warnings: string[] = [];
    const first = createLeaseKeeper({ store, holder: 'same', ttlMs: 600_000, onSharedId: (lease) => warnings.push(lease) });
    const second = createLeaseKeeper({ store, holder: 'same', ttlMs: 600_000 });
    await first.tick();
    await second.tick();
    await first.tick();
    expect(warnings.length).toBeGreaterThan(0);
    await second.stop();
    await first.stop();
  });

  it('gives its leases back on a clean stop: the other replica takes them at once', async () => {
    const store = await open();
    const a = createLeaseKeeper({ store, holder: 'a', ttlMs: 600_000, singletons: ['alerts'] });
    const b = createLeaseKeeper({ store, holder: 'b', ttlMs: 600_000, singletons: ['alerts'] });
    await roundsUntil([a, b], () => shardsHeld(a).length === 128 && shardsHeld(b).length === 128);
    await a.stop();
    // With a ten-minute lease, only the release makes this quick.
    await roundsUntil([b], () => shardsHeld(b).length === 256 && b.runsSingleton('alerts'), 5);
    await b.stop();
  });
});

describe('a replica paused past its lease (fake monotonic clock)', () => {
  it('stops acting on its leases before the database can hand them over, and acts again only under a new epoch', async () => {
    const store = openSqliteFleetStore({ path: join(mkdtempSync(join(tmpdir(), 'mf-leases-')), 'fleet.db') });
    let clock = 0;
    const a = createLeaseKeeper({ store, holder: 'a', ttlMs: 1500, now: () => clock });
    await a.tick();
    const shard = shardLease(0);
    const epoch = a.epochFor(shard);
    expect(epoch).toBe(1);
    clock += 499;
    expect(a.epochFor(shard)).toBe(1);
    // Woken after 10 s (SIGSTOP, SIGCONT): no longer certain, so it does not act.
    clock += 10_000;
    expect(a.epochFor(shard)).toBeNull();
    expect(a.epochForNode('any-node')).toBeNull();
    expect(a.held()).toEqual([]);
    // Its next round drops the stale belief and takes the shard again, if still free, under a new epoch.
    await roundsUntil([a], () => a.epochFor(shard) !== null, 100_000);
    expect(a.epochFor(shard)).toBe(2);
    await a.stop();
  });
});
