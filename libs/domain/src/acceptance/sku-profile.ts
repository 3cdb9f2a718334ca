// SKU profiles: what a node of a kind must be (hardware, firmware) and must
// measure (gates) before it serves. Data an operator edits; these defaults are
// 8-GPU HGX nodes from GPU-HEALTH.md §7 (Azure's aznhc gates, DCGM's SKU
// tables, published NCCL results).

export interface SkuProfile {
  /** Its name, e.g. `hgx-h100-8`. */
  name: string;
  /** A node is of this SKU when its GPUs' model contains this text (case-insensitive) and it has `gpuCount` of them. */
  gpuModel: string;
  gpuCount: number;
  /** Per GPU, at least (bytes). */
  minGpuMemoryBytes: number;
  /** The fleet's allowed driver and VBIOS versions; empty: any. */
  allowedDrivers: readonly string[];
  allowedVbios: readonly string[];
  /** Every GPU's PCIe link at least this generation and width. */
  pcieGen: number;
  pcieWidth: number;
  /** NVLinks up per GPU; null for PCIe cards. */
  nvlinksPerGpu: number | null;
  /** Physical NICs of at least `minNicSpeedMbps`. */
  nicCount: number;
  minNicSpeedMbps: number;
  nvmeCount: number;
  /** DIMMs populated; null: not checked. */
  dimmCount: number | null;
  /** ECC enabled on every GPU and every DIMM (absent or false: not checked). */
  ecc?: boolean;
  /** The fleet's allowed firmware: system BIOS, BMC, NICs (each absent or empty: any). */
  allowedFirmware?: { bios?: readonly string[]; bmc?: readonly string[]; nic?: readonly string[] };
  gates: {
    /** NCCL all_reduce_perf bus bandwidth within the node at the largest size, GB/s. */
    ncclBusbwGBs: number;
    /** nvbandwidth device-to-device copy, each GPU pair, GB/s. */
    p2pGBs: number;
    /** nvbandwidth host-to-device and device-to-host copy, each GPU, GB/s. */
    hostCopyGBs: number;
    /** `dcgmi diag -r N`: the level run where DCGM is installed. */
    dcgmLevel: 1 | 2 | 3;
    /** A node without DCGM fails (its discovery image is meant to have it); absent or false: skipped, said so. */
    requireDcgm?: boolean;
    /**
     * Every GPU loaded this long (gpu_burn): each must pass with no error, no thermal, power-brake or hardware
     * slowdown, and peak temperatures within `maxTempSpreadC` of each other (a cooling fault shows only under load).
     * Absent: not run.
     */
    stress?: { seconds: number; maxTempSpreadC: number };
  };
}

const GiB = 1024 ** 3;
const hgx = { gpuCount: 8, allowedDrivers: [], allowedVbios: [], pcieWidth: 16, nicCount: 8, nvmeCount: 8, dimmCount: null, ecc: true } as const;
// Five minutes of load; peaks within 10 °C (an 8x A100 under gpu_burn spreads about 4 °C; one vendor's H100 spec asks ≤ 5).
const burn = { seconds: 300, maxTempSpreadC: 10 } as const;

/** Defaults for 8-GPU HGX nodes (GPU-HEALTH.md §7); an operator's profiles replace them by name. */
export const defaultSkuProfiles: readonly SkuProfile[] = [
  // The SXM parts' names as nvidia-smi gives them: an H100 PCIe or NVL card is another SKU (no NVSwitch, other gates).
  { ...hgx, name: 'hgx-h100-8', gpuModel: 'H100 80GB HBM3', minGpuMemoryBytes: 79 * GiB, pcieGen: 5, nvlinksPerGpu: 18, minNicSpeedMbps: 400_000,
    gates: { ncclBusbwGBs: 460, p2pGBs: 335, hostCopyGBs: 48, dcgmLevel: 3, stress: burn } },
  { ...hgx, name: 'hgx-h200-8', gpuModel: 'H200', minGpuMemoryBytes: 140 * GiB, pcieGen: 5, nvlinksPerGpu: 18, minNicSpeedMbps: 400_000,
    gates: { ncclBusbwGBs: 431, p2pGBs: 335, hostCopyGBs: 48, dcgmLevel: 3, stress: burn } },
  { ...hgx, name: 'hgx-a100-8', gpuModel: 'A100-SXM4-80GB', minGpuMemoryBytes: 79 * GiB, pcieGen: 4, nvlinksPerGpu: 12, minNicSpeedMbps: 200_000,
    gates: { ncclBusbwGBs: 228, p2pGBs: 235, hostCopyGBs: 21, dcgmLevel: 3, stress: burn } },
];

/**
 * Whether a GPU model is of a profile's: its `gpuModel` as whole words, any case ("H100 80GB HBM3" in "NVIDIA H100 80GB
 * HBM3"; "A100" is not in "RTX A1000").
 */
export function modelMatches(model: string, gpuModel: string): boolean {
  const escaped = gpuModel.trim().replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return escaped !== '' && new RegExp(`(?<![A-Za-z0-9])${escaped}(?![A-Za-z0-9])`, 'i').test(model);
}

/** The profile a node's GPUs make it, or null when none matches (it cannot be accepted: an operator adds one). */
export function skuOf(gpus: ReadonlyArray<{ model: string }>, profiles: readonly SkuProfile[]): SkuProfile | null {
  // A node without GPUs (a head, storage or CPU node) is of the first profile for none.
  if (gpus.length === 0) return profiles.find((p) => p.gpuCount === 0) ?? null;
  const model = gpus[0]?.model ?? '';
  return profiles.find((p) => modelMatches(model, p.gpuModel) && gpus.length === p.gpuCount)
    // A node short of GPUs is still of its SKU (and fails the count check), not of none.
    ?? profiles.find((p) => modelMatches(model, p.gpuModel))
    ?? null;
}

/**
 * The profile a node is judged by: the one it was last accepted as, while it is in force (a node that lost GPUs stays
 * of its SKU and fails its count, never passing as a smaller SKU of the same model); otherwise the one its GPUs make it.
 */
export function nodeSku(gpus: ReadonlyArray<{ model: string }>, profiles: readonly SkuProfile[], acceptedAs: string | null = null): SkuProfile | null {
  return (acceptedAs === null ? undefined : profiles.find((p) => p.name === acceptedAs)) ?? skuOf(gpus, profiles);
}

/**
 * The profiles nodes are matched against, in order: those made through the API, those of the file, then the defaults;
 * a profile of an earlier layer replaces a later one of the same name.
 */
export function skuProfilesInForce(...operatorLayers: ReadonlyArray<readonly SkuProfile[]>): SkuProfile[] {
  const inForce: SkuProfile[] = [];
  const names = new Set<string>();
  for (const profile of [...operatorLayers.flat(), ...defaultSkuProfiles]) {
    if (names.has(profile.name)) continue;
    names.add(profile.name);
    inForce.push(profile);
  }
  return inForce;
}
