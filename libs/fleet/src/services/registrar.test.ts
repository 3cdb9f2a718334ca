import { beforeEach, describe, expect, it } from 'vitest';
import { emptyInventory, type NodeIdentity } from '@metalfleet/domain';
import { openSqliteFleetStore, type FleetStore } from '@metalfleet/store';
import { createBootstrapTokens, type BootstrapTokens } from './bootstrap-tokens.ts';
import { FleetEvents, type FleetEvent } from '../events/fleet-events.ts';
import { createRegistrar, defaultRegistrationRetryWindowMs, maxOpenConflicts, type Register } from './registrar.ts';
import { secretMatches } from '../secrets/secrets.ts';

function identity(partial: Partial<NodeIdentity>): NodeIdentity {
  return { systemUuid: '', systemSerial: '', chassisSerial: '', boardSerial: '', macs: [], bmcAddress: '', ...partial };
}

let store: FleetStore;
let register: Register;
let tokens: BootstrapTokens;
let token: string;
let events: FleetEvent[];
let counter: number;
let now: Date;

beforeEach(async () => {
  store = openSqliteFleetStore({ path: ':memory:' });
  events = [];
  counter = 0;
  now = new Date('2026-11-21T10:00:00Z');
  const bus = new FleetEvents();
  bus.on((e) => events.push(e));
  tokens = createBootstrapTokens({ store, now: () => now, caFingerprint: 'c'.repeat(64) });
  ({ token } = await tokens.create({ description: 'rack 12', ttlSeconds: 3600, maxUses: null }));
  register = createRegistrar({ store, events: bus, tokens, admitDiscovered: 'operator', newNodeId: () => `node-${++counter}`, now: () => now });
});

const machine = identity({ systemUuid: 'A1B2C3D4-0000-1111-2222-333344445555', systemSerial: 'SER-1', macs: ['0c:42:a1:00:00:01'] });
/** The agent's nonce for its registration: the same on every try of it. */
const agentNonce = 'n'.repeat(43);
const input = (id: NodeIdentity, bootstrapToken: string, nodeCredential: { nodeId: string; secret: string } | null = null, registrationNonce = agentNonce) =>
  ({ identity: id, inventory: emptyInventory(), bootstrapToken, nodeCredential, registrationNonce, agentVersion: '0.1.0', peer: 'test' });

