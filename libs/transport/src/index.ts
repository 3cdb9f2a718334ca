// What the agent and the manager both speak: the typed gRPC bridge, the MQTT
// topic scheme and its ACL, proto↔domain mappers, CA pinning. The agent bundles
// all of it, so the manager's side (broker, CA, server TLS) lives in
// @metalfleet/manager-transport.
export * from './grpc-bridge.ts';
export * from './grpc-errors.ts';
export * from './inventory-mapper.ts';
export * from './mqtt-topics.ts';
export * from './payload-codec.ts';
export * from './health-mapper.ts';
export * from './tls-pin.ts';
