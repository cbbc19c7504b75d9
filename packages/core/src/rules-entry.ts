// Rules-only entry point (no codes), for consumers that only decide admissions.
export * from './model.ts';
export * from './rules/admission.ts';
export * from './rules/ticket-state.ts';
export * from './rules/replay.ts';
export * from './rules/messages.ts';
export * from './time/zoned.ts';
export * from './testing/admission-vectors.ts';
