// Where node telemetry goes: the rollups in <dataDir>/telemetry.db (the API's
// charts), and InfluxDB when --influx-url names one. Flushed every 5 s; a sink
// that keeps failing (a full disk under telemetry.db, InfluxDB away) is logged
// when it starts failing and when it works again, not at every flush.
import { join } from 'node:path';
import type { Logger } from 'pino';
import { freeDiskBytes } from '@metalfleet/store';
import { InfluxSink, RollupStore, type TelemetrySink } from '@metalfleet/telemetry';
import type { ManagerConfig } from './config.ts';

export interface TelemetrySinks {
  rollups: RollupStore;
  sinks: TelemetrySink[];
  /** Stops the flushes (the sinks are closed by close(), after the last write). */
  stopFlushing(): void;
  close(): Promise<void>;
}

export async function openTelemetrySinks(config: ManagerConfig, deps: { dataDir: string; now: () => Date; logger: Logger }): Promise<TelemetrySinks> {
  const { dataDir, logger } = deps;
  const rollups = new RollupStore({ path: join(dataDir, 'telemetry.db'), now: deps.now });
  const sinks: TelemetrySink[] = [rollups];
  if (config.influxUrl !== '') {
    const influx = new InfluxSink({ url: config.influxUrl, database: config.influxDatabase, onError: (error) => logger.warn({ err: error }, 'InfluxDB write failed; will retry') });
    await influx.init();
    sinks.push(influx);
  }
  const failing = new Set<string>();
  const flusher = setInterval(() => {
    for (const sink of sinks) {
      sink.flush().then(() => {
        if (failing.delete(sink.name)) logger.warn({ sink: sink.name }, 'telemetry flush works again');
      }, (error: unknown) => {
        if (failing.has(sink.name)) return;
        failing.add(sink.name);
        logger.error({ err: error, sink: sink.name, dataDir, freeBytes: freeDiskBytes(dataDir) }, 'telemetry flush failed; retried every 5 s, logged again when it works');
      });
    }
  }, 5000);
  return {
    rollups,
    sinks,
    stopFlushing: () => clearInterval(flusher),
    async close() {
      for (const sink of sinks) await sink.close();
    },
  };
}
