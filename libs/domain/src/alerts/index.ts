export * from './alert-rules.ts';
export * from './evaluate-rules.ts';
export * from './alert-lifecycle.ts';
export * from './silences.ts';
export * from './notifications.ts';
