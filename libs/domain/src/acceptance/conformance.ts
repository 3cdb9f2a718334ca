// Conformance to a SKU: each check with what was measured, the threshold and
// the verdict, from the node's inventory and link states. One failed check
// keeps the node out of the pool, with the checks as its evidence.
import type { NvlinkGpuState } from '../health/host-snapshot.ts';
import type { Inventory } from '../inventory.ts';
import { modelMatches, type SkuProfile } from './sku-profile.ts';

export type CheckVerdict = 'pass' | 'fail' | 'skip';

export interface AcceptanceCheck {
  name: string;
  measured: string;
  threshold: string;
  verdict: CheckVerdict;
  /** Failed because the tool did not run or gave no result (not a fault it measured): a repeat offender is not made of these. */
  missing?: boolean;
}

const GiB = 1024 ** 3;
const check = (name: string, measured: string, threshold: string, ok: boolean | null): AcceptanceCheck =>
  ({ name, measured, threshold, verdict: ok === null ? 'skip' : ok ? 'pass' : 'fail' });
/** "GPU 3: x; GPU 5: y" for the GPUs that miss, or "all N" when none does. */
const byGpu = <T>(gpus: ReadonlyArray<{ index: number } & T>, miss: (g: T) => string | null): string => {
  const misses = gpus.flatMap((g) => { const m = miss(g); return m === null ? [] : [`GPU ${g.index}: ${m}`]; });
  return misses.length === 0 ? `all ${gpus.length}` : misses.join('; ');
};

export interface ConformanceFacts {
  inventory: Inventory;
  /** `nvidia-smi nvlink -s`; null when not read (skipped). */
  nvlinks: NvlinkGpuState[] | null;
}

export function checkConformance(profile: SkuProfile, { inventory, nvlinks }: ConformanceFacts): AcceptanceCheck[] {
  const gpus = inventory.gpus;
  const physical = inventory.nics.filter((n) => n.physical);
  const fastNics = physical.filter((n) => n.speedMbps >= profile.minNicSpeedMbps);
  const allowedDriver = (v: string) => profile.allowedDrivers.length === 0 || profile.allowedDrivers.includes(v);
  const pcieOk = (g: Inventory['gpus'][number]) => g.pcieLinkMaxGen >= profile.pcieGen && g.pcieCurrentWidth >= profile.pcieWidth;
  const allowedVbios = (v: string) => profile.allowedVbios.length === 0 || profile.allowedVbios.includes(v);
  const checks = [
    check('gpu-count', String(gpus.length), `= ${profile.gpuCount}`, gpus.length === profile.gpuCount),
    check('gpu-model', byGpu(gpus, (g) => (modelMatches(g.model, profile.gpuModel) ? null : g.model)), `is ${profile.gpuModel}`,
      gpus.length > 0 && gpus.every((g) => modelMatches(g.model, profile.gpuModel))),
    check('gpu-memory', byGpu(gpus, (g) => (g.memoryBytes >= profile.minGpuMemoryBytes ? null : `${(g.memoryBytes / GiB).toFixed(1)} GiB`)),
      `≥ ${(profile.minGpuMemoryBytes / GiB).toFixed(0)} GiB each`, gpus.every((g) => g.memoryBytes >= profile.minGpuMemoryBytes)),
    check('driver-version', [...new Set(gpus.map((g) => g.driverVersion))].join(', ') || 'none',
      profile.allowedDrivers.length === 0 ? 'any' : `one of ${profile.allowedDrivers.join(', ')}`, gpus.every((g) => allowedDriver(g.driverVersion))),
    check('vbios-version', byGpu(gpus, (g) => (allowedVbios(g.vbiosVersion) ? null : g.vbiosVersion)),
      profile.allowedVbios.length === 0 ? 'any' : `one of ${profile.allowedVbios.join(', ')}`, gpus.every((g) => allowedVbios(g.vbiosVersion))),
    // The link as it trained (the width now, the generation the slot allows), not what the GPU could do in another slot.
    check('pcie-link', byGpu(gpus, (g) => (pcieOk(g) ? null : `Gen${g.pcieLinkMaxGen} x${g.pcieCurrentWidth}`)),
      `Gen${profile.pcieGen} x${profile.pcieWidth}`, gpus.every(pcieOk)),
    check('mig-off', byGpu(gpus, (g) => (/enabled/i.test(g.migMode) ? `MIG ${g.migMode}` : null)), 'MIG disabled', gpus.every((g) => !/enabled/i.test(g.migMode))),
    nvlinkCheck(profile, gpus.map((g) => g.index), nvlinks),
    check('nic-count', `${fastNics.length} of ${physical.length} at ≥ ${profile.minNicSpeedMbps / 1000} Gb/s, link up ${fastNics.filter((n) => n.linkUp).length}`,
      `≥ ${profile.nicCount} up`, fastNics.filter((n) => n.linkUp).length >= profile.nicCount),
    check('nvme-count', String(inventory.disks.filter((d) => d.nvme).length), `≥ ${profile.nvmeCount}`, inventory.disks.filter((d) => d.nvme).length >= profile.nvmeCount),
  ];
  if (profile.dimmCount !== null) {
    checks.push(check('dimm-count', String(inventory.memory.dimms.length), `= ${profile.dimmCount}`, inventory.memory.dimms.length === profile.dimmCount));
  }
  if (profile.ecc) checks.push(...eccChecks(inventory));
  checks.push(...firmwareChecks(profile, inventory));
  // A profile for nodes without GPUs checks that there are none, and the rest of the machine.
  return profile.gpuCount === 0 ? checks.filter((c) => !perGpuChecks.has(c.name)) : checks;
}

