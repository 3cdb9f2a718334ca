// Generated protobuf-es code for the metalfleet.v1 wire contract (see proto/).
// Regenerate with `npm run proto:gen`; never edit src/gen by hand.
export * from './gen/metalfleet/v1/identity_pb.js';
export * from './gen/metalfleet/v1/inventory_pb.js';
export * from './gen/metalfleet/v1/agent_service_pb.js';
export * from './gen/metalfleet/v1/mqtt_pb.js';
