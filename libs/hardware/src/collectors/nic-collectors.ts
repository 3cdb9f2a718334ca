// NICs: inventory (systeminformation + sysfs + ethtool), LLDP neighbours
// (lldpd), and link health (sysfs + ethtool).
import si from 'systeminformation';
import type { NicState } from '@metalfleet/domain';
import type { HealthCollector, InventoryCollector } from '../collector.ts';
import { commandExists, runCommand, type RunCommand } from '../command-runner.ts';
import { parseEthtoolInfo, parseEthtoolMaxSpeed } from '../parsers/ethtool.ts';
import { parseLldpNeighbors } from '../parsers/lldp.ts';
import { nicFacts, readSysfs } from '../sysfs.ts';

export async function physicalInterfaces(): Promise<Array<{ iface: string; mac: string; speed: number | null; up: boolean; physical: boolean; driver: string }>> {
  const nics = await si.networkInterfaces();
  return (Array.isArray(nics) ? nics : [nics])
    .filter((n) => !n.internal && n.mac && n.mac !== '00:00:00:00:00:00')
    .map((n) => ({ iface: n.iface, mac: n.mac.toLowerCase(), speed: n.speed && n.speed > 0 ? n.speed : null, up: n.operstate === 'up', ...nicFacts(n.iface) }));
}

export function nicInventoryCollector(run: RunCommand = runCommand): InventoryCollector {
  return {
    name: 'nics',
    probe: async () => true,
    async collect() {
      const hasEthtool = commandExists('ethtool');
      const nics = await physicalInterfaces();
      return {
        nics: await Promise.all(nics.map(async (n) => {
          const info = hasEthtool && n.physical ? await run('ethtool', ['-i', n.iface], { timeoutMs: 5000 }).then(parseEthtoolInfo, () => null) : null;
          return { name: n.iface, mac: n.mac, speedMbps: n.speed ?? 0, linkUp: n.up, driver: info?.driver || n.driver, firmware: info?.firmware ?? '', physical: n.physical, neighbor: null };
        })),
      };
    },
  };
}

/** Which switch port each NIC is cabled to. lldpd must run in the image; its absence is a recorded failure. */
export function lldpCollector(run: RunCommand = runCommand): InventoryCollector {
  return {
    name: 'lldp',
    probe: async () => true,
    async collect(draft) {
      const neighbors = parseLldpNeighbors(await run('lldpcli', ['show', 'neighbors', '-f', 'json'], { timeoutMs: 10_000 }));
      return {
        nics: draft.nics.map((nic) => {
          const n = neighbors.find((x) => x.nic === nic.name);
          return n ? { ...nic, neighbor: { switchName: n.switchName, switchId: n.switchId, portId: n.portId, portDescription: n.portDescription } } : nic;
        }),
      };
    },
  };
}

/** Link state of the physical NICs; a NIC is expected up once it has had a link while the agent ran. */
export function nicHealthCollector(run: RunCommand = runCommand): HealthCollector {
  const hadLink = new Set<string>();
  const maxSpeeds = new Map<string, number | null>();
  return {
    name: 'nic-health',
    probe: async () => true,
    async collect() {
      const nics = (await physicalInterfaces()).filter((n) => n.physical);
      const states: NicState[] = [];
      for (const n of nics) {
        const carrier = readSysfs(`/sys/class/net/${n.iface}/carrier`) === '1';
        const up = n.up && carrier;
        if (up) hadLink.add(n.iface);
        if (!maxSpeeds.has(n.iface)) {
          maxSpeeds.set(n.iface, commandExists('ethtool') ? await run('ethtool', [n.iface], { timeoutMs: 5000 }).then(parseEthtoolMaxSpeed, () => null) : null);
        }
        states.push({ name: n.iface, linkUp: up, speedMbps: n.speed, maxSpeedMbps: maxSpeeds.get(n.iface) ?? null, expectedUp: hadLink.has(n.iface) });
      }
      return { nics: states };
    },
  };
}
