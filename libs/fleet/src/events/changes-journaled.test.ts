// A change made through the services writes its events in its own transaction:
// once the call returns, its events are in the journal (the store every
// replica's event stream reads), in the order the changes committed, each
// once; a change that is not made leaves none. Before, they were appended in a
// later batch, so another replica could journal its later change first.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFleet } from '../fleet-harness.test-kit.ts';
import { startEventJournal, type EventJournal } from './event-journal.ts';

const now = () => new Date('2026-11-28T12:00:00Z');
let fleet: Awaited<ReturnType<typeof startFleet>>;
let journal: EventJournal;

beforeEach(async () => {
  fleet = await startFleet({ now });
  journal = startEventJournal({ store: fleet.store, events: fleet.events, onError: (error) => fleet.errors.push(error) });
});
afterEach(async () => {
  await journal.stop();
  await fleet.close();
});

/** The journal as [type, subject], read at once: no batch of the journal writer has run yet. */
async function journaled(): Promise<string[][]> {
  return (await fleet.store.eventsAfter(0, 100)).map((row) => {
    const body = JSON.parse(row.body) as Record<string, unknown>;
    return [row.type, String(body['name'] ?? body['nodeId'] ?? body['tenantId'] ?? body['operationId'])];
  });
}

describe('events of a change, in its own transaction', () => {
  it('are in the journal when the change returns: tenants, allocations, transitions, operations', async () => {
    await fleet.addNode('n1');
    await journal.flushed();
    const before = (await journaled()).length;
    const acme = await fleet.tenants.create('acme');
    expect((await journaled()).slice(before)).toEqual([['tenant-created', 'acme']]);
    await fleet.tenants.allocateNode(acme.id, 'n1', 'test');
    expect((await journaled()).slice(before + 1)).toEqual([['state-changed', 'n1'], ['node-tenant-changed', 'n1']]);
    await fleet.lifecycle.apply('n1', 'provision', 'test', 'first image');
    await fleet.lifecycle.apply('n1', 'provisioned', 'test', 'first image');
    const operation = await fleet.reimages.create({
      kind: 'reimage', nodeIds: ['n1'], image: { name: 'gpu-os', version: '1' }, priority: 0, urgent: false, actor: 'test', reason: 'r',
    });
    expect((await journal.flushed(), await journaled()).filter(([type]) => type === 'operation-created')).toEqual([['operation-created', operation.id]]);
  });

  it('are journaled once each: the batch writer does not append them again', async () => {
    await fleet.tenants.create('acme');
    const tenant = (await fleet.store.listTenants())[0];
    await fleet.tenants.remove(tenant?.id ?? '');
    await journal.flushed();
    expect((await journaled()).filter(([type]) => type?.startsWith('tenant-'))).toEqual([['tenant-created', 'acme'], ['tenant-deleted', tenant?.id]]);
  });

  it('leave nothing for a change that was not made', async () => {
    await fleet.addNode('n1');
    await journal.flushed();
    const before = (await journaled()).length;
    await expect(fleet.tenants.remove('no-such-tenant')).rejects.toMatchObject({ code: 'not-found' });
    // Lost compare-and-set: the node is available, not discovered.
    expect(await fleet.store.transitionNode('n1', 'discovered', 'inspecting', 'inspect', { actor: 't', reason: 'r', at: now() }, {
      events: [{ at: now(), type: 'state-changed', body: '{}' }],
    })).toBe(false);
    await journal.flushed();
    expect((await journaled()).slice(before)).toEqual([]);
  });
});