describe('registration', () => {
  it('refuses missing, malformed, unknown and wrong-secret tokens with a clear reason, storing nothing', async () => {
    await expect(register(input(machine, ''))).rejects.toMatchObject({ code: 'unauthenticated', message: 'bootstrap token missing' });
    await expect(register(input(machine, 'hunter2'))).rejects.toMatchObject({ code: 'unauthenticated', message: 'bootstrap token malformed' });
    const [, id] = token.split('.');
    await expect(register(input(machine, `mfbt.${id}.${'x'.repeat(43)}`))).rejects.toMatchObject({ message: 'bootstrap token unknown' });
    await expect(register(input(machine, `mfbt.zzzzzzzz.${'x'.repeat(43)}`))).rejects.toMatchObject({ message: 'bootstrap token unknown' });
    expect(await store.listNodes()).toEqual([]);
    expect(events.filter((e) => e.type === 'registration-refused')).toHaveLength(4);
  });

  it('refuses an expired or revoked token, and a token with no uses left', async () => {
    now = new Date(now.getTime() + 3601_000);
    await expect(register(input(machine, token))).rejects.toMatchObject({ code: 'unauthenticated', message: expect.stringMatching(/expired at/) });
    now = new Date('2026-11-21T10:00:00Z');
    const revoked = await tokens.create({ description: 'x', ttlSeconds: 60, maxUses: null });
    await tokens.revoke(revoked.record.id);
    await expect(register(input(machine, revoked.token))).rejects.toMatchObject({ message: expect.stringMatching(/was revoked/) });
    const once = await tokens.create({ description: 'single use', ttlSeconds: 60, maxUses: 1 });
    await register(input(machine, once.token));
    await expect(register(input(identity({ systemUuid: 'other-machine' }), once.token))).rejects.toMatchObject({ message: expect.stringMatching(/no uses left/) });
  });

  it('refuses a machine with nothing to recognise it by', async () => {
    await expect(register(input(identity({ systemSerial: 'Default string' }), token))).rejects.toMatchObject({ code: 'invalid-argument' });
  });

  it('never gives a known node\'s id or a credential to a machine without its credential: a wiped disk waits for approval', async () => {
    const first = await register(input(machine, token));
    // The agent came online with its credential (node-credentials.ts): the same token and identity again is a wiped disk, not a lost reply.
    await store.settleTokenUses('node-1');
    const before = await store.getNode('node-1');
    await expect(register(input(machine, token))).rejects.toMatchObject({ code: 'pending-approval', message: expect.stringMatching(/waits for an operator's approval/) });
    await expect(register(input(machine, token))).rejects.toMatchObject({ code: 'pending-approval' });
    const [pending] = await store.listConflicts({ status: 'open' });
    expect(pending).toMatchObject({ kind: 're-enrolment', nodeIds: ['node-1'], attempts: 2 });
    expect(await store.getNode('node-1')).toEqual(before);
    expect(secretMatches(first.credential, (await store.credentialHash('node-1'))!)).toBe(true);
    expect((await tokens.list()).find((t) => t.description === 'rack 12')?.uses).toBe(1);

    await store.resolveConflict(pending!.id, { status: 'approved', nodeId: 'node-1', by: 'admin', at: now });
    const again = await register(input(machine, token));
    expect(again).toMatchObject({ nodeId: 'node-1', returning: true });
    expect(secretMatches(again.credential, (await store.credentialHash('node-1'))!)).toBe(true);
    expect(secretMatches(first.credential, (await store.credentialHash('node-1'))!)).toBe(false);
    // The approval is used once (once the agent is online with the credential it gave).
    await store.settleTokenUses('node-1');
    await expect(register(input(machine, token))).rejects.toMatchObject({ code: 'pending-approval' });
    expect((await store.listNodes()).map((n) => n.id)).toEqual(['node-1']);
  });

  it.each([
    ['one MAC', identity({ macs: ['0c:42:a1:00:00:01'] })],
    ['the system serial', identity({ systemSerial: 'SER-1', macs: ['de:ad:be:ef:00:01'] })],
    ['UUID and serial but not the MACs', { ...machine, macs: ['de:ad:be:ef:00:01'] }],
  ])('records a machine claiming %s of a known node as a conflict: no credential, nothing overwritten', async (_what, claim) => {
    const first = await register(input(machine, token));
    const before = await store.getNode('node-1');
    await expect(register(input(claim, token))).rejects.toMatchObject({ code: 'conflict', message: 'identity conflict 1: an operator must resolve it' });
    expect(await store.getNode('node-1')).toEqual(before);
    expect(secretMatches(first.credential, (await store.credentialHash('node-1'))!)).toBe(true);
    expect(await store.listConflicts()).toEqual([expect.objectContaining({ kind: 'mismatch', nodeIds: ['node-1'], status: 'open', reason: expect.stringMatching(/partial match with node node-1/) })]);
    expect(events.at(-1)).toMatchObject({ type: 'identity-conflict', nodeIds: ['node-1'] });
  });

  it('keeps refusing a rejected machine without reopening its conflict, until an operator approves it after all', async () => {
    await register(input(machine, token));
    await store.settleTokenUses('node-1');
    const wiped = () => register(input(machine, token));
    await expect(wiped()).rejects.toMatchObject({ code: 'pending-approval' });
    const [pending] = await store.listConflicts({ status: 'open' });
    await store.resolveConflict(pending!.id, { status: 'rejected', nodeId: null, by: 'api admin', at: now });
    await expect(wiped()).rejects.toMatchObject({ code: 'unauthenticated', message: 'identity conflict 1 was rejected by an operator' });
    expect(await store.listConflicts({ status: 'open' })).toEqual([]);
    expect(await store.getConflict(pending!.id)).toMatchObject({ status: 'rejected', attempts: 2 });
    await store.resolveConflict(pending!.id, { status: 'approved', nodeId: 'node-1', by: 'api admin', at: now });
    expect(await wiped()).toMatchObject({ nodeId: 'node-1', returning: true });
  });

  it('keeps the operator\'s list bounded: past the cap a new conflicting identity is refused without a record', async () => {
    await register(input(machine, token));
    for (let i = 0; i < maxOpenConflicts; i += 1) {
      await store.recordConflict({ at: now, identity: identity({ systemUuid: `made-up-${i}` }), nodeIds: ['node-1'], reason: 'filler' });
    }
    await expect(register(input(identity({ macs: ['0c:42:a1:00:00:01'] }), token))).rejects.toMatchObject({ code: 'unauthenticated', message: expect.stringMatching(/refused without recording/) });
    expect(await store.listConflicts({ status: 'open' })).toHaveLength(maxOpenConflicts);
    expect(events.at(-1)).toMatchObject({ type: 'registration-refused' });
  });

  it('binds a discovery token to its MAC and a new machine, and keeps what it registers out of service until admitted', async () => {
    await register(input(machine, token));
    const known = await tokens.create({ description: 'discovery', ttlSeconds: 900, maxUses: 1, purpose: 'discovery', mac: '0c:42:a1:00:00:01' });
    await expect(register(input(machine, known.token))).rejects.toMatchObject({ code: 'conflict' });
    expect((await store.listConflicts()).at(-1)?.reason).toMatch(/discovery token/);
    const stranger = identity({ systemUuid: 'new-machine', macs: ['0c:42:a1:00:00:77'] });
    const other = await tokens.create({ description: 'discovery', ttlSeconds: 900, maxUses: 1, purpose: 'discovery', mac: '0c:42:a1:00:00:99' });
    await expect(register(input(stranger, other.token))).rejects.toMatchObject({ code: 'unauthenticated', message: expect.stringMatching(/0c:42:a1:00:00:99/) });
    const own = await tokens.create({ description: 'discovery', ttlSeconds: 900, maxUses: 1, purpose: 'discovery', mac: '0c:42:a1:00:00:77' });
    const created = await register(input(stranger, own.token));
    expect(await store.getAdmission(created.nodeId)).toMatchObject({ state: 'pending', via: 'discovery' });
    expect(await store.getAdmission('node-1')).toBeNull();
    await expect(register(input(identity({ systemUuid: 'third', macs: ['0c:42:a1:00:00:78'] }), own.token))).rejects.toMatchObject({ code: 'unauthenticated', message: expect.stringMatching(/no uses left/) });
  });

  it('lets a known node re-register with its own credential instead of a token, never another node\'s', async () => {
    const once = await tokens.create({ description: 'single use', ttlSeconds: 60, maxUses: 1 });
    const first = await register(input(machine, once.token));
    const again = await register(input(machine, '', { nodeId: first.nodeId, secret: first.credential }));
    expect(again).toMatchObject({ nodeId: first.nodeId, returning: true });
    const other = await register(input(identity({ systemUuid: 'second-machine' }), token));
    await expect(register(input(identity({ systemUuid: 'second-machine' }), '', { nodeId: first.nodeId, secret: again.credential })))
      .rejects.toMatchObject({ code: 'conflict' });
    expect((await store.listConflicts()).at(-1)?.reason).toMatch(/credential/);
    expect(other.nodeId).toBe('node-2');
  });

  it('answers a registration retried after its reply was lost with the same node and a working credential, spending a single-use token once', async () => {
    const once = await tokens.create({ description: 'single use', ttlSeconds: 600, maxUses: 1 });
    const lost = await register(input(machine, once.token));
    // The reply never reached the agent (manager killed after the write, connection dropped): it sends the same request again.
    const again = await register(input(machine, once.token));
    expect(again).toMatchObject({ nodeId: lost.nodeId, returning: true });
    // The manager keeps one hash per node: the lost credential is replaced by the one the agent now holds.
    expect(secretMatches(again.credential, (await store.credentialHash(lost.nodeId))!)).toBe(true);
    expect(secretMatches(lost.credential, (await store.credentialHash(lost.nodeId))!)).toBe(false);
    expect(await register(input(machine, '', { nodeId: again.nodeId, secret: again.credential }))).toMatchObject({ nodeId: lost.nodeId });
    expect((await store.listNodes()).map((n) => n.id)).toEqual([lost.nodeId]);
    expect((await tokens.list()).find((t) => t.id === once.record.id)?.uses).toBe(1);
    expect(await store.listConflicts()).toEqual([]);
    expect(events.filter((e) => e.type === 'node-registered').map((e) => 'via' in e && e.via)).toEqual(['new', 'retry', 'credential']);
  });

  it('answers a lost reply again only within the retry window after the use, a replay after it never', async () => {
    const once = await tokens.create({ description: 'single use', ttlSeconds: 7200, maxUses: 1 });
    const lost = await register(input(machine, once.token));
    now = new Date(now.getTime() + defaultRegistrationRetryWindowMs - 1000);
    const again = await register(input(machine, once.token));
    expect(again).toMatchObject({ nodeId: lost.nodeId, returning: true });
    // The window counts from the use, not from the last retry.
    now = new Date(now.getTime() + 1000);
    await expect(register(input(machine, once.token))).rejects.toMatchObject({ code: 'unauthenticated', message: expect.stringMatching(/no uses left/) });
    expect(secretMatches(again.credential, (await store.credentialHash(lost.nodeId))!)).toBe(true);
  });

  it('answers a lost reply again only to the same nonce: whoever knows the token and the machine\'s identifiers gets no credential', async () => {
    const once = await tokens.create({ description: 'single use', ttlSeconds: 600, maxUses: 1 });
    const lost = await register(input(machine, once.token));
    // Same token, same (not secret) identity, before the node came online: another nonce, or none, is told what anyone is.
    for (const nonce of ['o'.repeat(43), '']) {
      await expect(register(input(machine, once.token, null, nonce))).rejects.toMatchObject({ code: 'unauthenticated', message: expect.stringMatching(/no uses left/) });
    }
    // With a token that has uses left, a stranger with the machine's identity is a known machine without proof: no credential either.
    const shared = await register(input(identity({ systemUuid: 'rack-12-u7' }), token));
    await expect(register(input(identity({ systemUuid: 'rack-12-u7' }), token, null, 'o'.repeat(43)))).rejects.toMatchObject({ code: 'pending-approval' });
    expect(secretMatches(lost.credential, (await store.credentialHash(lost.nodeId))!)).toBe(true);
    expect(secretMatches(shared.credential, (await store.credentialHash(shared.nodeId))!)).toBe(true);
    // The agents themselves, with their nonces, are still answered (the stranger's pending conflict does not stand in the way).
    expect(await register(input(machine, once.token))).toMatchObject({ nodeId: lost.nodeId, returning: true });
    expect(await register(input(identity({ systemUuid: 'rack-12-u7' }), token))).toMatchObject({ nodeId: shared.nodeId, returning: true });
  });

  it('answers an older agent\'s registration (no nonce) once, and never again', async () => {
    const once = await tokens.create({ description: 'single use', ttlSeconds: 600, maxUses: 1 });
    const first = await register(input(machine, once.token, null, ''));
    await expect(register(input(machine, once.token, null, ''))).rejects.toMatchObject({ code: 'unauthenticated', message: expect.stringMatching(/no uses left/) });
    expect(secretMatches(first.credential, (await store.credentialHash(first.nodeId))!)).toBe(true);
  });

  it('refuses a nonce too short to be secret, or too long, storing nothing', async () => {
    for (const nonce of ['short', 'x'.repeat(129)]) {
      await expect(register(input(machine, token, null, nonce))).rejects.toMatchObject({ code: 'invalid-argument', message: expect.stringMatching(/registration nonce/) });
    }
    expect(await store.listNodes()).toEqual([]);
  });

  it('handles two retries racing after a lost reply one after the other: one node, the later answer\'s credential is the one that works', async () => {
    const once = await tokens.create({ description: 'single use', ttlSeconds: 600, maxUses: 1 });
    const lost = await register(input(machine, once.token));
    const [first, second] = await Promise.all([register(input(machine, once.token)), register(input(machine, once.token))]);
    expect([first.nodeId, second.nodeId]).toEqual([lost.nodeId, lost.nodeId]);
    expect(secretMatches(second.credential, (await store.credentialHash(lost.nodeId))!)).toBe(true);
    expect(secretMatches(first.credential, (await store.credentialHash(lost.nodeId))!)).toBe(false);
    expect((await tokens.list()).find((t) => t.id === once.record.id)?.uses).toBe(1);
  });

  it('handles two tries of one machine\'s registration that overlap (the first outlived its caller\'s deadline) one after the other: one node, the last answer\'s credential works', async () => {
    const results = await Promise.allSettled([register(input(machine, token)), register(input(machine, token))]);
    const answered = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    expect((await store.listNodes()).map((n) => n.id)).toEqual([answered[0]!.nodeId]);
    expect(answered.map((a) => a.nodeId)).toEqual([answered[0]!.nodeId, answered[0]!.nodeId]);
    expect(secretMatches(answered[1]!.credential, (await store.credentialHash(answered[0]!.nodeId))!)).toBe(true);
    expect((await tokens.list())[0]?.uses).toBe(1);
  });

  it('writes nothing for a try whose caller gave up (its deadline passed while it waited), also when it gives up midway', async () => {
    const gone = new AbortController();
    gone.abort();
    await expect(register({ ...input(machine, token), signal: gone.signal })).rejects.toMatchObject({ name: 'AbortError' });
    // Gives up after the checks, before the write.
    const midway = new AbortController();
    const slow = new Proxy(store, {
      get: (target, key: keyof FleetStore) => (key === 'findApproval'
        ? async (...args: Parameters<FleetStore['findApproval']>) => {
          midway.abort();
          return target.findApproval(...args);
        }
        : target[key]),
    });
    const racing = createRegistrar({ store: slow, events: new FleetEvents(), tokens, admitDiscovered: 'operator', newNodeId: () => 'late', now: () => now });
    const known = await register(input(identity({ systemUuid: 'other-machine' }), token));
    await expect(racing({ ...input(identity({ systemUuid: 'other-machine' }), token), signal: midway.signal })).rejects.toBeDefined();
    expect((await store.listNodes()).map((n) => n.id)).toEqual([known.nodeId]);
    expect(secretMatches(known.credential, (await store.credentialHash(known.nodeId))!)).toBe(true);
  });

  it('refuses a retry whose use was settled (the node came online) between its check and its write', async () => {
    const once = await tokens.create({ description: 'single use', ttlSeconds: 600, maxUses: 1 });
    const lost = await register(input(machine, once.token));
    // The node comes online (node-credentials.ts settles its use) after the retry found its use, before the retry writes.
    const settling = new Proxy(store, {
      get: (target, key: keyof FleetStore) => (key === 'findApproval'
        ? async (...args: Parameters<FleetStore['findApproval']>) => {
          await target.settleTokenUses(lost.nodeId);
          return target.findApproval(...args);
        }
        : target[key]),
    });
    const racing = createRegistrar({ store: settling, events: new FleetEvents(), tokens, admitDiscovered: 'operator', newNodeId: () => 'unused', now: () => now });
    await expect(racing(input(machine, once.token))).rejects.toMatchObject({ code: 'unauthenticated' });
    expect(secretMatches(lost.credential, (await store.credentialHash(lost.nodeId))!)).toBe(true);
  });

  it('never answers a spent single-use token again to another machine, nor to the same one once it used its credential', async () => {
    const once = await tokens.create({ description: 'single use', ttlSeconds: 600, maxUses: 1 });
    const first = await register(input(machine, once.token));
    const stranger = identity({ systemUuid: 'other-machine', macs: ['0c:42:a1:00:00:02'] });
    await expect(register(input(stranger, once.token))).rejects.toMatchObject({ code: 'unauthenticated', message: expect.stringMatching(/no uses left/) });
    // Most of the identity (all but its serial) is not the machine that spent it either: a conflict, no credential.
    await expect(register(input({ ...machine, systemSerial: 'SER-2' }, once.token))).rejects.toMatchObject({ code: 'unauthenticated', message: expect.stringMatching(/no uses left/) });
    // The agent came online with its credential: from now on the use is final, even for the same token and identity.
    await store.settleTokenUses(first.nodeId);
    await expect(register(input(machine, once.token))).rejects.toMatchObject({ code: 'unauthenticated', message: expect.stringMatching(/no uses left/) });
    expect(secretMatches(first.credential, (await store.credentialHash(first.nodeId))!)).toBe(true);
    expect((await store.listNodes()).map((n) => n.id)).toEqual([first.nodeId]);
    // A multi-use token: the same, with a pending approval instead of a second node.
    const many = await register(input(stranger, token));
    expect(await register(input(stranger, token))).toMatchObject({ nodeId: many.nodeId, returning: true });
    await register(input(stranger, '', { nodeId: many.nodeId, secret: (await register(input(stranger, token))).credential }));
    await expect(register(input(stranger, token))).rejects.toMatchObject({ code: 'pending-approval' });
    expect((await tokens.list()).find((t) => t.description === 'rack 12')?.uses).toBe(1);
  });

  it('keeps a credential-proven node\'s credential, so a reply lost on the way leaves the agent with one that still works', async () => {
    const first = await register(input(machine, token));
    const again = await register(input(machine, '', { nodeId: first.nodeId, secret: first.credential }));
    // The agent never saw `again` (killed, connection dropped): it comes back with the credential it holds.
    const after = await register(input(machine, '', { nodeId: first.nodeId, secret: first.credential }));
    expect([again.credential, after.credential]).toEqual([first.credential, first.credential]);
    expect(after).toMatchObject({ nodeId: first.nodeId, returning: true });
    expect(await store.listConflicts({ status: 'open' })).toEqual([]);
  });

  it('flags two machines claiming one identity as a conflict and changes nothing', async () => {
    await register(input(machine, token));
    const before = await store.getNode('node-1');
    await expect(register(input({ ...machine, systemSerial: 'SER-OTHER' }, token))).rejects.toMatchObject({ code: 'conflict' });
    expect(await store.getNode('node-1')).toEqual(before);
    expect(await store.listConflicts()).toHaveLength(1);
    expect(events.at(-1)).toMatchObject({ type: 'identity-conflict', nodeIds: ['node-1'] });
  });
});
