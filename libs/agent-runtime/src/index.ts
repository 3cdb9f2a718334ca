export * from './agent.ts';
export * from './health-monitor.ts';
export * from './messages.ts';
export * from './mqtt-session.ts';
export * from './registration.ts';
export * from './spool.ts';
export * from './spool-drainer.ts';
