import { describe, expect, it } from 'vitest';
import { emptyInventory } from '@metalfleet/domain';
import { openSqliteFleetStore } from '@metalfleet/store';
import { createEnrollments, type EnrollmentPower } from './enrollments.ts';
import { FleetEvents } from '../events/fleet-events.ts';

const mac = '52:54:00:aa:00:01';
const bmc = { driver: 'ipmi' as const, address: '10.1.0.17', port: 623, username: 'admin', password: 'secret', cipherSuite: 3, https: false, insecureTls: false };
const noPower = (): EnrollmentPower => {
  throw new Error('no BMC is driven in this test');
};

async function discoveredNodeClaiming(admitOnClaim: boolean) {
  const store = openSqliteFleetStore({ path: ':memory:' });
  const events = new FleetEvents();
  const at = new Date('2026-11-27T10:00:00Z');
  const enrollments = createEnrollments({ store, events, power: noPower, now: () => at, onError: (error) => { throw error; }, admitOnClaim });
  enrollments.listen();
  await enrollments.enroll({ mac, bmc, powerOn: false });
  await store.createNode({ id: 'n1', hostname: 'h', identity: { systemUuid: 'u1', systemSerial: '', chassisSerial: '', boardSerial: '', macs: [mac], bmcAddress: '' }, inventory: emptyInventory(), agentVersion: '1', credentialHash: 'x', at });
  await store.setAdmission({ nodeId: 'n1', state: 'pending', via: 'discovery', actor: 'boot endpoint', at });
  const claimed = new Promise<void>((resolve) => events.on((e) => {
    if (e.type === 'enrollment-claimed') resolve();
  }));
  events.emit({ type: 'node-registered', nodeId: 'n1', returning: false, via: 'discovery', at });
  await claimed;
  return store;
}

describe('enrollment claims and admission', () => {
  it('admits a discovered node that claims an enrollment made through its BMC, under policy bmc-enrollment', async () => {
    const store = await discoveredNodeClaiming(true);
    expect(await store.getAdmission('n1')).toMatchObject({ state: 'admitted', via: 'bmc-enrollment', actor: `enrollment of ${mac} (BMC 10.1.0.17)` });
    expect(await store.getBmc('n1')).toMatchObject({ address: '10.1.0.17' });
  });

  it('leaves it waiting for an operator under the default policy', async () => {
    const store = await discoveredNodeClaiming(false);
    expect(await store.getAdmission('n1')).toMatchObject({ state: 'pending' });
  });
});
