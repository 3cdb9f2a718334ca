export * from './catalog.ts';
export * from './maintenance-window.ts';
export * from './reimage-evidence.ts';
export * from './reimage-phases.ts';
export * from './reimage-scheduler.ts';
export * from './remediation-policy.ts';
export * from './replacement-plan.ts';
export * from './boot-script.ts';
