import { describe, expect, it } from 'vitest';
import { emptyInventory } from '@metalfleet/domain';
import { openSqliteFleetStore, type FleetStore } from '@metalfleet/store';
import { createBootstrapTokens } from './bootstrap-tokens.ts';
import { FleetEvents } from '../events/fleet-events.ts';
import { createNodeCredentials } from './node-credentials.ts';
import { createRegistrar } from './registrar.ts';

const machine = { systemUuid: 'c0ffee00-0000-4000-8000-000000000001', systemSerial: 'SER-1', chassisSerial: '', boardSerial: '', macs: ['02:de:ad:00:00:01'], bmcAddress: '' };
const registration = (bootstrapToken: string) =>
  ({ identity: machine, inventory: emptyInventory(), bootstrapToken, nodeCredential: null, registrationNonce: 'n'.repeat(43), agentVersion: '0.1.0', peer: 'test' });

async function setUp() {
  const store = openSqliteFleetStore({ path: ':memory:' });
  let settles = 0;
  const counting: FleetStore = new Proxy(store, {
    get: (target, key: keyof FleetStore) => (key === 'settleTokenUses'
      ? (...args: Parameters<FleetStore['settleTokenUses']>) => {
        settles += 1;
        return target.settleTokenUses(...args);
      }
      : target[key]),
  });
  const now = () => new Date('2026-11-21T10:00:00Z');
  const tokens = createBootstrapTokens({ store, now, caFingerprint: null });
  const once = await tokens.create({ description: 'one machine', ttlSeconds: 600, maxUses: 1 });
  const register = createRegistrar({ store, events: new FleetEvents(), tokens, admitDiscovered: 'operator', newNodeId: () => 'n1', now });
  return { store, register, once, credentials: createNodeCredentials(counting), settles: () => settles };
}

describe('node credentials', () => {
  it('closes the retry of the registration that gave a credential once the node shows it, writing once per credential', async () => {
    const { store, register, once, credentials, settles } = await setUp();
    const first = await register(registration(once.token));
    // Before the node shows its credential, a lost reply is answered again (and a wrong secret changes nothing).
    expect(await credentials.check('n1', 'guessed')).toBe(false);
    const again = await register(registration(once.token));
    expect(again.nodeId).toBe(first.nodeId);
    expect(await credentials.check('n1', first.credential)).toBe(false);
    expect(await credentials.check('n1', again.credential)).toBe(true);
    expect(await credentials.check('n1', again.credential)).toBe(true);
    expect(settles()).toBe(1);
    // The same registration again (a captured one, replayed) is refused: the node has its credential.
    await expect(register(registration(once.token))).rejects.toMatchObject({ code: 'unauthenticated', message: expect.stringMatching(/no uses left/) });
    expect(await credentials.check('n1', again.credential)).toBe(true);
    await store.close();
  });
});
