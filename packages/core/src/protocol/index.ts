export * from './common.ts';
export * from './admin.ts';
export * from './scan.ts';
export * from './offline.ts';
export * from './pairing.ts';
export * from './api-error.ts';
export * from './admin-tokens.ts';
export * from './roles.ts';
