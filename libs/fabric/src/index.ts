export * from './fabric-driver.ts';
export * from './ovsdb-client.ts';
export * from './ovsdb-driver.ts';
export * from './json-stream.ts';
export * from './switch-config.ts';
