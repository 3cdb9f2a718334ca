import { describe, expect, it } from 'vitest';
import { isAnonymous, matchIdentity } from '@metalfleet/domain';
import { createSimulatedBackend } from './simulated-backend.ts';

describe('simulated backend', () => {
  it('is the same machine every time it is created with the same seed and index', async () => {
    const a = await createSimulatedBackend({ seed: 's', index: 1 }).identity();
    const again = await createSimulatedBackend({ seed: 's', index: 1 }).identity();
    const other = await createSimulatedBackend({ seed: 's', index: 2 }).identity();
    expect(again).toEqual(a);
    expect(isAnonymous(a)).toBe(false);
    expect(matchIdentity(again, [{ nodeId: 'n1', identity: a }])).toMatchObject({ kind: 'known', nodeId: 'n1' });
    expect(matchIdentity(other, [{ nodeId: 'n1', identity: a }])).toEqual({ kind: 'new' });
  });

  it('reports an 8-GPU inventory and telemetry for every GPU', async () => {
    const backend = createSimulatedBackend({ seed: 's', index: 3 });
    const inventory = await backend.inventory();
    expect(inventory.gpus).toHaveLength(8);
    expect(new Set(inventory.gpus.map((g) => g.uuid)).size).toBe(8);
    const reading = await backend.telemetry();
    expect(reading.gpus.map((g) => g.uuid)).toEqual(inventory.gpus.map((g) => g.uuid));
    for (const g of reading.gpus) expect(g.temperatureC).toBeGreaterThan(30);
  });
});
