/**
 * What the offline endpoints answer: the upload's result (seed 001's shape),
 * the sync status, the legacy reconcile and the log import, and the
 * organisers' conflicts. The server declares these as Fastify response
 * schemas (its serializer writes only what they name), and the clients read
 * the same types.
 */
import { Type, type Static } from 'typebox';
import { DirectionSchema, Nullable, SeqRanges, StringEnum, Timestamp } from './common.ts';
import { ScanReasonSchema, type ScanReason } from './scan.ts';
import { VERDICT_REASONS } from '../model.ts';
import { Uuid } from './values.ts';

/** Where a scan stands of record (a later earlier scan or a resolution may change it). */
export const RecordStatusSchema = StringEnum(['admitted', 'conflict', 'rejected', 'failed', 'quarantined']);
export type RecordStatus = Static<typeof RecordStatusSchema>;

/** Why an uploaded scan got its answer: any reason a stored scan can carry (a closed list). */
export const SyncItemReasonSchema = ScanReasonSchema;
export type SyncItemReason = ScanReason;

/** One uploaded scan's outcome in a sync answer (the client's SyncStatus is its sync loop's state: another thing). */
export const SyncItemStatusSchema = StringEnum(['synced', 'duplicate', 'conflict', 'failed']);
export type SyncItemStatus = Static<typeof SyncItemStatusSchema>;

export const SyncResultItem = Type.Object({
  qrcode: Type.String(),
  seq: Type.Optional(Type.Integer({ description: "The scan's seq, when it was uploaded with one" })),
  status: Type.Integer({ description: 'An HTTP-like status per scan (seed 001)' }),
  message: Type.String(),
  sync_status: SyncItemStatusSchema,
  verdict: Type.Optional(RecordStatusSchema),
  reason: Type.Optional(SyncItemReasonSchema),
  ambiguous: Type.Optional(Type.Boolean()),
  scanned_at: Type.Optional(Timestamp),
  scanned_by: Type.Optional(Type.String()),
  type: Type.Optional(Type.String()),
  number: Type.Optional(Type.String()),
  admittence: Type.Optional(
    Type.Integer({ description: "Seed 001's `admittence`: how many entries the ticket's type allows (its max_scans)" }),
  ),
  ticket_id: Type.Optional(Uuid),
});
export type SyncResultItem = Static<typeof SyncResultItem>;

/** Seed 001's arithmetic: successful + duplicates + failed = total_uploaded; conflicts are counted in failed, and `conflicts` says how many of them. */
export const SyncSummary = Type.Object({
  total_uploaded: Type.Integer(),
  successful: Type.Integer(),
  duplicates: Type.Integer(),
  conflicts: Type.Integer(),
  failed: Type.Integer(),
});

export const SyncResponse = Type.Object({
  status: Type.Integer(),
  message: Type.String(),
  summary: SyncSummary,
  results: Type.Array(SyncResultItem),
  sync_session_id: Uuid,
  synced_at: Timestamp,
  server_time: Type.Integer({ description: 'Server clock, ms since epoch' }),
  acked_through: Type.Integer({ description: 'Every seq up to this one is stored' }),
  last_seq: Type.Integer(),
  missing: SeqRanges,
  clock_offset_ms: Nullable(Type.Integer()),
});
export type SyncResponse = Static<typeof SyncResponse>;

/** Seed 000's reconcile answer, per scan in request order. */
export const ReconcileResponse = Type.Object({
  success: Type.Boolean(),
  reconciled: Type.Integer(),
  failed: Type.Integer(),
  results: Type.Array(
    Type.Object({
      ticket_id: Type.String(),
      status: StringEnum(['SUCCESS', 'DUPLICATE', 'ERROR']),
      message: Type.String(),
      conflict: Type.Optional(Type.Boolean()),
    }),
  ),
});
export type ReconcileResponse = Static<typeof ReconcileResponse>;

/** An imported device log: the uploads' summary, and only the scans that need attention. */
export const DeviceLogImportResponse = Type.Object({
  status: Type.Integer(),
  message: Type.String(),
  event_id: Uuid,
  device_id: Type.String(),
  device_status: Type.String(),
  integrity: StringEnum(['failed', 'chain', 'unsigned']),
  integrity_problem: Type.Optional(Type.String()),
  summary: SyncSummary,
  acked_through: Type.Integer(),
  last_seq: Type.Integer(),
  missing: SeqRanges,
  conflicts_and_failures: Type.Array(SyncResultItem),
});
export type DeviceLogImportResponse = Static<typeof DeviceLogImportResponse>;

/** Seed 001's sync status of one device at one event, plus the device log's marks. */
export const SyncStatusResponse = Type.Object({
  status: Type.Integer(),
  event_id: Uuid,
  device_id: Type.String(),
  total_scans: Type.Integer(),
  pending_scans: Type.Integer({ description: 'What the server knows is still on the device' }),
  conflicts: Type.Integer(),
  failed_scans: Type.Integer(),
  last_sync: Nullable(
    Type.Object({
      session_id: Uuid,
      scans_uploaded: Type.Integer(),
      scans_successful: Type.Integer(),
      scans_failed: Type.Integer(),
      scans_duplicate: Type.Integer(),
      scans_conflict: Type.Integer(),
      completed_at: Nullable(Timestamp),
      status: Type.String(),
    }),
  ),
  last_seq: Type.Integer(),
  acked_through: Type.Integer(),
  missing: SeqRanges,
  reported_last_seq: Nullable(Type.Integer()),
  clock_offset_ms: Nullable(Type.Integer()),
  last_seen_at: Nullable(Timestamp),
  last_sync_at: Nullable(Timestamp),
  flags: Type.Array(Type.String()),
  timestamp: Timestamp,
});
export type SyncStatusResponse = Static<typeof SyncStatusResponse>;

