// Proto <-> domain for identity and inventory: the one place where wire types
// (bigint uint64s, Timestamps, $typeName) become plain domain data and back.
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { timestampDate, timestampFromDate } from '@bufbuild/protobuf/wkt';
import { InventorySchema, NodeIdentitySchema, type Inventory as InventoryMessage, type NodeIdentity as NodeIdentityMessage } from '@metalfleet/proto';
import { emptyInventory, type Inventory, type NodeIdentity } from '@metalfleet/domain';

export function identityFromProto(message: NodeIdentityMessage | undefined): NodeIdentity {
  return {
    systemUuid: message?.systemUuid ?? '',
    systemSerial: message?.systemSerial ?? '',
    chassisSerial: message?.chassisSerial ?? '',
    boardSerial: message?.boardSerial ?? '',
    macs: [...(message?.macs ?? [])],
    bmcAddress: message?.bmcAddress ?? '',
  };
}

export function identityToProto(identity: NodeIdentity): NodeIdentityMessage {
  return create(NodeIdentitySchema, { ...identity, macs: [...identity.macs] });
}

export function inventoryFromProto(message: InventoryMessage | undefined): Inventory {
  const empty = emptyInventory();
  if (!message) return empty;
  return {
    system: { ...empty.system, ...strip(message.system) },
    cpus: message.cpus.map((c) => ({ vendor: c.vendor, model: c.model, cores: c.cores, threads: c.threads, baseGhz: c.baseGhz })),
    memory: {
      totalBytes: Number(message.memory?.totalBytes ?? 0n),
      dimms: (message.memory?.dimms ?? []).map((d) => ({
        locator: d.locator, sizeBytes: Number(d.sizeBytes), type: d.type, speedMts: d.speedMts, serial: d.serial, ecc: d.ecc === 'on' ? true : d.ecc === 'off' ? false : null,
      })),
    },
    disks: message.disks.map((d) => ({ name: d.name, model: d.model, serial: d.serial, sizeBytes: Number(d.sizeBytes), nvme: d.nvme, firmware: d.firmware })),
    nics: message.nics.map((n) => ({
      name: n.name, mac: n.mac, speedMbps: n.speedMbps, linkUp: n.linkUp, driver: n.driver, firmware: n.firmware, physical: n.physical,
      neighbor: n.neighbor ? { switchName: n.neighbor.switchName, switchId: n.neighbor.switchId, portId: n.neighbor.portId, portDescription: n.neighbor.portDescription } : null,
    })),
    gpus: message.gpus.map((g) => ({
      index: g.index, model: g.model, uuid: g.uuid, serial: g.serial, vbiosVersion: g.vbiosVersion, driverVersion: g.driverVersion,
      cudaVersion: g.cudaVersion, pciBusId: g.pciBusId, memoryBytes: Number(g.memoryBytes), pcieMaxGen: g.pcieMaxGen,
      pcieMaxWidth: g.pcieMaxWidth, pcieLinkMaxGen: g.pcieLinkMaxGen, pcieCurrentWidth: g.pcieCurrentWidth, migMode: g.migMode, powerLimitW: g.powerLimitW, defaultPowerLimitW: g.defaultPowerLimitW, eccMode: g.eccMode,
    })),
    os: { ...empty.os, ...strip(message.os) },
    failures: message.failures.map((f) => ({ collector: f.collector, message: f.message })),
    collectedAt: message.collectedAt ? timestampDate(message.collectedAt) : null,
  };
}

export function inventoryToProto(inventory: Inventory): InventoryMessage {
  const init: MessageInitShape<typeof InventorySchema> = {
    system: inventory.system,
    cpus: inventory.cpus,
    memory: { totalBytes: BigInt(Math.round(inventory.memory.totalBytes)), dimms: inventory.memory.dimms.map((d) => ({ ...d, sizeBytes: BigInt(Math.round(d.sizeBytes)), ecc: d.ecc === null ? '' : d.ecc ? 'on' : 'off' })) },
    disks: inventory.disks.map((d) => ({ ...d, sizeBytes: BigInt(Math.round(d.sizeBytes)) })),
    nics: inventory.nics.map(({ neighbor, ...nic }) => ({ ...nic, ...(neighbor ? { neighbor } : {}) })),
    gpus: inventory.gpus.map((g) => ({ ...g, memoryBytes: BigInt(Math.round(g.memoryBytes)) })),
    os: inventory.os,
    failures: inventory.failures,
    ...(inventory.collectedAt ? { collectedAt: timestampFromDate(inventory.collectedAt) } : {}),
  };
  return create(InventorySchema, init);
}

function strip<T extends { $typeName: string }>(message: T | undefined): Omit<T, '$typeName'> | Record<string, never> {
  if (!message) return {};
  const { $typeName: _ignored, ...rest } = message;
  return rest;
}
