import { Type, type Static } from 'typebox';
import { DirectionSchema, Uuid } from './common.ts';

export const MAX_SYNC_SCANS = 5_000;
export const MAX_SYNC_BYTES = 4 * 1024 * 1024;

const ResultCode = Type.Union([
  Type.Literal('valid'), Type.Literal('duplicate'), Type.Literal('invalid_token'), Type.Literal('wrong_event'),
  Type.Literal('wrong_gate'), Type.Literal('cancelled'), Type.Literal('not_valid_now'),
]);

/** One offline scan as a device uploads it (seed 001's shape, extended). */
export const SyncScan = Type.Object({
  qrcode: Type.String({ maxLength: 4096 }),
  scanned_at: Type.Integer({ minimum: 0, maximum: 8_640_000_000_000, description: 'Device clock, ms since epoch' }),
  seq: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'Per device and event, gap-free from 1' }),
  direction: Type.Optional(DirectionSchema),
  gate_id: Type.Optional(Type.Union([Uuid, Type.Null()])),
  local_result: Type.Optional(Type.Union([ResultCode, Type.Null()])),
  scan_id: Type.Optional(Type.String({ format: 'uuid', description: 'The scan_id of an online attempt that timed out before this offline decision' })),
  // Sent by seed 001 clients; accepted and ignored.
  ticket_types: Type.Optional(Type.Array(Type.Unknown(), { maxItems: 50 })),
}, { additionalProperties: false });
export type SyncScan = Static<typeof SyncScan>;

export const SyncIntegrity = Type.Object({
  prev_link: Type.String({ pattern: '^[0-9a-f]{64}$', description: 'Chain link before the first scan of this upload (hex)' }),
  head_signature: Type.String({ minLength: 86, maxLength: 88, description: 'Ed25519 signature of the chain head, base64url' }),
}, { additionalProperties: false });

export const SyncBody = Type.Object({
  event_id: Uuid,
  device_id: Type.String({ minLength: 1, maxLength: 64 }),
  session_token: Type.String({ minLength: 1, maxLength: 200 }),
  device_time: Type.Optional(Type.Integer({ minimum: 0, maximum: 8_640_000_000_000 })),
  device_last_seq: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'The highest seq the device holds (pending included)' })),
  // The batch limit (5,000) is enforced by the handler with a 413, not here with a 400.
  scans: Type.Array(SyncScan),
  integrity: Type.Optional(SyncIntegrity),
}, { additionalProperties: false });
export type SyncBody = Static<typeof SyncBody>;

export type SyncStatus = 'synced' | 'duplicate' | 'conflict' | 'failed';

export interface SyncResultItem {
  qrcode: string;
  seq: number;
  status: number;
  message: string;
  sync_status: SyncStatus;
  verdict?: string;
  reason?: string;
  ambiguous?: boolean;
  scanned_at?: string;
  scanned_by?: string;
  type?: string;
  number?: string;
  ticket_id?: string;
}

export interface SyncResponse {
  status: number;
  message: string;
  summary: { total_uploaded: number; successful: number; duplicates: number; conflicts: number; failed: number };
  results: SyncResultItem[];
  sync_session_id: string;
  synced_at: string;
  server_time: number;
  acked_through: number;
  last_seq: number;
  missing: Array<[number, number]>;
  clock_offset_ms: number | null;
}

/** Seed 000's reconcile request, served by the same engine. */
export const ReconcileBody = Type.Object({
  device_id: Type.String({ minLength: 1, maxLength: 64 }),
  scans: Type.Array(Type.Object({
    ticket_id: Uuid,
    scanned_at: Type.String({ minLength: 10, maxLength: 40 }),
    result: Type.Union([Type.Literal('ALLOW'), Type.Literal('DENY')]),
    reason: Type.Optional(Type.String({ maxLength: 500 })),
    scan_count: Type.Optional(Type.Integer({ minimum: 0 })),
  }, { additionalProperties: false })),
}, { additionalProperties: false });
export type ReconcileBody = Static<typeof ReconcileBody>;

export const ResolveConflictBody = Type.Object({
  resolution: Type.Union([Type.Literal('legitimate'), Type.Literal('fraud'), Type.Literal('dismissed')]),
  note: Type.Optional(Type.String({ maxLength: 2000 })),
}, { additionalProperties: false });
export type ResolveConflictBody = Static<typeof ResolveConflictBody>;

export const MAX_IMPORT_SCANS = 100_000;

/** A device's exported scan log (`entrada/device-log/v1`), imported by an organiser when the device never reconnects. */
export const DeviceLogImport = Type.Object({
  format: Type.Literal('entrada/device-log/v1'),
  event_id: Uuid,
  device_id: Type.String({ minLength: 1, maxLength: 64 }),
  exported_at: Type.Integer({ minimum: 0 }),
  public_key: Type.Union([Type.String({ minLength: 43, maxLength: 88 }), Type.Null()]),
  scans: Type.Array(Type.Object({
    qrcode: Type.String({ maxLength: 4096 }),
    scanned_at: Type.Integer({ minimum: 0, maximum: 8_640_000_000_000 }),
    seq: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
    direction: Type.Optional(DirectionSchema),
    gate_id: Type.Optional(Type.Union([Uuid, Type.Null()])),
    local_result: Type.Optional(Type.Union([ResultCode, Type.Null()])),
    scan_id: Type.Optional(Type.String({ format: 'uuid' })),
    // Device-side bookkeeping carried by the export; the server recomputes what it needs.
    link: Type.Optional(Type.String({ maxLength: 128 })),
    synced: Type.Optional(Type.Boolean()),
    server_status: Type.Optional(Type.Union([Type.String({ maxLength: 32 }), Type.Null()])),
  }, { additionalProperties: false })),
  integrity: Type.Union([SyncIntegrity, Type.Null()]),
}, { additionalProperties: false });
export type DeviceLogImport = Static<typeof DeviceLogImport>;
