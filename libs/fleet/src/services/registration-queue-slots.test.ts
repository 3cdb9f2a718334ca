// Found by a hostile review (evening of 2026-11-27): agent-service.ts takes a registration admission slot
// (64 by default, for the whole fleet) before the registrar queues the try behind the other tries of the same
// machine (createKeyedQueue). Serials and MACs are no secret: a tenant that sends N registrations of one
// identity at once holds N slots while only one of them is worked on, and the rest of the fleet is refused
// `unavailable`. Composed here as agent-service.ts composes them (admission.run(() => register(...))); the
// store is held on the first try's lookup, as a store slowed by a storm would be.
import { describe, expect, it } from 'vitest';
import { emptyInventory, type NodeIdentity } from '@metalfleet/domain';
import { openSqliteFleetStore, type FleetStore } from '@metalfleet/store';
import { createBootstrapTokens } from './bootstrap-tokens.ts';
import { FleetEvents } from '../events/fleet-events.ts';
import { createRegistrar } from './registrar.ts';
import { createRegistrationAdmission } from './registration-admission.ts';

const victim: NodeIdentity = { systemUuid: 'a1b2c3d4-0000-1111-2222-333344445555', systemSerial: 'SN-V', chassisSerial: '', boardSerial: '', macs: ['0c:42:a1:00:00:01'], bmcAddress: '' };
const other: NodeIdentity = { systemUuid: 'b1b2c3d4-0000-1111-2222-333344445555', systemSerial: 'SN-O', chassisSerial: '', boardSerial: '', macs: ['0c:42:a1:00:00:02'], bmcAddress: '' };
const now = new Date('2026-11-21T10:00:00Z');

describe('registrations of one machine queued behind each other', () => {
  it('another machine still gets a slot while one identity\'s tries wait behind its first', async () => {
    const base: FleetStore = openSqliteFleetStore({ path: ':memory:' });
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => { release = resolve; });
    let first = true;
    const store = new Proxy(base, {
      get(target, name, receiver) {
        if (name === 'findIdentityCandidates') {
          return async (identity: NodeIdentity) => {
            if (identity.systemSerial === 'SN-V' && first) { first = false; await held; }
            return target.findIdentityCandidates(identity);
          };
        }
        return Reflect.get(target, name, receiver) as unknown;
      },
    });
    const tokens = createBootstrapTokens({ store, now: () => now, caFingerprint: 'c'.repeat(64) });
    const register = createRegistrar({ store, events: new FleetEvents(), tokens, admitDiscovered: 'operator', newNodeId: () => `node-${Math.random().toString(36).slice(2, 8)}`, now: () => now });
    const admission = createRegistrationAdmission({ concurrent: 4, retryAfterMs: 2000 });
    const call = (identity: NodeIdentity, bootstrapToken: string, peer: string) => admission.run(() => register({
      identity, inventory: emptyInventory(), bootstrapToken, registrationNonce: 'n'.repeat(43), nodeCredential: null, agentVersion: '0.1.0', peer,
    }));
    // The tenant: four tries of the victim's identity (no valid token needed), the first held by the slow store.
    const tenant = [0, 1, 2, 3].map(() => call(victim, 'garbage', '10.0.0.66:4100').catch((e: unknown) => e));
    expect(admission.active()).toBe(4);
    const token = (await tokens.create({ description: 'rack', ttlSeconds: 60, maxUses: 1 })).token;
    // One try at work and one waiting keep their slots; the others are refused as busy and give theirs back.
    await expect.poll(() => admission.active()).toBe(2);
    // Before the per-machine cap: 'the manager is busy with 4 other registrations', three of them only waiting in the queue.
    const result = await call(other, token, '10.0.0.7:4100').catch((e: unknown) => e);
    release();
    await Promise.all(tenant);
    expect(result).toMatchObject({ returning: false });
  });
});
