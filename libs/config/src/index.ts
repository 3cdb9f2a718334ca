export * from './load-config.ts';
export * from './command-line.ts';
export * from './data-file.ts';
export * from './value-parsers.ts';
export * from './process-logger.ts';
