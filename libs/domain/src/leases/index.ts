export * from './shards.ts';
export * from './lease-validity.ts';
