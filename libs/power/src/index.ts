export * from './bmc-driver.ts';
export * from './ipmi-driver.ts';
export * from './redfish-driver.ts';
