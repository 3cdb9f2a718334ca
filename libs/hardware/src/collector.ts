// Collectors are a registry (CONVENTIONS.md): `{ name, probe(), collect() }` in
// one explicit array per kind. probe() says whether the collector applies to
// this machine; a collector that applies but fails is a recorded failure, and
// the rest still runs.
import type { CollectorFailure, HealthReadings, Inventory } from '@metalfleet/domain';

export type InventoryPatch = Partial<Omit<Inventory, 'failures' | 'collectedAt'>>;

export interface InventoryCollector {
  name: string;
  probe(): Promise<boolean>;
  collect(draft: Readonly<Inventory>): Promise<InventoryPatch>;
}

export type HealthPatch = Partial<Omit<HealthReadings, 'failures'>>;

export interface HealthCollector {
  name: string;
  probe(): Promise<boolean>;
  collect(): Promise<HealthPatch>;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Runs collectors in order; later collectors see what earlier ones found (e.g. LLDP needs the NICs). */
export async function collectInventory(collectors: readonly InventoryCollector[], base: Inventory): Promise<Inventory> {
  let inventory: Inventory = { ...base, failures: [...base.failures] };
  for (const c of collectors) {
    try {
      if (!(await c.probe())) continue;
      inventory = { ...inventory, ...(await c.collect(inventory)) };
    } catch (error) {
      inventory.failures.push({ collector: c.name, message: message(error) });
    }
  }
  return { ...inventory, collectedAt: new Date() };
}

export async function collectHealth(collectors: readonly HealthCollector[]): Promise<HealthReadings> {
  const readings: HealthReadings = { kernelEvents: [], failures: [] };
  const patches = await Promise.all(collectors.map(async (c): Promise<HealthPatch | CollectorFailure> => {
    try {
      return (await c.probe()) ? await c.collect() : {};
    } catch (error) {
      return { collector: c.name, message: message(error) };
    }
  }));
  for (const patch of patches) {
    if ('collector' in patch && 'message' in patch) readings.failures.push(patch as CollectorFailure);
    else Object.assign(readings, patch);
  }
  return readings;
}
