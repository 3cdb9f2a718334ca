// The InfluxDB telemetry sink against a real influxd started here, read back
// both through the sink and with a plain InfluxQL query.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InfluxDB } from 'influx';
import { InfluxSink } from '@metalfleet/telemetry';
import { startInflux, type RunningInflux } from '../support/influxdb.ts';

let influx: RunningInflux;
const t0 = new Date('2026-11-21T10:00:00Z').getTime();

beforeAll(async () => {
  influx = await startInflux();
}, 120_000);

afterAll(() => influx?.stop());

describe('InfluxDB sink (real influxd)', () => {
  it('writes GPU and node samples in batches and reads them back per minute', async () => {
    const errors: Error[] = [];
    const sink = new InfluxSink({ url: influx.url, database: 'metalfleet', batchSize: 100, onError: (e) => errors.push(e) });
    await sink.init();
    for (let s = 0; s < 120; s += 10) {
      sink.write({
        nodeId: 'node-a', at: new Date(t0 + s * 1000),
        points: [
          { gpu: 0, metric: 'temperature_c', value: 40 + s / 10 }, { gpu: 0, metric: 'power_w', value: 300 },
          { gpu: 1, metric: 'temperature_c', value: 80 }, { gpu: null, metric: 'cpu_load_percent', value: 12.5 },
        ],
      });
    }
    await sink.flush();
    expect(errors).toEqual([]);

    const gpu0 = await sink.series({ nodeId: 'node-a', metric: 'temperature_c', gpu: 0, from: new Date(t0), to: new Date(t0 + 120_000) });
    expect(gpu0).toEqual([
      { at: new Date(t0), avg: 42.5, min: 40, max: 45, count: 6 },
      { at: new Date(t0 + 60_000), avg: 48.5, min: 46, max: 51, count: 6 },
    ]);
    expect((await sink.series({ nodeId: 'node-a', metric: 'cpu_load_percent', gpu: null, from: new Date(t0), to: new Date(t0 + 120_000) })).map((p) => p.avg)).toEqual([12.5, 12.5]);

    const raw = new InfluxDB({ host: '127.0.0.1', port: Number(new URL(influx.url).port), database: 'metalfleet' });
    const rows = await raw.query<{ count: number }>(`SELECT count("temperature_c") AS count FROM "gpu" WHERE "node" = 'node-a'`);
    expect(rows[0]?.count).toBe(24);
    await sink.close();
  });

  it('keeps the points it could not write (unreachable InfluxDB) instead of dropping them', async () => {
    const errors: Error[] = [];
    const sink = new InfluxSink({ url: 'http://127.0.0.1:9', database: 'metalfleet', onError: (e) => errors.push(e) });
    sink.write({ nodeId: 'node-b', at: new Date(t0), points: [{ gpu: 0, metric: 'power_w', value: 1 }] });
    await sink.flush();
    expect(errors.length).toBeGreaterThan(0);
    expect(sink.dropped).toBe(0);
  });
});
