// A GPU's temperature limits when the input does not give them all: the CSV
// query has no threshold fields, Hopper/Blackwell drivers print only T.Limit,
// vGPU guests print N/A. Without limits a GPU at 95 C would read as "ok", so
// each limit falls back, in this order, to:
//   1. what nvidia-smi reported (XML gpu_temp_slow_threshold / gpu_temp_max_threshold / gpu_temp_max_mem_threshold);
//   2. T.Limit: the headroom (C) to the max operating temperature, measured at
//      the hottest sensor. max operating ≈ current + T.Limit; slowdown and
//      shutdown sit at the T.Limit readings the driver prints as
//      gpu_temp_{slow,max}_tlimit_threshold (e.g. -2 C, -8 C), or at
//      `defaultTlimitOffsets` when it prints none. Judging the current
//      temperature against these is judging T.Limit itself;
//   3. this model's limits (`modelThermalLimits`);
//   4. `genericThermalLimits`.
// Sources of every number: docs/gpu-health.md, and the comments below.
import type { GpuSnapshot } from './gpu-snapshot.ts';

export type ThermalLimitSource = 'reported' | 't-limit' | 'model' | 'default';

export interface ThermalLimit {
  celsius: number;
  source: ThermalLimitSource;
  /** Where the number came from, for messages: "NVIDIA A100-SXM4 limit", … */
  basis: string;
}

export interface ThermalLimits {
  /** Hardware slowdown (clocks halved) starts here. */
  slowdown: ThermalLimit;
  /** Hardware protection shutdown. */
  shutdown: ThermalLimit;
  /** HBM max operating temperature; null where neither the input nor the table knows it. */
  memoryMax: ThermalLimit | null;
}

export interface ModelThermalLimits {
  /** Matched against the product name as nvidia-smi prints it (`name` / `product_name`). */
  match: RegExp;
  model: string;
  slowdownC: number;
  shutdownC: number;
  memoryMaxC: number | null;
}

/**
 * Per model. Every row is what NVIDIA's driver itself reports for that model
 * in a real capture under ../fixtures/nvidia/ (file named per row); rows for
 * drivers that print only T.Limit take max operating = current + T.Limit at
 * idle (where die and T.Limit sensors agree) plus the printed offsets.
 */
export const modelThermalLimits: readonly ModelThermalLimits[] = [
  // influxdata__telegraf__a100-sxm4-v12.xml (535.54.03), netdata__go.d.plugin__a100-sxm4-mig.xml (510.47.03): 89 / 92 / HBM 95.
  { match: /A100-SXM4/i, model: 'NVIDIA A100-SXM4', slowdownC: 89, shutdownC: 92, memoryMaxC: 95 },
  // GuanceCloud__datakit__gtx-1card.xml (V100-PCIE, 460.39), gtx-8card.xml (V100S-PCIE, 460.73.01): 87 / 90 / HBM 85.
  { match: /V100S?-PCIE/i, model: 'Tesla V100(S) PCIe', slowdownC: 87, shutdownC: 90, memoryMaxC: 85 },
  // netdata__go.d.plugin__tesla-p100.xml (510.47.03): 82 / 85.
  { match: /P100-PCIE/i, model: 'Tesla P100 PCIe', slowdownC: 82, shutdownC: 85, memoryMaxC: null },
  // influxdata__telegraf__tesla-t4.xml (515.105.01): 93 / 96.
  { match: /\bT4\b/, model: 'Tesla T4', slowdownC: 93, shutdownC: 96, memoryMaxC: null },
  // influxdata__telegraf__a10g.xml (515.105.01): 95 / 98.
  { match: /\bA10G\b/, model: 'NVIDIA A10G', slowdownC: 95, shutdownC: 98, memoryMaxC: null },
  // utkuozdemir…nvidia-h100-80gb-hbm3__590.48.01.txt `-q`, idle: 41 C + T.Limit 46 C = 87; slowdown -2 C, shutdown -8 C → 89 / 95.
  { match: /H100 80GB HBM3/i, model: 'NVIDIA H100 80GB HBM3 (SXM)', slowdownC: 89, shutdownC: 95, memoryMaxC: null },
  // utkuozdemir…nvidia-h200__590.48.01.txt `-q`, idle: 28 C + T.Limit 59 C = 87; -2 C / -8 C → 89 / 95. Not the H200 NVL.
  { match: /^NVIDIA H200$/i, model: 'NVIDIA H200 (SXM)', slowdownC: 89, shutdownC: 95, memoryMaxC: null },
  // utkuozdemir…nvidia-l40s__595.80.txt `-q`: 64 C + 24 C = 54 C + 34 C = 88; -2 C / -5 C → 90 / 93.
  { match: /\bL40S\b/i, model: 'NVIDIA L40S', slowdownC: 90, shutdownC: 93, memoryMaxC: null },
];

/**
 * For a GPU whose model the table does not know: the strictest limits in the
 * table apart from Pascal's P100 (the V100's 87 / 90). A warning comes no
 * later than the real slowdown of any current data-centre part in the table;
 * a consumer card (slowdown 93–101 C in the fixtures) may warn early, the
 * price of not knowing it. No generic HBM limit: many GPUs report no memory
 * temperature and the known HBM limits differ (85 / 95).
 */
export const genericThermalLimits = { slowdownC: 87, shutdownC: 90 } as const;

/**
 * T.Limit readings of slowdown and shutdown when the driver prints none: -2 C
 * is every capture's slowdown; -5 C the nearest shutdown seen (Blackwell,
 * L40S; Ada -7 C, Hopper -8 C).
 */
export const defaultTlimitOffsets = { slowdownC: -2, shutdownC: -5 } as const;

export function modelLimits(model: string): ModelThermalLimits | undefined {
  return modelThermalLimits.find((m) => m.match.test(model.trim()));
}

export function gpuThermalLimits(gpu: Pick<GpuSnapshot, 'model' | 'temperature'>): ThermalLimits {
  const t = gpu.temperature;
  const known = modelLimits(gpu.model);
  const maxOperating = t.gpuC !== null && t.tlimitC !== null ? t.gpuC + t.tlimitC : null;
  const pick = (reported: number | null, tlimitOffset: number, fromModel: number | undefined, fallback: number): ThermalLimit => {
    if (reported !== null) return { celsius: reported, source: 'reported', basis: 'reported by nvidia-smi' };
    if (maxOperating !== null) return { celsius: maxOperating - tlimitOffset, source: 't-limit', basis: `from T.Limit ${t.tlimitC} C` };
    if (known && fromModel !== undefined) return { celsius: fromModel, source: 'model', basis: `${known.model} limit` };
    return { celsius: fallback, source: 'default', basis: 'generic limit: nvidia-smi gave none for this GPU' };
  };
  let memoryMax: ThermalLimit | null = null;
  if (t.memoryMaxC !== null) memoryMax = { celsius: t.memoryMaxC, source: 'reported', basis: 'reported by nvidia-smi' };
  else if (known && known.memoryMaxC !== null) memoryMax = { celsius: known.memoryMaxC, source: 'model', basis: `${known.model} limit` };
  return {
    slowdown: pick(t.slowdownC, t.slowdownTlimitC ?? defaultTlimitOffsets.slowdownC, known?.slowdownC, genericThermalLimits.slowdownC),
    shutdown: pick(t.shutdownC, t.shutdownTlimitC ?? defaultTlimitOffsets.shutdownC, known?.shutdownC, genericThermalLimits.shutdownC),
    memoryMax,
  };
}
