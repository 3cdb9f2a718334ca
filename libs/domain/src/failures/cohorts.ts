// The cohorts a node belongs to: what failure rates are grouped by. A rack,
// a tenant, a GPU batch, a driver version — whatever starts failing more than
// the rest of the fleet should stand out in one of them.
import type { Inventory } from '../inventory.ts';

export const cohortDimensions = ['fleet', 'pool', 'rack', 'tenant', 'vendor', 'model', 'gpuModel', 'bios', 'vbios', 'driver', 'firmware'] as const;
export type CohortDimension = (typeof cohortDimensions)[number];
export type Cohorts = Record<CohortDimension, string>;

/** Unknown values group together as "unknown" rather than vanishing. */
const known = (value: string | undefined) => (value === undefined || value.trim() === '' ? 'unknown' : value.trim());

/** Most frequent value (ties: the first seen): a node with mixed GPUs counts where most of them are. */
function mostCommon(values: readonly string[]): string | undefined {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best: string | undefined;
  for (const [value, count] of counts) if (best === undefined || count > (counts.get(best) ?? 0)) best = value;
  return best;
}

export function cohortsOf(node: { rack: string; tenant: string | null; pool: string }, inventory: Inventory): Cohorts {
  const gpus = inventory.gpus;
  return {
    fleet: 'fleet',
    pool: known(node.pool),
    rack: known(node.rack),
    tenant: node.tenant ?? 'none',
    vendor: known(inventory.system.vendor),
    model: known(inventory.system.model),
    gpuModel: gpus.length === 0 ? 'none' : known(mostCommon(gpus.map((g) => g.model))),
    bios: known(inventory.system.biosVersion),
    vbios: gpus.length === 0 ? 'none' : known(mostCommon(gpus.map((g) => g.vbiosVersion))),
    driver: gpus.length === 0 ? 'none' : known(mostCommon(gpus.map((g) => g.driverVersion))),
    firmware: known(inventory.system.bmcFirmwareVersion),
  };
}
