// The repository contract on the real PostgreSQL at 127.0.0.1:5432 (database
// `test`), each run in schemas of its own that are dropped afterwards.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { describeAlertStore } from './alert-store.contract.ts';
import { describeFleetRecords } from './fleet-records.contract.ts';
import { describeFleetStore, newNode, type StoreFactory } from './fleet-store.contract.ts';
import { describeIdentityStore } from './identity-store.contract.ts';
import { describeLeaseStore } from './lease-store.contract.ts';
import { describeEventJournalStore } from './event-journal-store.contract.ts';
import { describeNodeCertificateStore } from './node-certificate-store.contract.ts';
import { describePresenceStore } from './presence-store.contract.ts';
import { describeWorkStore } from './work-store.contract.ts';
import { openPgFleetStore } from './pg-fleet-store.ts';

const connectionString = process.env['METALFLEET_TEST_POSTGRES'] ?? 'postgresql://postgres@127.0.0.1:5432/test';
const run = randomBytes(4).toString('hex');
const schemas = new Set<string>();

afterAll(async () => {
  const client = new pg.Client({ connectionString });
  await client.connect();
  for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await client.end();
});

const factory: StoreFactory = {
  open: async (key) => {
    const schema = `mf_test_${run}_${key}`;
    schemas.add(schema);
    return openPgFleetStore({ connectionString, schema });
  },
};

describeFleetStore('PostgreSQL', factory);
describeFleetRecords('PostgreSQL', factory);
describeIdentityStore('PostgreSQL', factory);
describeAlertStore('PostgreSQL', factory);
describeWorkStore('PostgreSQL', factory);
describeLeaseStore('PostgreSQL', factory);
describeEventJournalStore('PostgreSQL', factory);
describeNodeCertificateStore('PostgreSQL', factory);
describePresenceStore('PostgreSQL', factory);

describe('registrations with one bootstrap token on several replicas', () => {
  it('writes a node registered with an unlimited token while another registration holds the token\'s row', { timeout: 30_000 }, async () => {
    const store = await factory.open('token_storm');
    const createdAt = new Date();
    await store.createBootstrapToken({
      id: 'fleet', purpose: 'operator', nodeId: null, commandId: null, mac: null, issuedTo: null, description: 'every node', secretHash: 'h',
      createdAt, expiresAt: new Date(createdAt.getTime() + 3600_000), revokedAt: null, maxUses: null, uses: 0,
    });
    // Another replica's registration, in the middle of its transaction, with the token's row locked.
    const other = new pg.Client({ connectionString });
    await other.connect();
    await other.query('BEGIN');
    await other.query(`SELECT 1 FROM mf_test_${run}_token_storm.bootstrap_tokens WHERE id = 'fleet' FOR NO KEY UPDATE`); // the lock its UPDATE of the count takes
    const written = store.createNode(newNode('n1', { systemUuid: 'u-storm' }), { tokenId: 'fleet', identityKey: 'k1', nonceHash: null, unlimited: true });
    // The node is stored (committed) while the other still holds the row: the write did not wait for it.
    await expect.poll(() => store.getNodeSummary('n1'), { timeout: 10_000 }).not.toBeNull();
    await other.query('COMMIT');
    await other.end();
    await written;
    expect((await store.getBootstrapToken('fleet'))?.uses).toBe(1);
    expect(await store.findTokenUse('fleet', 'k1')).toMatchObject({ nodeId: 'n1' });
    await store.close();
  });
});

describe('event journal across replicas on one PostgreSQL', () => {
  it('wakes a reader on another connection pool (another replica) when one appends', async () => {
    const writer = await factory.open('journal_replicas');
    const reader = await factory.open('journal_replicas');
    let wakes = 0;
    const stop = reader.watchEvents(() => (wakes += 1));
    await expect.poll(async () => {
      const before = wakes;
      await writer.appendEvents([{ at: new Date(), type: 't', body: '{}' }]);
      await expect.poll(() => wakes, { timeout: 2000 }).toBeGreaterThan(before);
      return true;
    }, { timeout: 10_000 }).toBe(true);
    stop();
    await Promise.all([writer.close(), reader.close()]);
  });

  it('a reader that follows the sequence numbers misses no entry while replicas append at once, in batches and with their changes', async () => {
    const [a, b, c, d, reader] = [await factory.open('journal_race'), await factory.open('journal_race'), await factory.open('journal_race'),
      await factory.open('journal_race'), await factory.open('journal_race')];
    const append = async (store: typeof a, name: string) => {
      for (let i = 0; i < 150; i++) await store.appendEvents(Array.from({ length: 4 }, (_, j) => ({ at: new Date(), type: `${name}${i}.${j}`, body: '{}' })));
    };
    // A change's events, in its own transaction: 150 tenants, each with its event.
    const change = async (store: typeof a) => {
      for (let i = 0; i < 150; i++) {
        await store.createTenant({ id: `t${i}`, name: `t-${i}`, vlan: 100 + i, vni: 1000 + i, createdAt: new Date() }, [{ at: new Date(), type: `c${i}`, body: '{}' }]);
      }
    };
    const seen: string[] = [];
    let cursor = 0;
    let writing = true;
    const follow = (async () => {
      // Reads until the writers are done and nothing is left: what a stream would have sent.
      for (;;) {
        // Asked before the read: a read begun once the writers were done holds all they wrote. (Asked after it, an empty
        // page read just before their last commit ended the test with that batch unread: 1,196 of 1,200 on a CI run.)
        const finished = !writing;
        const page = await reader.eventsAfter(cursor, 1000);
        for (const e of page) seen.push(e.type);
        cursor = page.at(-1)?.seq ?? cursor;
        if (page.length === 0 && finished) return;
      }
    })();
    // And transitions, each one statement: 150 moves of one node back and forth, each with its event.
    const transitions = async (store: typeof a) => {
      await store.createNode(newNode('tn', { systemUuid: 'u-tn' }));
      for (let i = 0; i < 150; i++) {
        const [from, to] = i % 2 === 0 ? ['discovered', 'inspecting'] as const : ['inspecting', 'discovered'] as const;
        await store.transitionNode('tn', from, to, 'inspect', { actor: 't', reason: 'r', at: new Date() }, { events: [{ at: new Date(), type: `d${i}`, body: '{}' }] });
      }
    };
    await Promise.all([append(a, 'a'), append(b, 'b'), change(c), transitions(d)]);
    writing = false;
    await follow;
    expect(new Set(seen).size).toBe(1500);
    await Promise.all([a, b, c, d, reader].map((s) => s.close()));
  }, 60_000);
});
