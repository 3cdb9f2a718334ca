import { describe, expect, it } from 'vitest';
import { Metadata } from '@grpc/grpc-js';
import { create } from '@bufbuild/protobuf';
import { RegisterRequestSchema, UpdateInventoryRequestSchema } from '@metalfleet/proto';
import { openSqliteFleetStore } from '@metalfleet/store';
import { agentServiceHandlers } from './agent-service.ts';
import { FleetEvents } from './fleet-events.ts';
import { createBootstrapTokens } from './bootstrap-tokens.ts';
import { createRegistrar } from './registrar.ts';

describe('UpdateInventory', () => {
  it('accepts only the node\'s own credential, and changes nothing otherwise', async () => {
    const store = openSqliteFleetStore({ path: ':memory:' });
    const tokens = createBootstrapTokens({ store, now: () => new Date(), caFingerprint: null });
    const { token } = await tokens.create({ description: 'test', ttlSeconds: 60, maxUses: null });
    const register = createRegistrar({ store, events: new FleetEvents(), tokens, admitDiscovered: 'operator', newNodeId: () => 'n1', now: () => new Date() });
    const handlers = agentServiceHandlers({ register, store, config: { mqttHost: '', mqttPort: 1, mqttTls: false, telemetryIntervalMs: 1, heartbeatIntervalMs: 1, inventoryIntervalMs: 1, healthIntervalMs: 1, healthDigestIntervalMs: 1 } });
    const reply = await handlers.register(create(RegisterRequestSchema, {
      identity: { systemUuid: 'uuid-1' }, bootstrapToken: token, inventory: { system: { hostname: 'before' } },
    }), { metadata: new Metadata(), peer: 'test', method: 'Register' });

    const call = (nodeId: string, credential: string) => {
      const metadata = new Metadata();
      metadata.set('x-metalfleet-node-id', nodeId);
      metadata.set('authorization', `Bearer ${credential}`);
      return handlers.updateInventory(create(UpdateInventoryRequestSchema, { inventory: { system: { hostname: 'after' } } }), { metadata, peer: 'test', method: 'UpdateInventory' });
    };
    await expect(call('n1', 'stolen-or-guessed')).rejects.toMatchObject({ code: 'unauthenticated' });
    await expect(call('n2', reply.nodeCredential ?? '')).rejects.toMatchObject({ code: 'unauthenticated' });
    expect((await store.getNode('n1'))?.hostname).toBe('before');
    await call('n1', reply.nodeCredential ?? '');
    expect((await store.getNode('n1'))?.hostname).toBe('after');
  });
});
