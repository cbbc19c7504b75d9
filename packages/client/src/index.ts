// Browser-safe public API of the offline engine. Node-only storage lives in ./node.ts.
export type { Clock } from './clock.ts';
export { systemClock } from './clock.ts';
export { ApiClient, ApiError, parseRetryAfter, type FetchLike } from './http.ts';
export * from './manifest-types.ts';
export { ManifestIndex, manifestState, type CodeLookup } from './manifest.ts';
export {
  decideLocally,
  overlayState,
  ManifestEventMismatchError,
  type DecisionInput,
  type LocalDecision,
  type OwnAdmission,
} from './local-decision.ts';
export {
  recordScan,
  uploadBody,
  type UploadBody,
  contiguousRun,
  exportLog,
  MAX_UPLOAD_BATCH,
  type DeviceLogExport,
  type HeadSigner,
  type ScanToRecord,
} from './outbox.ts';
export {
  SyncLoop,
  InProcessLock,
  backoffDelay,
  retryDelay,
  manifestTimeoutMs,
  type SyncLock,
  type SyncStatus,
  type DoubleEntry,
  type SyncSummary,
  type SyncLoopOptions,
  type BackoffPolicy,
  type HeartbeatOptions,
  type HeartbeatContext,
} from './sync-loop.ts';
export { Scanner, type ScannerOptions, type ScanOutcome } from './scanner.ts';
export {
  ConnectivityMonitor,
  SLOW_THRESHOLD_MS,
  PROBE_TIMEOUT_MS,
  type ConnectivityLevel,
  type ConnectivityState,
  type ConnectivityOptions,
} from './connectivity.ts';
export type { ClientStore, OutboxScan, AckResult, NextSlot, OutboxCounts, StorageProblem } from './storage/types.ts';
export { MemoryStore, memoryBacking, type MemoryBacking } from './storage/memory-store.ts';
export { DexieStore, requestPersistentStorage } from './storage/dexie-store.ts';
export { Prng } from './prng.ts';
export { webLocksSyncLock } from './browser/web-locks.ts';
