export * from './fleet-store.ts';
export * from './sqlite-fleet-store.ts';
export * from './pg-fleet-store.ts';
export * from './network-store.ts';
export * from './work-store.ts';
export * from './access-store.ts';
export * from './alert-store.ts';
export * from './identity-store.ts';
