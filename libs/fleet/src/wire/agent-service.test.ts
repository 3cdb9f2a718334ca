import { describe, expect, it } from 'vitest';
import { Metadata } from '@grpc/grpc-js';
import { create } from '@bufbuild/protobuf';
import { RegisterRequestSchema, UpdateInventoryRequestSchema } from '@metalfleet/proto';
import { openSqliteFleetStore } from '@metalfleet/store';
import { agentServiceHandlers, peerAddress } from './agent-service.ts';
import { FleetEvents } from '../events/fleet-events.ts';
import { createBootstrapTokens } from '../services/bootstrap-tokens.ts';
import { createRegistrar } from '../services/registrar.ts';

describe('UpdateInventory', () => {
  it('accepts only the node\'s own credential, and changes nothing otherwise', async () => {
    const store = openSqliteFleetStore({ path: ':memory:' });
    const tokens = createBootstrapTokens({ store, now: () => new Date(), caFingerprint: null });
    const { token } = await tokens.create({ description: 'test', ttlSeconds: 60, maxUses: null });
    const register = createRegistrar({ store, events: new FleetEvents(), tokens, admitDiscovered: 'operator', newNodeId: () => 'n1', now: () => new Date() });
    const handlers = agentServiceHandlers({ register, store, claimCommand: async () => ({ verdict: 'unknown', reason: '' }), config: { brokers: [{ host: '', port: 1, tls: false }], telemetryIntervalMs: 1, heartbeatIntervalMs: 1, inventoryIntervalMs: 1, healthIntervalMs: 1, healthDigestIntervalMs: 1 } });
    const reply = await handlers.register(create(RegisterRequestSchema, {
      identity: { systemUuid: 'uuid-1' }, bootstrapToken: token, inventory: { system: { hostname: 'before' } },
    }), { metadata: new Metadata(), peer: 'test', method: 'Register', signal: new AbortController().signal, deadlineMs: Number.POSITIVE_INFINITY });

    const call = (nodeId: string, credential: string) => {
      const metadata = new Metadata();
      metadata.set('x-metalfleet-node-id', nodeId);
      metadata.set('authorization', `Bearer ${credential}`);
      return handlers.updateInventory(create(UpdateInventoryRequestSchema, { inventory: { system: { hostname: 'after' } } }), { metadata, peer: 'test', method: 'UpdateInventory', signal: new AbortController().signal, deadlineMs: Number.POSITIVE_INFINITY });
    };
    await expect(call('n1', 'stolen-or-guessed')).rejects.toMatchObject({ code: 'unauthenticated' });
    await expect(call('n2', reply.nodeCredential ?? '')).rejects.toMatchObject({ code: 'unauthenticated' });
    expect((await store.getNode('n1'))?.hostname).toBe('before');
    await call('n1', reply.nodeCredential ?? '');
    expect((await store.getNode('n1'))?.hostname).toBe('after');
    const metadata = new Metadata();
    metadata.set('x-metalfleet-node-id', 'n1');
    metadata.set('authorization', `Bearer ${reply.nodeCredential ?? ''}`);
    const huge = create(UpdateInventoryRequestSchema, { inventory: { system: { hostname: 'h'.repeat(100_000) } } });
    await expect(handlers.updateInventory(huge, { metadata, peer: 'test', method: 'UpdateInventory', signal: new AbortController().signal, deadlineMs: Number.POSITIVE_INFINITY })).rejects.toMatchObject({ code: 'invalid-argument', message: expect.stringMatching(/hostname is 100000 characters long/) });
    expect((await store.getNode('n1'))?.hostname).toBe('after');
  });
});

describe('cabling reported by agents', () => {
  const nics = (portId: string) => [{ name: 'eth0', mac: 'AA:00:00:00:00:0B', speedMbps: 1000, linkUp: true, driver: 'e1000', firmware: '', physical: true, neighbor: { switchName: 'leaf-1', switchId: '', portId, portDescription: '' } }];

  it("trusts LLDP only from a registration with a manager-issued token; the node's credential (its OS) only claims", async () => {
    const store = openSqliteFleetStore({ path: ':memory:' });
    const tokens = createBootstrapTokens({ store, now: () => new Date(), caFingerprint: null });
    const { token } = await tokens.create({ description: 'test', ttlSeconds: 60, maxUses: null });
    const register = createRegistrar({ store, events: new FleetEvents(), tokens, admitDiscovered: 'operator', newNodeId: () => 'n1', now: () => new Date() });
    const handlers = agentServiceHandlers({ register, store, claimCommand: async () => ({ verdict: 'unknown', reason: '' }), config: { brokers: [{ host: '', port: 1, tls: false }], telemetryIntervalMs: 1, heartbeatIntervalMs: 1, inventoryIntervalMs: 1, healthIntervalMs: 1, healthDigestIntervalMs: 1 } });
    const identity = { systemUuid: 'uuid-1', macs: ['aa:00:00:00:00:0b'] };
    const reply = await handlers.register(create(RegisterRequestSchema, { identity, bootstrapToken: token, inventory: { nics: nics('p1') } }), { metadata: new Metadata(), peer: 'test', method: 'Register', signal: new AbortController().signal, deadlineMs: Number.POSITIVE_INFINITY });
    const asNode = () => {
      const metadata = new Metadata();
      metadata.set('x-metalfleet-node-id', reply.nodeId ?? '');
      metadata.set('authorization', `Bearer ${reply.nodeCredential ?? ''}`);
      return metadata;
    };
    const heard = async () => (await store.portLinks()).learned.map((l) => [l.port, l.source, l.trusted]);
    expect(await heard()).toEqual([['p1', 'lldp-manager-image', true]]);

    await handlers.updateInventory(create(UpdateInventoryRequestSchema, { inventory: { nics: nics('p2') } }), { metadata: asNode(), peer: 'test', method: 'UpdateInventory', signal: new AbortController().signal, deadlineMs: Number.POSITIVE_INFINITY });
    expect(await heard()).toEqual([['p1', 'lldp-manager-image', true], ['p2', 'lldp-node-os', false]]);

    const again = await handlers.register(create(RegisterRequestSchema, { identity, inventory: { nics: nics('p3') } }), { metadata: asNode(), peer: 'test', method: 'Register', signal: new AbortController().signal, deadlineMs: Number.POSITIVE_INFINITY });
    expect(again.returning).toBe(true);
    expect(await heard()).toEqual([['p1', 'lldp-manager-image', true], ['p3', 'lldp-node-os', false]]);
  });
});

describe('a gRPC peer\'s address (its place in the registration line)', () => {
  it.each([
    ['ipv4:10.0.0.7:51234', '10.0.0.7'], ['ipv6:[fd00::7]:51234', 'fd00::7'], ['unix:/run/x.sock', 'unix:/run/x.sock'],
  ])('%s → %s', (peer, address) => {
    expect(peerAddress(peer)).toBe(address);
  });
});
