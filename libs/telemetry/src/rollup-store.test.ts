import { describe, expect, it } from 'vitest';
import type { TelemetrySample } from '@metalfleet/domain';
import { RollupStore } from './rollup-store.ts';

const t0 = new Date('2026-11-21T10:00:00Z').getTime();
const sample = (offsetMs: number, temperature: number): TelemetrySample => ({
  nodeId: 'n1', at: new Date(t0 + offsetMs), points: [{ gpu: 0, metric: 'temperature_c', value: temperature }, { gpu: null, metric: 'cpu_load_percent', value: 50 }],
});

describe('embedded telemetry rollups', () => {
  it('aggregates samples into 1-minute buckets: avg, min, max, count', async () => {
    let now = new Date(t0 + 5 * 60_000);
    const store = new RollupStore({ path: ':memory:', now: () => now });
    for (const [offset, temp] of [[0, 40], [15_000, 50], [30_000, 60], [60_000, 70]] as const) store.write(sample(offset, temp));
    const points = await store.series({ nodeId: 'n1', metric: 'temperature_c', gpu: 0, from: new Date(t0), to: now });
    expect(points).toEqual([
      { at: new Date(t0), avg: 50, min: 40, max: 60, count: 3 },
      { at: new Date(t0 + 60_000), avg: 70, min: 70, max: 70, count: 1 },
    ]);
    expect(await store.series({ nodeId: 'n1', metric: 'cpu_load_percent', gpu: null, from: new Date(t0), to: now })).toHaveLength(2);
    expect(await store.series({ nodeId: 'n1', metric: 'temperature_c', gpu: 1, from: new Date(t0), to: now })).toEqual([]);
    now = new Date(t0 + 10 * 60_000);
    await store.close();
  });

  it('serves a day from 15-minute buckets and forgets what is older, so its size is bounded', async () => {
    let now = new Date(t0);
    const store = new RollupStore({ path: ':memory:', now: () => now });
    // One sample every 10 s for 30 hours.
    for (let ms = 0; ms < 30 * 3600_000; ms += 10_000) {
      store.write(sample(ms, 50 + (ms % 7)));
      if (ms % 3600_000 === 0) {
        now = new Date(t0 + ms);
        await store.flush();
      }
    }
    now = new Date(t0 + 30 * 3600_000);
    await store.flush();
    const day = await store.series({ nodeId: 'n1', metric: 'temperature_c', gpu: 0, from: new Date(now.getTime() - 24 * 3600_000), to: now });
    expect(day.length).toBeGreaterThanOrEqual(96);
    expect(day.length).toBeLessThanOrEqual(98);
    expect(day.every((p) => p.count === 90)).toBe(true); // 15 min of 10 s samples
    const hour = await store.series({ nodeId: 'n1', metric: 'temperature_c', gpu: 0, from: new Date(now.getTime() - 3600_000), to: now });
    expect(hour.length).toBeGreaterThanOrEqual(60);
    expect(hour.every((p) => p.count === 6)).toBe(true);
    // 2 series × (≤ 62 fine + ≤ 98 coarse) rows, not 30 h of samples.
    expect(store.size()).toBeLessThanOrEqual(2 * (62 + 98));
    await store.close();
  });
});

describe('embedded telemetry rollups: bound on series', () => {
  it('keeps no more than maxSeries series, counting what it refused', async () => {
    const store = new RollupStore({ path: ':memory:', maxSeries: 2, now: () => new Date(t0) });
    store.write({ nodeId: 'a', at: new Date(t0), points: [{ gpu: 0, metric: 'power_w', value: 1 }, { gpu: 1, metric: 'power_w', value: 2 }, { gpu: 2, metric: 'power_w', value: 3 }] });
    await store.series({ nodeId: 'a', metric: 'power_w', gpu: 0, from: new Date(t0), to: new Date(t0) }); // reads write everything first
    expect(store.refused).toBe(1);
    expect(store.size()).toBe(4); // 2 series × 2 tiers
    await store.close();
  });
});
