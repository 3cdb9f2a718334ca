// Composing the tenant networks: pools from config, one driver per configured
// switch, the reconciler run on a timer and at once on every change that moves
// a port.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { OvsdbDriver, type FabricDriver } from '@metalfleet/fabric';
import { createFabricReconciler, createTenants, type FleetEvent, type FleetEvents, type Lifecycle } from '@metalfleet/fleet';
import type { FleetStore } from '@metalfleet/store';
import type { ManagerConfig } from './config.ts';

// Besides the lifecycle's own effects (a node entering or leaving `active`, the one
// state that opens a tenant's VLAN: lifecycle-effects.ts settles the ports), only a
// node changing tenant or a tenant going away moves a port. Everything else, a
// registration storm's thousands of transitions included, leaves ports as they are.
function movesPorts(event: FleetEvent): boolean {
  return event.type === 'node-tenant-changed' || event.type === 'tenant-deleted';
}

/** `runsHere`: whether this replica holds the lease of the control loops now (the periodic reconcile is one of them). */
export function startFabric(config: ManagerConfig, deps: { store: FleetStore; events: FleetEvents; lifecycle: Lifecycle; now: () => Date; logger: Logger; runsHere: () => boolean }) {
  const pools = { vlans: config.vlanPool, vnis: config.vniPool, provisioningVlan: config.provisioningVlan };
  const drivers: FabricDriver[] = config.ovsdbSwitches.map((options) => new OvsdbDriver(options));
  const reconciler = createFabricReconciler({ store: deps.store, events: deps.events, drivers, provisioningVlan: config.provisioningVlan, now: deps.now });
  const tenants = createTenants({
    store: deps.store, events: deps.events, lifecycle: deps.lifecycle, now: deps.now, newId: randomUUID, pools, vlansOnPorts: reconciler.vlansOnPorts,
  });
  const run = () => (deps.runsHere() ? reconciler.reconcile() : Promise.resolve()).catch((error: unknown) => deps.logger.error({ err: error }, 'fabric reconciliation failed'));
  // Without switches there is nothing to program: no passes at all.
  const unsubscribe = drivers.length > 0 ? deps.events.on((event) => {
    if (movesPorts(event)) void run();
  }) : () => undefined;
  const timer = drivers.length > 0 ? setInterval(() => void run(), config.fabricIntervalS * 1000) : null;
  if (drivers.length > 0) void run();
  return {
    pools, drivers, reconciler, tenants,
    async stop() {
      unsubscribe();
      if (timer) clearInterval(timer);
      await reconciler.settled().catch(() => undefined);
      for (const driver of drivers) await driver.close();
    },
  };
}
