import { describe, expect, it } from 'vitest';
import { Metadata } from '@grpc/grpc-js';
import { create } from '@bufbuild/protobuf';
import { ClaimCommandRequestSchema, RegisterRequestSchema, UpdateInventoryRequestSchema } from '@metalfleet/proto';
import { openSqliteFleetStore } from '@metalfleet/store';
import { agentServiceHandlers, peerAddress } from './agent-service.ts';
import { FleetEvents } from '../events/fleet-events.ts';
import { createBootstrapTokens } from '../services/bootstrap-tokens.ts';
import { createClientCertificates } from '../services/client-certificates.ts';
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
    }), { metadata: new Metadata(), peer: 'test', method: 'Register', signal: new AbortController().signal, deadlineMs: Number.POSITIVE_INFINITY, peerCertificate: null });

    const call = (nodeId: string, credential: string) => {
      const metadata = new Metadata();
      metadata.set('x-metalfleet-node-id', nodeId);
      metadata.set('authorization', `Bearer ${credential}`);
      return handlers.updateInventory(create(UpdateInventoryRequestSchema, { inventory: { system: { hostname: 'after' } } }), { metadata, peer: 'test', method: 'UpdateInventory', signal: new AbortController().signal, deadlineMs: Number.POSITIVE_INFINITY, peerCertificate: null });
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
    await expect(handlers.updateInventory(huge, { metadata, peer: 'test', method: 'UpdateInventory', signal: new AbortController().signal, deadlineMs: Number.POSITIVE_INFINITY, peerCertificate: null })).rejects.toMatchObject({ code: 'invalid-argument', message: expect.stringMatching(/hostname is 100000 characters long/) });
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
    const reply = await handlers.register(create(RegisterRequestSchema, { identity, bootstrapToken: token, inventory: { nics: nics('p1') } }), { metadata: new Metadata(), peer: 'test', method: 'Register', signal: new AbortController().signal, deadlineMs: Number.POSITIVE_INFINITY, peerCertificate: null });
    const asNode = () => {
      const metadata = new Metadata();
      metadata.set('x-metalfleet-node-id', reply.nodeId ?? '');
      metadata.set('authorization', `Bearer ${reply.nodeCredential ?? ''}`);
      return metadata;
    };
    const heard = async () => (await store.portLinks()).learned.map((l) => [l.port, l.source, l.trusted]);
    expect(await heard()).toEqual([['p1', 'lldp-manager-image', true]]);

    await handlers.updateInventory(create(UpdateInventoryRequestSchema, { inventory: { nics: nics('p2') } }), { metadata: asNode(), peer: 'test', method: 'UpdateInventory', signal: new AbortController().signal, deadlineMs: Number.POSITIVE_INFINITY, peerCertificate: null });
    expect(await heard()).toEqual([['p1', 'lldp-manager-image', true], ['p2', 'lldp-node-os', false]]);

    const again = await handlers.register(create(RegisterRequestSchema, { identity, inventory: { nics: nics('p3') } }), { metadata: asNode(), peer: 'test', method: 'Register', signal: new AbortController().signal, deadlineMs: Number.POSITIVE_INFINITY, peerCertificate: null });
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

describe('calls authenticated by the client certificate of their connection (--node-certificates)', () => {
  it('takes the node from a certificate it stands behind, and refuses one revoked, expired, unknown or naming another node', async () => {
    const now = new Date('2026-11-28T12:00:00Z');
    const store = openSqliteFleetStore({ path: ':memory:' });
    const refused = async () => {
      throw new Error('not used here');
    };
    const certificates = createClientCertificates({ store, now: () => now, ttlMs: 3_600_000, sign: refused, isBadRequest: () => false, signCrl: refused, publishCrl: () => undefined });
    const claimed: string[] = [];
    const handlers = agentServiceHandlers({
      register: refused, store, certificates, now: () => now,
      claimCommand: async (nodeId) => {
        claimed.push(nodeId);
        return { verdict: 'unknown', reason: '' };
      },
      config: { brokers: [{ host: '', port: 1, tls: false }], telemetryIntervalMs: 1, heartbeatIntervalMs: 1, inventoryIntervalMs: 1, healthIntervalMs: 1, healthDigestIntervalMs: 1 },
    });
    const later = new Date(now.getTime() + 3_600_000);
    await store.recordNodeCertificate({ serial: 'aa01', nodeId: 'n1', issuedAt: now, notAfter: later, brokerUser: '' });
    await store.recordNodeCertificate({ serial: 'aa02', nodeId: 'n1', issuedAt: now, notAfter: later, brokerUser: '' });
    await store.recordNodeCertificate({ serial: 'aa03', nodeId: 'n1', issuedAt: new Date(now.getTime() - 7_200_000), notAfter: now, brokerUser: '' });
    await store.revokeNodeCertificates('n1', now, 'aa01');
    const claim = (commonName: string, serial: string, named = '') => {
      const metadata = new Metadata();
      if (named !== '') metadata.set('x-metalfleet-node-id', named);
      return handlers.claimCommand(create(ClaimCommandRequestSchema, { commandId: 'c1' }), {
        metadata, peer: 'test', method: 'ClaimCommand', signal: new AbortController().signal, deadlineMs: Number.POSITIVE_INFINITY, peerCertificate: { commonName, serial },
      });
    };
    await claim('n1', 'aa01');
    await claim('n1', 'aa01', 'n1');
    expect(claimed).toEqual(['n1', 'n1']);
    await expect(claim('n1', 'aa01', 'n2')).rejects.toMatchObject({ code: 'unauthenticated' });
    await expect(claim('n1', 'aa02')).rejects.toMatchObject({ code: 'unauthenticated', message: expect.stringMatching(/revoked/) });
    await expect(claim('n1', 'aa03')).rejects.toMatchObject({ code: 'unauthenticated' });
    await expect(claim('n1', 'ffff')).rejects.toMatchObject({ code: 'unauthenticated' });
    await expect(claim('n2', 'aa01')).rejects.toMatchObject({ code: 'unauthenticated' });
    expect(claimed).toEqual(['n1', 'n1']);
  });
});

describe('Register while the broker would not keep reports', () => {
  it('refuses the node (retry soon) and stores nothing until the broker is ready', async () => {
    const store = openSqliteFleetStore({ path: ':memory:' });
    const tokens = createBootstrapTokens({ store, now: () => new Date(), caFingerprint: null });
    const { token } = await tokens.create({ description: 'test', ttlSeconds: 60, maxUses: 1 });
    const register = createRegistrar({ store, events: new FleetEvents(), tokens, admitDiscovered: 'operator', newNodeId: () => 'n1', now: () => new Date() });
    let waiting: string | null = 'the NATS cluster\'s consumers for mf/v1/nodes/+/health are not set up yet';
    const handlers = agentServiceHandlers({
      register, store, claimCommand: async () => ({ verdict: 'unknown', reason: '' }), reportsWaiting: () => waiting,
      config: { brokers: [{ host: '', port: 1, tls: false }], telemetryIntervalMs: 1, heartbeatIntervalMs: 1, inventoryIntervalMs: 1, healthIntervalMs: 1, healthDigestIntervalMs: 1 },
    });
    const call = () => handlers.register(create(RegisterRequestSchema, { identity: { systemUuid: 'uuid-1' }, bootstrapToken: token }),
      { metadata: new Metadata(), peer: 'test', method: 'Register', signal: new AbortController().signal, deadlineMs: Number.POSITIVE_INFINITY, peerCertificate: null });
    await expect(call()).rejects.toMatchObject({ code: 'unavailable', retryable: true, details: { retryAfterMs: 2000 }, message: expect.stringMatching(/cannot keep nodes' reports yet \(the NATS cluster's consumers for mf\/v1\/nodes\/\+\/health/) });
    expect(await store.listNodes()).toEqual([]);
    // The token's one use was not spent on the refusal.
    waiting = null;
    expect((await call()).nodeId).toBe('n1');
  });
});
