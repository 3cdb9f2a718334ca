export * from './load-config.ts';
export * from './command-line.ts';
