export * from './agent.ts';
export * from './messages.ts';
export * from './mqtt-session.ts';
export * from './registration.ts';
