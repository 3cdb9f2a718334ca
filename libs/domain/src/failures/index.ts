export * from './cohorts.ts';
export * from './failure-rate.ts';
