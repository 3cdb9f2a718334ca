// The telemetry sink (InfluxDB line protocol) against a real VictoriaMetrics,
// the store a site can cluster where InfluxDB 1.x OSS cannot: every point
// written is there, under the metric and labels an operator queries it by.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InfluxSink } from '@metalfleet/telemetry';
import { startVictoriaMetrics, type RunningVictoriaMetrics } from '../support/victoria-metrics.ts';

let vm: RunningVictoriaMetrics;
// An hour ago, on a whole minute: within retention, and past VictoriaMetrics' 30 s search latency.
const t0 = Math.floor((Date.now() - 3_600_000) / 60_000) * 60_000;

beforeAll(async () => {
  vm = await startVictoriaMetrics();
}, 120_000);

afterAll(() => vm?.stop());

interface Exported { metric: Record<string, string>; values: number[]; timestamps: number[] }

/** Every series matching `selector`, as VictoriaMetrics exports it, once it has flushed what it took in. */
async function exported(selector: string): Promise<Exported[]> {
  await fetch(`${vm.url}/internal/force_flush`);
  const text = await (await fetch(`${vm.url}/api/v1/export?match[]=${encodeURIComponent(selector)}`)).text();
  return text.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as Exported)
    .sort((a, b) => (a.metric['gpu'] ?? '').localeCompare(b.metric['gpu'] ?? ''));
}

describe('telemetry sink into VictoriaMetrics (real victoria-metrics)', () => {
  it('creates nothing it cannot, writes GPU and node samples in batches, and every point is stored with its node and GPU', async () => {
    const errors: Error[] = [];
    const sink = new InfluxSink({ url: vm.url, database: 'metalfleet', batchSize: 7, onError: (e) => errors.push(e) });
    await sink.init();
    for (let s = 0; s < 120; s += 10) {
      sink.write({
        nodeId: 'node-a', at: new Date(t0 + s * 1000),
        points: [{ gpu: 0, metric: 'temperature_c', value: 40 + s / 10 }, { gpu: 1, metric: 'temperature_c', value: 80 }, { gpu: null, metric: 'cpu_load_percent', value: 12.5 }],
      });
    }
    await sink.close();
    expect(errors).toEqual([]);
    await expect.poll(async () => (await exported('gpu_temperature_c{node="node-a"}')).map((s) => s.values.length), { timeout: 20_000 }).toEqual([12, 12]);
    const series = await exported('gpu_temperature_c{node="node-a"}');
    expect(series.map((s) => s.metric)).toEqual([
      { __name__: 'gpu_temperature_c', db: 'metalfleet', gpu: '0', node: 'node-a' },
      { __name__: 'gpu_temperature_c', db: 'metalfleet', gpu: '1', node: 'node-a' },
    ]);
    expect(series[0]?.values).toEqual(Array.from({ length: 12 }, (_, i) => 40 + i));
    expect(series[0]?.timestamps).toEqual(Array.from({ length: 12 }, (_, i) => t0 + i * 10_000));
    expect(series[1]?.values).toEqual(Array(12).fill(80));
    const node = await exported('node_cpu_load_percent{node="node-a"}');
    expect(node.map((s) => [s.metric['db'], s.values.length, s.values[0]])).toEqual([['metalfleet', 12, 12.5]]);
  });
});
