// Keeps every switch port on the VLAN its node's state calls for. Each pass
// reads the cabling, the nodes and the tenants, plans the ports (pure, in
// libs/domain), asks each switch what its ports carry, and fixes the
// difference. A difference the manager did not cause (a port retagged by hand)
// is drift: repaired the same way, and announced as such.
import { desiredPorts, effectiveLinks, linksDiffer, linksSeenBySwitches, portDrift, type ActualPort, type CablingWarning, type DesiredPort, type NodeSummary, type PlannedLink, type PlannedNode, type SeenOnPort, type TenantNetwork } from '@metalfleet/domain';
import type { FabricDriver } from '@metalfleet/fabric';
import type { FleetStore } from '@metalfleet/store';
import { coalesced } from './coalesced.ts';
import type { FleetEvents } from '../events/fleet-events.ts';

export interface ReconcilerDeps {
  store: FleetStore;
  events: FleetEvents;
  drivers: readonly FabricDriver[];
  provisioningVlan: number;
  now: () => Date;
}

export interface PortStatus extends DesiredPort {
  actualVlan: number | null;
  inSync: boolean;
}

export interface FabricView {
  at: Date | null;
  ports: PortStatus[];
  /** Switches the last pass could not read or program, with why. */
  errors: Array<{ switchName: string; message: string }>;
  cablingWarnings: string[];
  /** The same warnings with who claims which port from what source, and who holds it. */
  cabling: CablingWarning[];
  driftRepairs: number;
}

const key = (p: { switchName: string; port: string }) => `${p.switchName}\u0000${p.port}`;

