export * from './errors.ts';
export * from './inventory.ts';
export * from './node.ts';
export * from './node-identity.ts';
export * from './backoff.ts';
export * from './health/index.ts';
export * from './node-lifecycle.ts';
export * from './bootstrap-token.ts';
