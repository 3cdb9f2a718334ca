// Which GPU of a node each condition is about, for the fleet's GPU health
// heatmap: conditions name GPUs by PCI bus (`gpu:0000:9b:00`), the inventory
// says which index sits there. Conditions about anything else count for the host.
import type { HealthCondition, Severity } from './health-condition.ts';
import { worseSeverity } from './health-condition.ts';

export interface GpuCell {
  /** The GPU's index, or null for one the inventory no longer shows (fallen off the bus). */
  index: number | null;
  /** PCI bus as conditions name it, e.g. `0000:9b:00` (empty when unknown). */
  bus: string;
  severity: Severity;
  codes: string[];
}

/**
 * The bus a GPU sits on as conditions name it (`0000:9b:00`), from a PCI
 * address as nvidia-smi writes it (`00000000:9B:00.0`) or from a condition's
 * component (`gpu:0000:9b:00`).
 */
export function gpuBus(address: string): string {
  const parts = address.replace(/^gpu:/, '').toLowerCase().split(':');
  return `0000:${parts.at(-2) ?? ''}:${(parts.at(-1) ?? '').split('.')[0] ?? ''}`;
}

/** The index of the GPU a condition's component names; null when the inventory has no GPU there. */
export function gpuIndexOfComponent(gpus: ReadonlyArray<{ index: number; pciBusId: string }>, component: string): number | null {
  const bus = gpuBus(component);
  return gpus.find((g) => gpuBus(g.pciBusId) === bus)?.index ?? null;
}

export function gpuHealthCells(gpus: ReadonlyArray<{ index: number; pciBusId: string }>, gpuCount: number, conditions: readonly HealthCondition[]): { gpus: GpuCell[]; host: Severity; hostCodes: string[] } {
  const cells: GpuCell[] = Array.from({ length: Math.max(gpuCount, gpus.length) }, (_, index) => {
    const gpu = gpus.find((g) => g.index === index);
    return { index, bus: gpu ? gpuBus(gpu.pciBusId) : '', severity: 'ok', codes: [] };
  });
  const byBus = new Map(cells.map((cell) => [cell.bus, cell]));
  let host: Severity = 'ok';
  const hostCodes: string[] = [];
  for (const c of conditions) {
    if (c.severity === 'ok') continue;
    if (c.component.startsWith('gpu:')) {
      const bus = gpuBus(c.component);
      let cell = byBus.get(bus);
      if (!cell) {
        // A GPU the inventory no longer lists: it still gets its cell.
        cell = { index: null, bus, severity: 'ok', codes: [] };
        cells.push(cell);
        byBus.set(bus, cell);
      }
      cell.severity = worseSeverity(cell.severity, c.severity);
      cell.codes.push(c.code);
    } else {
      host = worseSeverity(host, c.severity);
      hostCodes.push(`${c.component} ${c.code}`);
    }
  }
  return { gpus: cells, host, hostCodes };
}