export function createFabricReconciler(deps: ReconcilerDeps) {
  /** What the manager itself last set on each port: a port that differs from it was changed by someone else. */
  const applied = new Map<string, number>();
  const warned = new Set<string>();
  let view: FabricView = { at: null, ports: [], errors: [], cablingWarnings: [], cabling: [], driftRepairs: 0 };

  /**
   * Records what the switches themselves saw as 'switch' links, for drivers
   * that can read it (none of today's: see FabricDriver.seenOnPorts). Writes
   * only the nodes whose links changed; skipped when any switch did not answer.
   */
  async function recordSwitchView(listed: readonly NodeSummary[], errors: FabricView['errors']): Promise<void> {
    const readers = deps.drivers.filter((d) => d.seenOnPorts);
    if (readers.length === 0) return;
    const seen: SeenOnPort[] = [];
    for (const driver of readers) {
      try {
        seen.push(...(await driver.seenOnPorts?.() ?? []));
      } catch (error) {
        errors.push({ switchName: driver.switchName, message: `reading what the switch saw on its ports: ${String((error as Error).message ?? error)}` });
        return;
      }
    }
    const owners = new Map(listed.flatMap((n) => n.identity.macs.map((mac) => [mac.toLowerCase(), n.id] as const)));
    const now = linksSeenBySwitches(seen, owners);
    const before = new Map<string, PlannedLink[]>();
    for (const l of (await deps.store.portLinks()).learned) if (l.source === 'switch') before.set(l.nodeId, [...(before.get(l.nodeId) ?? []), l]);
    for (const nodeId of new Set([...now.keys(), ...before.keys()])) {
      const links = now.get(nodeId) ?? [];
      if (linksDiffer(links, before.get(nodeId) ?? [])) await deps.store.recordLearnedLinks(nodeId, 'switch', links, deps.now());
    }
  }

  async function plan(errors: FabricView['errors']): Promise<{ wanted: DesiredPort[]; warnings: CablingWarning[] }> {
    const listed = await deps.store.listNodes();
    await recordSwitchView(listed, errors);
    const { planned, learned } = await deps.store.portLinks();
    const { links, warnings } = effectiveLinks(planned, learned);
    for (const w of warnings) {
      if (warned.has(w.message)) continue;
      warned.add(w.message);
      deps.events.emit({ type: 'cabling-warning', nodeId: w.nodeId, mac: w.mac, message: w.message, at: deps.now() });
    }
    const nodes = new Map<string, PlannedNode>(listed.map((n) => [n.id, { id: n.id, state: n.state, tenant: n.tenant }]));
    const tenants = new Map<string, TenantNetwork>((await deps.store.listTenants()).map((t) => [t.id, t]));
    return { wanted: desiredPorts(links, nodes, tenants, deps.provisioningVlan), warnings };
  }

  async function pass(): Promise<void> {
    if (deps.drivers.length === 0) return; // no switch to program: nothing to plan either
    const errors: FabricView['errors'] = [];
    const { wanted, warnings } = await plan(errors);
    const ports: PortStatus[] = [];
    let repairs = view.driftRepairs;
    for (const driver of deps.drivers) {
      const mine = wanted.filter((p) => p.switchName === driver.switchName);
      let actual: ActualPort[];
      try {
        actual = await driver.ports();
      } catch (error) {
        errors.push({ switchName: driver.switchName, message: String((error as Error).message ?? error) });
        ports.push(...mine.map((p) => ({ ...p, actualVlan: null, inSync: false })));
        continue;
      }
      const actualByPort = new Map(actual.map((p) => [key(p), p.vlan]));
      const drifted = new Map(portDrift(mine, actual).map((d) => [key(d), d]));
      for (const want of mine) {
        const d = drifted.get(key(want));
        if (!d) {
          applied.set(key(want), want.vlan);
          ports.push({ ...want, actualVlan: want.vlan, inSync: true });
          continue;
        }
        if (!actualByPort.has(key(want))) {
          errors.push({ switchName: driver.switchName, message: `port ${want.port} is cabled to node ${want.nodeId} but the switch has no such port` });
          ports.push({ ...want, actualVlan: null, inSync: false });
          continue;
        }
        const last = applied.get(key(want));
        try {
          await driver.setAccessVlan(want.port, want.vlan);
        } catch (error) {
          errors.push({ switchName: driver.switchName, message: `port ${want.port}: ${String((error as Error).message ?? error)}` });
          ports.push({ ...want, actualVlan: d.actualVlan, inSync: false });
          continue;
        }
        applied.set(key(want), want.vlan);
        const at = deps.now();
        if (last !== undefined && last === want.vlan) {
          // The manager had this port where it wants it; someone moved it.
          repairs += 1;
          deps.events.emit({ type: 'port-drift-repaired', switchName: driver.switchName, port: want.port, nodeId: want.nodeId, vlan: want.vlan, foundVlan: d.actualVlan, at });
        } else {
          deps.events.emit({ type: 'port-configured', switchName: driver.switchName, port: want.port, nodeId: want.nodeId, vlan: want.vlan, previousVlan: d.actualVlan, why: want.why, at });
        }
        ports.push({ ...want, actualVlan: want.vlan, inSync: true });
      }
    }
    for (const e of errors) deps.events.emit({ type: 'fabric-error', switchName: e.switchName, message: e.message, at: deps.now() });
    view = { at: deps.now(), ports, errors, cablingWarnings: warnings.map((w) => w.message), cabling: warnings, driftRepairs: repairs };
  }

  /** Runs a pass now; a request during a pass runs one more pass after it (never two at once). */
  const runs = coalesced(pass);
  const reconcile = (): Promise<void> => runs.run();

  return {
    reconcile,
    /** Resolves once no pass is running (for shutdown: never starts one). */
    settled: runs.settled,
    view: (): FabricView => view,
    /** VLANs some managed port carries now (from the last pass). */
    vlansOnPorts: (): ReadonlySet<number> => new Set(view.ports.flatMap((p) => (p.actualVlan === null ? [] : [p.actualVlan]))),
  };
}

export type FabricReconciler = ReturnType<typeof createFabricReconciler>;
