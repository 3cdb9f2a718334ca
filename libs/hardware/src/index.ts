export * from './hardware-backend.ts';
export * from './real-backend.ts';
export * from './simulated-backend.ts';
export * from './with-timeout.ts';
