// Manager replicas on one PostgreSQL share the work through leases in the store:
// two replicas hold 128 of the 256 node shards each and the two singletons (the
// control loops, the per-node work) between them; killed (-9), one's work is taken over by the other within the lease
// period; stopped cleanly, it hands its work over at once.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ManagerProcess } from '../support/manager.ts';
import { copyReplicaState, dropSchema, sharedPostgres } from '../support/replicas.ts';
import { eventually } from '../support/processes.ts';

const postgres = sharedPostgres;
const schema = `mf_e2e_replicas_${randomBytes(4).toString('hex')}`;
const dir = mkdtempSync(join(tmpdir(), 'mf-replicas-'));
const leaseTtlS = 3;
const replica = (id: string) => new ManagerProcess(join(dir, id), ['--postgres-url', postgres, '--postgres-schema', schema, '--replica-id', id, '--lease-ttl-s', String(leaseTtlS)]);

/**
 * Another replica: the first one's data directory copied, as an operator hands each replica the same CA,
 * sealing key and tokens (not its lock, nor its clock).
 */
function anotherReplica(from: ManagerProcess, id: string): ManagerProcess {
  copyReplicaState(from.dataDir, join(dir, id));
  return replica(id).onExistingState();
}
const replicas: ManagerProcess[] = [];

afterAll(async () => {
  for (const r of replicas) await r.stop();
  await dropSchema(schema);
  rmSync(dir, { recursive: true, force: true });
});

/** What a replica says it holds (/metrics). */
async function leases(manager: ManagerProcess): Promise<{ shards: number; singletons: number; replicas: number }> {
  const text = await (await fetch(`${manager.http}/metrics`, { headers: manager.auth() })).text();
  const value = (pattern: RegExp) => Number(text.split('\n').find((l) => pattern.test(l))?.split(' ').at(-1) ?? Number.NaN);
  return { shards: value(/^metalfleet_leases_held\{kind="shard"\}/), singletons: value(/^metalfleet_leases_held\{kind="singleton"\}/), replicas: value(/^metalfleet_replicas_live /) };
}

describe('manager replicas on one PostgreSQL', { timeout: 120_000 }, () => {
  it('share the shards evenly with one running the control loops; a killed one\'s work is taken over within the lease period; a stopped one hands it over at once', async () => {
    const a = replica('a');
    replicas.push(a);
    await a.start();
    expect(await leases(a)).toEqual({ shards: 256, singletons: 2, replicas: 1 });

    const b = anotherReplica(a, 'b');
    replicas.push(b);
    await b.start();
    const [la, lb] = await eventually(() => Promise.all([leases(a), leases(b)]),
      ([x, y]) => x.shards === 128 && y.shards === 128 && x.singletons + y.singletons === 2, 60_000);
    expect(la.replicas + lb.replicas).toBe(4);

    // kill -9: nothing is released; b takes a's shards (and the loops, if a had them) once a's leases expire.
    const killedAt = Date.now();
    await a.proc?.stop('SIGKILL');
    await eventually(() => leases(b), (l) => l.shards === 256 && l.singletons === 2 && l.replicas === 1, 60_000);
    const takeoverS = (Date.now() - killedAt) / 1000;
    console.log(`takeover after kill -9: ${takeoverS.toFixed(1)} s (lease ${leaseTtlS} s)`);
    expect(takeoverS).toBeLessThan(leaseTtlS + 5);

    // A clean stop gives the leases back: a new replica c first shares with b, then takes all of b's at once.
    const c = anotherReplica(a, 'c');
    replicas.push(c);
    await c.start();
    await eventually(() => Promise.all([leases(b), leases(c)]), ([x, y]) => x.shards === 128 && y.shards === 128, 60_000);
    await b.stop();
    await eventually(() => leases(c), (l) => l.shards === 256 && l.singletons === 2, 60_000);
  });
});
