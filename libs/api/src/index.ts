// The REST API's schemas (TypeBox): they validate and serialize in the
// manager, and type the dashboard and the CLI.
export * from './common.ts';
export * from './nodes.ts';
export * from './bootstrap-tokens.ts';
export * from './tenants.ts';
export * from './operations.ts';
export * from './access.ts';
export * from './alerts.ts';
export * from './identity.ts';
export * from './events.ts';
export * from './acceptance.ts';