/** Why a scan lost a conflict: the rule it lost on, or `device_revoked` (a quarantined scan). */
export const ConflictReasonSchema = StringEnum([...VERDICT_REASONS, 'device_revoked']);
export type ConflictReason = Static<typeof ConflictReasonSchema>;

/** One side of a conflict: the scan, who made it where, device time against upload time. */
export const ConflictScanSide = Type.Object({
  scan_id: Uuid,
  device_id: Type.String(),
  seq: Nullable(Type.Integer()),
  gate_id: Nullable(Uuid),
  gate: Nullable(Type.String()),
  scanned_at: Timestamp,
  source: StringEnum(['online', 'offline']),
  direction: DirectionSchema,
  flags: Type.Array(Type.String()),
  received_at: Timestamp,
  clock_uncertainty_ms: Nullable(Type.Integer()),
  device_name: Nullable(Type.String()),
  staff_id: Nullable(Uuid),
  staff_name: Nullable(Type.String()),
  ambiguous: Type.Boolean(),
});

export const ConflictResolutionSchema = StringEnum(['legitimate', 'fraud', 'dismissed']);

export const ConflictView = Type.Object({
  id: Uuid,
  event_id: Uuid,
  ticket: Type.Object({ id: Uuid, number: Nullable(Type.String()) }),
  reason: ConflictReasonSchema,
  ambiguous: Type.Boolean(),
  status: StringEnum(['open', 'resolved', 'void']),
  winner: Nullable(ConflictScanSide),
  loser: ConflictScanSide,
  resolution: Nullable(ConflictResolutionSchema),
  note: Nullable(Type.String()),
  resolved_by: Nullable(Type.String()),
  resolved_at: Nullable(Timestamp),
  created_at: Timestamp,
  updated_at: Timestamp,
  escalated: Type.Boolean(),
  escalation: Nullable(
    Type.Object({ at: Timestamp, note: Type.String(), device_id: Type.String(), staff_id: Nullable(Uuid) }),
  ),
});
export type ConflictView = Static<typeof ConflictView>;

/** The conflicts inbox: a page, and the event's totals whatever the filter (the tabs). */
export const ConflictPage = Type.Object({
  conflicts: Type.Array(ConflictView),
  next_cursor: Nullable(Type.String()),
  counts: Type.Object({ open: Type.Integer(), ambiguous_open: Type.Integer(), resolved: Type.Integer() }),
});
export type ConflictPage = Static<typeof ConflictPage>;

export const BulkResolveResponse = Type.Object({ conflicts: Type.Array(ConflictView) });
export type BulkResolveResponse = Static<typeof BulkResolveResponse>;

/** One device's offline sync state at an event (the offline-health table). */
export const DeviceSyncHealth = Type.Object({
  device_id: Type.String(),
  name: Type.String(),
  status: Type.String(),
  last_seen_at: Nullable(Timestamp),
  last_sync_at: Nullable(Timestamp),
  last_success_at: Nullable(Timestamp),
  last_successful_sync: Nullable(Timestamp),
  last_seq: Type.Integer(),
  acked_through: Type.Integer(),
  missing: SeqRanges,
  missing_count: Type.Integer(),
  reported_last_seq: Nullable(Type.Integer()),
  upload_lag: Nullable(Type.Integer()),
  clock_offset_ms: Nullable(Type.Integer()),
  syncs: Type.Integer(),
  sync_failures: Type.Integer(),
  sync_failure_rate: Type.Number(),
  flags: Type.Array(Type.String()),
  flag_reason: Nullable(Type.String()),
  implausible_time_scans: Type.Integer(),
});

export const OfflineHealthResponse = Type.Object({
  event_id: Uuid,
  generated_at: Timestamp,
  totals: Type.Object({
    devices: Type.Integer(),
    devices_with_gaps: Type.Integer(),
    devices_with_large_gaps: Type.Integer(),
    missing_scans: Type.Integer(),
    conflicts_open: Type.Integer(),
    conflicts_ambiguous: Type.Integer(),
    conflicts_resolved: Type.Integer(),
    devices_not_seen_24h: Type.Integer(),
    devices_not_seen_72h: Type.Integer(),
    flagged_devices: Type.Integer(),
    implausible_time_scans: Type.Integer(),
    sync_failure_rate: Type.Number(),
  }),
  devices: Type.Array(DeviceSyncHealth),
  alerts: Type.Array(
    Type.Object({
      severity: StringEnum(['warning', 'critical']),
      code: Type.String(),
      message: Type.String(),
      device_id: Type.Optional(Type.String()),
    }),
  ),
});
export type OfflineHealthResponse = Static<typeof OfflineHealthResponse>;
