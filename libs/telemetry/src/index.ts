export * from './rollup-store.ts';
export * from './telemetry-sink.ts';
export * from './influx-sink.ts';
