export * from './agent-service.ts';
export * from './fleet-events.ts';
export * from './mqtt-ingest.ts';
export * from './presence-tracker.ts';
export * from './registrar.ts';
export * from './secrets.ts';
export * from './health-ingest.ts';
