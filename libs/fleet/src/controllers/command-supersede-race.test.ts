// A claim racing a supersede: the agent claims command A at the moment the
// manager sends B, which does the same and so replaces A. Exactly one of the
// two may run: A withdrawn and B run, or A run and B not sent. On SQLite and on
// the real PostgreSQL (a schema of its own), with the claim landing between the
// manager's read of the node's commands and its write, and with the two simply
// started together many times.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNodeBroker, type NodeBroker } from '@metalfleet/manager-transport';
import { DomainError, emptyInventory } from '@metalfleet/domain';
import { openPgFleetStore, openSqliteFleetStore, type FleetStore } from '@metalfleet/store';
import { FleetEvents } from '../events/fleet-events.ts';
import { createCommandOutbox, type ClaimAnswer } from './command-outbox.ts';

const connectionString = process.env['METALFLEET_TEST_POSTGRES'] ?? 'postgresql://postgres@127.0.0.1:5432/test';
const schema = `mf_test_${randomBytes(4).toString('hex')}_supersede`;
const at = new Date('2026-11-21T10:00:00Z');
const resetGpu = { kind: 'reset-gpu', args: { gpuIndex: 0 } } as const;
let broker: NodeBroker;

beforeAll(async () => {
  broker = await createNodeBroker({ maxPayloadBytes: 4096, authenticateNode: async () => false });
});

afterAll(async () => {
  await broker.close();
  const client = new pg.Client({ connectionString });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await client.end();
});

const dialects: Array<[string, () => Promise<FleetStore>]> = [
  ['SQLite', async () => openSqliteFleetStore({ path: ':memory:' })],
  ['PostgreSQL', () => openPgFleetStore({ connectionString, schema })],
];

describe.each(dialects)('a claim racing a supersede on %s', (_name, open) => {
  let store: FleetStore;
  /** Runs once right after the outbox read the node's commands (the supersede's snapshot). */
  let afterRead: (() => Promise<void>) | null = null;
  /** What each of those reads found. */
  const reads: Array<Awaited<ReturnType<FleetStore['commandsOf']>>> = [];
  let n = 0;

  beforeAll(async () => {
    store = await open();
  });

  afterAll(async () => {
    await store.close();
  });

  async function outboxFor(nodeId: string) {
    await store.createNode({ id: nodeId, hostname: nodeId, identity: { systemUuid: nodeId, systemSerial: '', chassisSerial: '', boardSerial: '', macs: [], bmcAddress: '' }, inventory: emptyInventory(), agentVersion: '', credentialHash: 'h', at });
    const racing: FleetStore = Object.create(store) as FleetStore;
    racing.commandsOf = async (id, limit) => {
      const read = await store.commandsOf(id, limit);
      reads.push(read);
      const hook = afterRead;
      afterRead = null;
      await hook?.();
      return read;
    };
    return createCommandOutbox({ store: racing, broker, events: new FleetEvents(), now: () => at, newId: () => `c${(n += 1)}`, ackTimeoutMs: 30_000, maxAttempts: 2, maxPayloadBytes: 4096 });
  }

  const runs = (answers: ClaimAnswer[]) => answers.filter((a) => a.verdict === 'run').length;
  /** The id of the command a send wrote: one not sent fails with a conflict that names it (and why). */
  const sent = (sending: Promise<{ id: string }>): Promise<string> => sending.then((c) => c.id, (error: unknown) => {
    if (!(error instanceof DomainError) || error.code !== 'conflict') throw error;
    expect(error.message).toMatch(/^command \S+ not sent: command \S+, which does the same, was claimed by the agent first; it runs instead$/);
    return String(error.details['commandId']);
  });

  it('a claim between the manager\'s read and its write: the claimed command runs, the newer one is not sent and says why', async () => {
    const node = 'aaaaaaaa-0000-4000-8000-00000000000a';
    const outbox = await outboxFor(node);
    const a = await outbox.send(node, resetGpu, null);
    let claimA: ClaimAnswer | null = null;
    afterRead = async () => {
      claimA = await outbox.claim(node, a.id);
    };
    const b = await sent(outbox.send(node, resetGpu, null));
    const claimB = await outbox.claim(node, b);
    expect(claimA).toEqual({ verdict: 'run' });
    expect(runs([claimA!, claimB])).toBe(1);
    expect(await store.getCommand(b)).toMatchObject({ state: 'expired', message: `not sent: command ${a.id}, which does the same, was claimed by the agent first; it runs instead` });
  });

  it('a claim and a supersede started together, many times: both run only where the claim was stored before the manager read the node\'s commands', async () => {
    const node = 'aaaaaaaa-0000-4000-8000-00000000000b';
    const outbox = await outboxFor(node);
    const outcomes = { aRan: 0, bRan: 0, bothAfterAck: 0 };
    for (let round = 0; round < 25; round += 1) {
      const a = await outbox.send(node, resetGpu, null);
      reads.length = 0;
      const [claimA, b] = await Promise.all([outbox.claim(node, a.id), sent(outbox.send(node, resetGpu, null))]);
      const claimB = await outbox.claim(node, b);
      // Acknowledged already when B was decided on: B replaces nothing and is sent after it (documented); else exactly one runs.
      const seenAcked = reads.at(-1)?.find((c) => c.id === a.id)?.state === 'acked';
      if (seenAcked) {
        outcomes.bothAfterAck += 1;
      } else {
        expect({ round, runs: runs([claimA, claimB]) }).toEqual({ round, runs: 1 });
        outcomes[claimA.verdict === 'run' ? 'aRan' : 'bRan'] += 1;
      }
      // Whatever ran is finished: the next round starts clean.
      for (const id of [a.id, b]) await store.updateCommand(id, ['acked'], { state: 'succeeded' }, at);
    }
    expect(outcomes.aRan + outcomes.bRan + outcomes.bothAfterAck).toBe(25);
  });
});
