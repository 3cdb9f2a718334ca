// The install window a node's installer gets on its kernel command line (metalfleet.window): how long it may retry
// an interrupted download. A node whose reboot ack reaches the manager late fetches its install script while its
// reimage is still in `rebooting`; the window must then be the install phase's whole timeout (that phase starts
// when the manager stores the ack, no sooner than now), not what is left of the rebooting deadline.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import { emptyInventory, noEvidence, queuedProgress, type ReimagePhase } from '@metalfleet/domain';
import { FleetEvents, createBootTokens, createBootstrapTokens } from '@metalfleet/fleet';
import { openSqliteFleetStore, type FleetStore } from '@metalfleet/store';
import { buildBootApp } from './boot-app.ts';

const at = new Date('2026-11-21T10:00:00Z');
const now = () => at;
const installingMs = 600_000;
let store: FleetStore;
let app: FastifyInstance;

async function entry(nodeId: string, mac: string, phase: ReimagePhase, deadlineInMs: number): Promise<void> {
  await store.createNode({ id: nodeId, hostname: nodeId, identity: { systemUuid: `uuid-${nodeId}`, systemSerial: '', chassisSerial: '', boardSerial: '', macs: [mac], bmcAddress: '' }, inventory: emptyInventory(), agentVersion: '0.1.0', credentialHash: 'h', at });
  const id = `op-${nodeId}`;
  await store.createOperation({ id, kind: 'reimage', state: 'running', image: { name: 'os', version: '1' }, priority: 0, urgent: false, actor: 'test', reason: 'window', createdAt: at, updatedAt: at },
    [{ operationId: id, nodeId, position: 0, rack: '', tenant: null, progress: queuedProgress(), commandId: null, updatedAt: at }]);
  await store.saveOperationNode(id, nodeId, { phase, powerCycles: 0, deadlineAt: new Date(at.getTime() + deadlineInMs), message: phase, evidence: noEvidence(), failure: null }, `c-${nodeId}`, at);
}

const windowOf = async (mac: string) => {
  const body = (await app.inject({ method: 'GET', url: `/boot/ipxe?mac=${mac}` })).body;
  return Number(/metalfleet\.window=(\d+)/.exec(body)?.[1] ?? 'NaN');
};

beforeAll(async () => {
  store = openSqliteFleetStore({ path: ':memory:' });
  await store.putImage({ name: 'os', version: '1', kernelUrl: 'http://i/k', initrdUrl: 'http://i/i', rootUrl: 'http://i/r', sha256: 'ab'.repeat(32), cmdline: '' }, at);
  const tokens = createBootstrapTokens({ store, now, caFingerprint: 'f'.repeat(64) });
  const bootTokens = createBootTokens({ tokens, store, now, limits: { discoveryTtlSeconds: 900, discoveryPerMac: 2, discoveryMax: 3, installTtlSeconds: 3600 } });
  app = await buildBootApp({
    store, events: new FleetEvents(), now, logger: pino({ level: 'silent' }), managerAddress: () => '10.0.0.1:7471', publicUrl: () => 'http://10.0.0.1:7470',
    discoveryImage: null, imageDir: null, bootTokens, retryAfterS: 900, installTimeoutMs: installingMs,
  });
});

afterAll(async () => {
  await app.close();
  await store.close();
});

describe('the install window on the install script', () => {
  it('is the whole install timeout for a node whose reboot ack has not reached the manager (still rebooting), however little of that deadline is left', async () => {
    await entry('late', '02:00:00:00:00:01', 'rebooting', 10_000);
    expect(await windowOf('02:00:00:00:00:01')).toBe(installingMs / 1000);
  });

  it('is what is left of the install deadline once the manager stored the ack (installing)', async () => {
    await entry('acked', '02:00:00:00:00:02', 'installing', 120_000);
    expect(await windowOf('02:00:00:00:00:02')).toBe(120);
  });
});
