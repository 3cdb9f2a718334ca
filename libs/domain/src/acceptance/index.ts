export * from './conformance.ts';
export * from './diagnostics.ts';
export * from './sku-profile.ts';
export * from './judge.ts';
