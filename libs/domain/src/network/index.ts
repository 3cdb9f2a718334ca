export * from './id-pool.ts';
export * from './port-plan.ts';
export * from './cabling.ts';
export * from './cabling-trust.ts';
export * from './switch-seen.ts';
