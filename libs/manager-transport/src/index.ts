// The manager's side of the transport: the embedded MQTT broker (aedes) with
// its connection limits and frame guard, the storm-proof listeners, the CA
// that issues the server certificate, and the server TLS policy. Tagged
// scope:manager so the agent can never bundle it (eslint.config.mjs,
// test/lint/agent-bundle.test.ts).
export * from './mqtt-broker.ts';
export * from './pki.ts';
export * from './storm-listener.ts';
export type { ConnectGate } from './connect-gate.ts';
export * from './tls-policy.ts';
export * from './connection-limits.ts';
export * from './mqtt-frame-guard.ts';
export * from './node-certificates.ts';
export * from './external-broker.ts';
export * from './nats-accounts.ts';
export * from './nats-broker.ts';
export * from './nats-reports.ts';
