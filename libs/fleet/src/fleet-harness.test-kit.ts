// The manager's fleet services wired as main does, over an in-memory SQLite
// store, an embedded broker and (optionally) a fake switch that reports which
// MAC it saw on which port: for the reimage and lifecycle-effect tests.
import { emptyInventory, type ActualPort, type NodeSummary } from '@metalfleet/domain';
import type { FabricDriver } from '@metalfleet/fabric';
import { openSqliteFleetStore, type FleetStore } from '@metalfleet/store';
import { createNodeBroker } from '@metalfleet/manager-transport';
import { createClusterTemplates } from './services/cluster-templates.ts';
import { createCommandOutbox } from './controllers/command-outbox.ts';
import { createFabricReconciler } from './controllers/fabric-reconciler.ts';
import { FleetEvents, type FleetEvent } from './events/fleet-events.ts';
import { createLifecycle } from './controllers/lifecycle.ts';
import { createLifecycleEffects, resumeInterruptedEffects } from './controllers/lifecycle-effects.ts';
import { createReimages, type BmcControl, type ReimageDeps } from './controllers/reimages.ts';
import { createTenants } from './services/tenants.ts';

export const sha256 = 'ab'.repeat(32);

/** A switch with one port per node, p-<node id>, that saw each node's MAC on its port. */
export function fakeSwitch(nodeIds: readonly string[]): FabricDriver & { vlans: Map<string, number | null> } {
  const vlans = new Map<string, number | null>(nodeIds.map((id) => [`p-${id}`, null]));
  return {
    switchName: 'leaf-1', kind: 'fake', vlans,
    ports: async (): Promise<ActualPort[]> => [...vlans].map(([port, vlan]) => ({ switchName: 'leaf-1', port, vlan })),
    setAccessVlan: async (port, vlan) => void vlans.set(port, vlan),
    seenOnPorts: async () => nodeIds.map((id) => ({ switchName: 'leaf-1', port: `p-${id}`, mac: macOf(id) })),
    close: async () => undefined,
  };
}

const macOf = (id: string) => `02:00:00:00:00:${Buffer.from(id).toString('hex').slice(-2).padStart(2, '0')}`;

export interface HarnessOptions {
  now: () => Date;
  store?: FleetStore;
  drain?: ReimageDeps['drain'];
  switchFor?: readonly string[];
  bmc?: BmcControl | null;
  /** While it answers true, settling the fabric fails (a switch that cannot be reached). */
  fabricDown?: () => boolean;
  /** The lease the reimage steps and their effects are made under (none: unfenced). */
  fence?: ReimageDeps['fence'];
  /** Acceptance-test reimaged nodes before they serve again (--acceptance-after-reimage). */
  acceptAfterReimage?: boolean;
  /** Revokes a node's client certificates (none: no certificates issued). */
  revokeCertificates?: (nodeId: string) => Promise<number>;
}

export async function startFleet(options: HarnessOptions) {
  const { now } = options;
  const store = options.store ?? openSqliteFleetStore({ path: ':memory:' });
  const events = new FleetEvents();
  const seen: FleetEvent[] = [];
  events.on((e) => void seen.push(e));
  const errors: unknown[] = [];
  const onError = (error: unknown) => void errors.push(error);
  const lifecycle = createLifecycle({ store, events, now });
  const driver = options.switchFor ? fakeSwitch(options.switchFor) : null;
  const reconciler = createFabricReconciler({ store, events, drivers: driver ? [driver] : [], provisioningVlan: 10, now });
  let ids = 0;
  const newId = () => `id-${(ids += 1)}`;
  const pools = { vlans: { kind: 'VLAN', first: 100, last: 109 }, vnis: { kind: 'VNI', first: 5000, last: 5009 }, provisioningVlan: 10 };
  const tenants = createTenants({ store, events, lifecycle, now, newId, pools, vlansOnPorts: reconciler.vlansOnPorts });
  const broker = await createNodeBroker({ maxPayloadBytes: 65536, authenticateNode: async () => false });
  const outbox = createCommandOutbox({ store, broker, events, now, newId, ackTimeoutMs: 60_000, maxAttempts: 2, maxPayloadBytes: 65536 });
  await outbox.listen();
  const settleFabric = async () => {
    if (options.fabricDown?.()) throw new Error('switch leaf-1 unreachable');
    await reconciler.reconcile();
  };
  const reimages = createReimages({
    store, events, lifecycle, outbox, now, newId, settleFabric, bmcFor: async () => options.bmc ?? null, drain: options.drain ?? (async () => undefined),
    bootScriptUrl: () => 'http://m/boot', limits: { global: 10, perRack: 10, perTenant: 10 }, windows: [],
    timeoutsMs: { draining: 60_000, isolating: 60_000, rebooting: 60_000, installing: 60_000, 'health-check': 60_000, accepting: 60_000, restoring: 60_000 }, maxPowerCycles: 1, onError,
    fence: options.fence, acceptAfterReimage: options.acceptAfterReimage ?? false,
  });
  const templates = createClusterTemplates({ store, tenants, reimages, now, newId });
  const executeEffects = createLifecycleEffects({ store, events, tenants, templates, reimages, settleFabric, powerOff: async () => false, now, onError,
    ...(options.revokeCertificates ? { revokeCertificates: options.revokeCertificates } : {}) });
  lifecycle.executeEffectsWith(executeEffects);
  /** What a restarted manager does first: the effects a stop cut off. */
  const resumeEffects = () => resumeInterruptedEffects(store, executeEffects);
  await store.putImage({ name: 'gpu-os', version: '1', kernelUrl: 'http://m/k', initrdUrl: 'http://m/i', rootUrl: 'http://m/r', sha256, cmdline: '' }, now());

  async function addNode(id: string): Promise<void> {
    const inventory = emptyInventory();
    await store.createNode({
      id, hostname: `host-${id}`, identity: { systemUuid: `u-${id}`, systemSerial: '', chassisSerial: '', boardSerial: '', macs: [macOf(id)], bmcAddress: '' },
      inventory, agentVersion: 't', credentialHash: 'h', at: now(),
    });
    await store.setPresence(id, 'online', now());
    await lifecycle.apply(id, 'inspect', 'test', 'registered');
    await lifecycle.apply(id, 'inspection-passed', 'test', 'healthy');
  }

  /** An available node allocated to the tenant and provisioned: active in it. */
  async function activeIn(tenantId: string, id: string): Promise<void> {
    await tenants.allocateNode(tenantId, id, 'test');
    await lifecycle.apply(id, 'provision', 'test', 'first image');
    await lifecycle.apply(id, 'provisioned', 'test', 'first image');
  }

  const node = async (id: string): Promise<NodeSummary> => {
    const n = await store.getNodeSummary(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  };

  return {
    store, events, seen, errors, lifecycle, reconciler, driver, tenants, broker, outbox, reimages, templates, addNode, activeIn, node, executeEffects, resumeEffects,
    async close() {
      await broker.close();
      await store.close();
    },
  };
}

/** Waits for a condition the code under test reaches asynchronously (never a fixed sleep). */
export async function until<T>(probe: () => Promise<T> | T, ok: (value: T) => boolean, what = 'the condition'): Promise<T> {
  let value = await probe();
  for (let i = 0; i < 600 && !ok(value); i += 1) {
    await new Promise((r) => setTimeout(r, 5));
    value = await probe();
  }
  if (!ok(value)) throw new Error(`timed out waiting for ${what}; last seen: ${JSON.stringify(value)}`);
  return value;
}