const perGpuChecks = new Set(['gpu-model', 'gpu-memory', 'driver-version', 'vbios-version', 'pcie-link', 'mig-off', 'nvlink', 'gpu-ecc']);

/** ECC on every GPU (its mode now) and every DIMM (as the firmware reports it); one not read is not proven. */
function eccChecks(inventory: Inventory): AcceptanceCheck[] {
  const gpus = inventory.gpus;
  const gpuMiss = (g: Inventory['gpus'][number]) => (/^enabled$/i.test(g.eccMode ?? '') ? null : g.eccMode ? g.eccMode : 'not read');
  const dimms = inventory.memory.dimms;
  const off = dimms.filter((d) => d.ecc === false);
  const unread = dimms.filter((d) => d.ecc === null || d.ecc === undefined);
  const memory = dimms.length === 0 ? 'no DIMM read'
    : off.length > 0 ? off.map((d) => `${d.locator}: off`).join('; ')
      : unread.length > 0 ? `${unread.length} of ${dimms.length} not read` : `all ${dimms.length}`;
  return [
    check('gpu-ecc', byGpu(gpus, gpuMiss), 'ECC enabled on every GPU', gpus.length > 0 && gpus.every((g) => gpuMiss(g) === null)),
    check('memory-ecc', memory, 'ECC on every DIMM', dimms.length > 0 && dimms.every((d) => d.ecc === true)),
  ];
}

/** BIOS, BMC and NIC firmware against the fleet's allowed sets, where the profile names one. */
function firmwareChecks(profile: SkuProfile, inventory: Inventory): AcceptanceCheck[] {
  const allowed = profile.allowedFirmware ?? {};
  const oneOf = (versions: readonly string[]) => `one of ${versions.join(', ')}`;
  const checks: AcceptanceCheck[] = [];
  if (allowed.bios?.length) {
    const v = inventory.system.biosVersion;
    checks.push(check('bios-version', v || 'not read', oneOf(allowed.bios), allowed.bios.includes(v)));
  }
  if (allowed.bmc?.length) {
    const v = inventory.system.bmcFirmwareVersion;
    checks.push(check('bmc-firmware', v || 'not read', oneOf(allowed.bmc), allowed.bmc.includes(v)));
  }
  const nicVersions = allowed.nic;
  if (nicVersions?.length) {
    const physical = inventory.nics.filter((n) => n.physical);
    const misses = physical.filter((n) => !nicVersions.includes(n.firmware)).map((n) => `${n.name}: ${n.firmware || 'not read'}`);
    checks.push(check('nic-firmware', misses.join('; ') || `all ${physical.length}`, oneOf(nicVersions), physical.length > 0 && misses.length === 0));
  }
  return checks;
}

/** Every GPU the node has, by its own entry in the list read (the first of its index): one left out was not read. */
function nvlinkCheck(profile: SkuProfile, gpuIndexes: readonly number[], read: NvlinkGpuState[] | null): AcceptanceCheck {
  const want = profile.nvlinksPerGpu;
  if (want === null) return check('nvlink', 'PCIe GPUs', 'none', null);
  if (read === null) return check('nvlink', 'not read', `${want} up per GPU, all at one speed`, null);
  const byIndex = new Map<number, NvlinkGpuState>();
  for (const g of read) if (!byIndex.has(g.gpuIndex)) byIndex.set(g.gpuIndex, g);
  const nvlinks = gpuIndexes.map((index) => byIndex.get(index) ?? { gpuIndex: index, uuid: '', links: [] as Array<number | null>, unread: true });
  // A link up but trained slower than the node's fastest is a fault too (a badly seated cable): the all-reduce runs at its pace.
  const speeds = nvlinks.flatMap((g) => g.links.filter((l): l is number => l !== null));
  const fastest = speeds.length === 0 ? 0 : Math.max(...speeds);
  const miss = (g: NvlinkGpuState & { unread?: boolean }) => {
    if (g.unread) return 'not read';
    const up = g.links.filter((l): l is number => l !== null);
    const slow = up.filter((l) => l < fastest);
    if (up.length < want) return `${up.length} up`;
    return slow.length > 0 ? `${slow.length} at ${Math.min(...slow)} GB/s of ${fastest}` : null;
  };
  const measured = byGpu(nvlinks.map((g) => ({ index: g.gpuIndex, state: g })), (g) => miss(g.state));
  return check('nvlink', measured, `${want} up per GPU, all at one speed`, nvlinks.length > 0 && nvlinks.every((g) => miss(g) === null));
}

/** The node passes when no check failed (skipped ones say what was not measured). */
export const accepted = (checks: readonly AcceptanceCheck[]) => checks.every((c) => c.verdict !== 'fail');
