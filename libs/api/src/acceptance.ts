// Acceptance testing: SKU profiles (what a node of a kind must be and measure;
// the operator's file and the defaults) and a node's acceptance runs.
import { Type, type Static } from 'typebox';

const versions = Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 64, description: 'Allowed versions; empty: any.' });

const skuProfileFields = {
  name: Type.String({ pattern: '^[a-z0-9][a-z0-9._-]{0,62}$', description: 'e.g. hgx-h100-8' }),
  gpuModel: Type.String({ maxLength: 128, description: 'A node is of this SKU when its GPUs\' model contains this text as whole words (case-insensitive); with gpuCount 0 (and any gpuModel, \'\' say), nodes without GPUs are (head, storage, CPU nodes).' }),
  gpuCount: Type.Integer({ minimum: 0, maximum: 64 }),
  minGpuMemoryBytes: Type.Integer({ minimum: 0 }),
  allowedDrivers: versions,
  allowedVbios: versions,
  pcieGen: Type.Integer({ minimum: 1, maximum: 7 }),
  pcieWidth: Type.Integer({ minimum: 1, maximum: 32 }),
  nvlinksPerGpu: Type.Union([Type.Integer({ minimum: 1, maximum: 64 }), Type.Null()], { description: 'NVLinks up per GPU; null for PCIe cards.' }),
  nicCount: Type.Integer({ minimum: 0, maximum: 64 }),
  minNicSpeedMbps: Type.Integer({ minimum: 0 }),
  nvmeCount: Type.Integer({ minimum: 0, maximum: 64 }),
  dimmCount: Type.Union([Type.Integer({ minimum: 0, maximum: 256 }), Type.Null()]),
  ecc: Type.Optional(Type.Boolean({ description: 'ECC enabled on every GPU and every DIMM; absent or false: not checked.' })),
  allowedFirmware: Type.Optional(Type.Object({ bios: Type.Optional(versions), bmc: Type.Optional(versions), nic: Type.Optional(versions) },
    { additionalProperties: false, description: 'The fleet\'s allowed system BIOS, BMC and NIC firmware; each absent or empty: any.' })),
  gates: Type.Object({
    ncclBusbwGBs: Type.Number({ minimum: 0, description: 'NCCL all_reduce_perf bus bandwidth at 8 GiB; 0: not run.' }),
    p2pGBs: Type.Number({ minimum: 0 }),
    hostCopyGBs: Type.Number({ minimum: 0 }),
    dcgmLevel: Type.Union([Type.Literal(1), Type.Literal(2), Type.Literal(3)]),
    requireDcgm: Type.Optional(Type.Boolean({ description: 'A node without DCGM fails; absent or false: the DCGM check is skipped on such a node, said so.' })),
    stress: Type.Optional(Type.Object({
      seconds: Type.Integer({ minimum: 1, maximum: 86_400, description: 'gpu_burn on every GPU this long, nvidia-smi read under load.' }),
      maxTempSpreadC: Type.Number({ minimum: 0, maximum: 100, description: 'Hottest GPU at most this much hotter than the coolest (°C).' }),
    }, { additionalProperties: false, description: 'The GPU stress gate: every GPU OK, no thermal, power-brake or hardware slowdown, peaks close together. Absent: not run.' })),
  }, { additionalProperties: false }),
};
export const SkuProfile = Type.Object(skuProfileFields, { additionalProperties: false });
export type SkuProfile = Static<typeof SkuProfile>;

/** --sku-profiles-file: profiles that come before the defaults (one of the same name replaces it). */
export const SkuProfilesFile = Type.Array(SkuProfile, { maxItems: 256 });

export const AcceptanceCheck = Type.Object({
  name: Type.String(), measured: Type.String(), threshold: Type.String(),
  verdict: Type.Union([Type.Literal('pass'), Type.Literal('fail'), Type.Literal('skip')]),
  missing: Type.Optional(Type.Boolean({ description: 'Failed because its tool did not run or gave no result, not for a fault it measured.' })),
});

export const AcceptanceRun = Type.Object({
  commandId: Type.String(), profile: Type.Union([Type.String(), Type.Null()]), passed: Type.Boolean(), at: Type.String({ format: 'date-time' }),
  checks: Type.Array(AcceptanceCheck),
});
export const AcceptanceRunList = Type.Object({ items: Type.Array(AcceptanceRun) });
export const SkuProfileList = Type.Object({
  items: Type.Array(Type.Object({ ...skuProfileFields, source: Type.Union([Type.Literal('api'), Type.Literal('file'), Type.Literal('default')], { description: 'Made through the API, from --sku-profiles-file, or a default.' }) })),
});
