export * from './collector.ts';
export * from './command-runner.ts';
export * from './hardware-backend.ts';
export * from './kernel-log-follower.ts';
export * from './parsers/index.ts';
export * from './real-backend.ts';
export * from './simulated-backend.ts';
export * from './simulated-faults.ts';
