export * from './grpc-bridge.ts';
export * from './grpc-errors.ts';
export * from './inventory-mapper.ts';
export * from './mqtt-broker.ts';
export * from './mqtt-topics.ts';
export * from './payload-codec.ts';
export * from './health-mapper.ts';
