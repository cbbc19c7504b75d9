export * from './values.ts';
export * from './common.ts';
export * from './admin.ts';
export * from './scan.ts';
export * from './offline.ts';
export * from './pairing.ts';
