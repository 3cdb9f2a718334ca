// The event stream across manager replicas on one PostgreSQL: a client on
// replica A sees a change made through replica B, and, reconnecting to
// replica C with the last id it got, is given everything it missed in the
// meantime, in order, and nothing it had already seen. Each replica warns that
// its embedded telemetry rollups hold only what it ingested itself.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Tenant } from '@metalfleet/api';
import { ManagerProcess } from '../support/manager.ts';
import { copyReplicaState, dropSchema, sharedPostgres } from '../support/replicas.ts';
import { openEventStream, type StreamedEvent } from '../support/event-stream.ts';

const postgres = sharedPostgres;
const schema = `mf_e2e_replica_events_${randomBytes(4).toString('hex')}`;
const dir = mkdtempSync(join(tmpdir(), 'mf-replica-events-'));
const replica = (id: string) => new ManagerProcess(join(dir, id), ['--postgres-url', postgres, '--postgres-schema', schema, '--replica-id', id]);
const replicas: ManagerProcess[] = [];

afterAll(async () => {
  for (const r of replicas) await r.stop();
  await dropSchema(schema);
  rmSync(dir, { recursive: true, force: true });
});

/** The tenant events a stream got, as [type, tenant name or id]. */
const tenantEvents = (events: StreamedEvent[]) => events.filter((e) => e.type.startsWith('tenant-')).map((e) => [e.type, e.data['name'] ?? e.data['tenantId']]);

describe('the event stream across manager replicas', { timeout: 120_000 }, () => {
  it('shows on replica A what was done through B, and replays to C from Last-Event-ID what the client missed', async () => {
    const a = replica('a');
    replicas.push(a);
    await a.start();
    // Each replica with the first one's CA, sealing key and tokens (not its lock, nor its clock).
    for (const id of ['b', 'c']) {
      copyReplicaState(a.dataDir, join(dir, id));
      const r = replica(id).onExistingState();
      replicas.push(r);
      await r.start();
    }
    const [, b, c] = replicas as [ManagerProcess, ManagerProcess, ManagerProcess];

    const onA = await openEventStream(a.http, a.auth());
    const first = await b.request<Tenant>('POST', '/api/v1/tenants', { name: 'seen-on-a' });
    const seen = await onA.until((events) => tenantEvents(events).length === 1);
    expect(tenantEvents(seen)).toEqual([['tenant-created', 'seen-on-a']]);
    const lastId = seen.at(-1)?.id ?? '';
    expect(lastId).toMatch(/^\d+$/);
    onA.close();

    // While the client is away: changes through B and through C.
    await b.request<Tenant>('POST', '/api/v1/tenants', { name: 'missed-1' });
    await c.request('DELETE', `/api/v1/tenants/${first.id}`);
    await b.request<Tenant>('POST', '/api/v1/tenants', { name: 'missed-2' });

    const onC = await openEventStream(c.http, c.auth({ 'last-event-id': lastId }));
    const replayed = await onC.until((events) => tenantEvents(events).length === 3);
    expect(tenantEvents(replayed)).toEqual([['tenant-created', 'missed-1'], ['tenant-deleted', first.id], ['tenant-created', 'missed-2']]);
    // Every id after the one the client gave, in order; the same journal place on every replica.
    const ids = replayed.map((e) => Number(e.id));
    expect(ids.every((id, i) => id > Number(lastId) && (i === 0 || id > (ids[i - 1] ?? 0)))).toBe(true);
    // And it goes on live: a change through A.
    await a.request<Tenant>('POST', '/api/v1/tenants', { name: 'live-after' });
    expect(tenantEvents(await onC.until((events) => tenantEvents(events).length === 4)).at(-1)).toEqual(['tenant-created', 'live-after']);
    onC.close();
    // Each replica says that its telemetry rollups are its own once it sees the others.
    for (const r of replicas) await expect.poll(() => r.proc?.lines.some((l) => /"replicas":[23]/.test(l) && l.includes('hold only what this replica ingested')), { timeout: 30_000 }).toBe(true);
  });
});
