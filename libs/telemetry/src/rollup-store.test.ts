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
    // 2 series × (≤ 67 fine + ≤ 99 coarse) rows (each tier keeps 5 minutes past what it serves), not 30 h of samples.
    expect(store.size()).toBeLessThanOrEqual(2 * (67 + 99));
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

describe('embedded telemetry rollups: one resolution per range', () => {
  it('answers a last-hour query in 1-minute buckets for every GPU even when time passes between the request and the read', async () => {
    // A clock that moves on a little each time it is read, as a real one does while the route awaits and the store flushes.
    let clock = t0;
    const read = () => new Date((clock += 250));
    const store = new RollupStore({ path: ':memory:', now: read });
    // The node came up at 10:07 and sends every 10 s, for two GPUs, for two hours.
    const start = t0 + 7 * 60_000;
    for (let ms = 0; ms < 2 * 3600_000; ms += 10_000) {
      clock = start + ms;
      store.write({ nodeId: 'n1', at: new Date(clock), points: [{ gpu: 0, metric: 'power_w', value: 300 }, { gpu: 1, metric: 'power_w', value: 310 }] });
      if (ms % 600_000 === 0) await store.flush();
    }
    for (const gpu of [0, 1]) {
      const to = read(); // the route's "now"
      const from = new Date(to.getTime() - 3600_000);
      const points = await store.series({ nodeId: 'n1', metric: 'power_w', gpu, from, to });
      expect(points.length).toBeGreaterThanOrEqual(60);
      expect(points.every((p) => p.count <= 6)).toBe(true); // 1 minute of 10 s samples, never a 15-minute bucket of 90
      expect(points.every((p) => p.at.getTime() >= from.getTime() - 60_000)).toBe(true);
    }
    await store.close();
  });
});
