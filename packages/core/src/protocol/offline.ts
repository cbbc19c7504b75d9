import { Type, type Static } from 'typebox';
import { DirectionSchema } from './common.ts';
import { Count, EpochMs, Int53, Text, Uuid, UuidString } from './values.ts';

export const MAX_SYNC_SCANS = 5_000;
export const MAX_SYNC_BYTES = 4 * 1024 * 1024;

const ResultCode = Type.Union([
  Type.Literal('valid'),
  Type.Literal('duplicate'),
  Type.Literal('invalid_token'),
  Type.Literal('wrong_event'),
  Type.Literal('wrong_gate'),
  Type.Literal('cancelled'),
  Type.Literal('not_valid_now'),
]);

/** One offline scan as a device uploads it (seed 001's shape, extended). */
export const SyncScan = Type.Object(
  {
    /** Any scanned string: codes are matched by keyed digest, never stored as text, so a NUL is an unknown code, not an error. */
    qrcode: Type.String({ maxLength: 4096 }),
    scanned_at: EpochMs({ description: 'Device clock, ms since epoch' }),
    // Optional for devices registered without a public key (seed 001's scans are {qrcode, scanned_at, ticket_types}): such a
    // scan's identity is (device, qrcode, scanned_at). A device registered with a key must send it (and integrity data).
    seq: Type.Optional(
      Int53({
        minimum: 1,
        description:
          'Per device and event, gap-free from 1. Required for devices registered with a public key; ' +
          'without it a scan is identified by (device, qrcode, scanned_at): uploading it again answers `duplicate` and stores nothing',
      }),
    ),
    direction: Type.Optional(DirectionSchema),
    gate_id: Type.Optional(Type.Union([Uuid, Type.Null()])),
    local_result: Type.Optional(Type.Union([ResultCode, Type.Null()])),
    scan_id: Type.Optional(
      UuidString({ description: 'The scan_id of an online attempt that timed out before this offline decision' }),
    ),
    // Outside the signed payload (the hash chain's canonical text predates it): what a device says, checked against the event's staff.
    staff_id: Type.Optional(
      UuidString({
        description:
          'The staff member logged in on the device when it scanned (an unknown id is stored as none and flagged)',
      }),
    ),
    // Sent by seed 001 clients; accepted and ignored.
    ticket_types: Type.Optional(Type.Array(Type.Unknown(), { maxItems: 50 })),
  },
  { additionalProperties: false },
);
export type SyncScan = Static<typeof SyncScan>;

export const SyncIntegrity = Type.Object(
  {
    prev_link: Text({
      minLength: 64,
      maxLength: 64,
      pattern: '^[0-9a-f]{64}$',
      description: 'Chain link before the first scan of this upload (hex)',
    }),
    head_signature: Text({
      minLength: 86,
      maxLength: 88,
      description: 'Ed25519 signature of the chain head, base64url',
    }),
  },
  { additionalProperties: false },
);

export const SyncBody = Type.Object(
  {
    event_id: Uuid,
    device_id: Text({ minLength: 1, maxLength: 64 }),
    session_token: Text({ minLength: 1, maxLength: 200 }),
    device_time: Type.Optional(EpochMs()),
    device_last_seq: Type.Optional(
      Int53({ minimum: 0, description: 'The highest seq the device holds (pending included)' }),
    ),
    // The batch limit (5,000) is enforced by the handler with a 413, not here with a 400.
    scans: Type.Array(SyncScan),
    integrity: Type.Optional(SyncIntegrity),
  },
  { additionalProperties: false },
);
export type SyncBody = Static<typeof SyncBody>;

/** Seed 000's reconcile request, served by the same engine. */
export const ReconcileBody = Type.Object(
  {
    device_id: Text({ minLength: 1, maxLength: 64 }),
    scans: Type.Array(
      Type.Object(
        {
          // Checked per scan too: an unknown or malformed ticket id is an ERROR result for that scan, never a 400 for the batch.
          ticket_id: Text({
            maxLength: 200,
            description: "The ticket's id (a UUID); another value is answered ERROR for that scan",
          }),
          // Checked per scan (an ERROR result for that scan), never a 400 for the batch: seed 000's clients send a batch
          // once and cannot fix one scan's time.
          scanned_at: Text({
            maxLength: 64,
            description: 'ISO 8601 instant, years 0001-9999; another value is answered ERROR for that scan',
          }),
          result: Type.Union([Type.Literal('ALLOW'), Type.Literal('DENY')]),
          reason: Type.Optional(Text({ maxLength: 500 })),
          scan_count: Type.Optional(Count()),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type ReconcileBody = Static<typeof ReconcileBody>;

export const ResolveConflictBody = Type.Object(
  {
    resolution: Type.Union([Type.Literal('legitimate'), Type.Literal('fraud'), Type.Literal('dismissed')]),
    note: Type.Optional(Text({ maxLength: 2000 })),
  },
  { additionalProperties: false },
);
export type ResolveConflictBody = Static<typeof ResolveConflictBody>;

/**
 * Gate staff escalate one of their device's conflicts to the organisers (seed 004's "Escalate"): named by the
 * device's own scan, by its seq or the scan_id it sent (what the device knows), with a note in words.
 */
export const EscalateConflictBody = Type.Object(
  {
    event_id: Uuid,
    seq: Type.Optional(Type.Integer({ minimum: 1, maximum: 2_147_483_647 })),
    scan_id: Type.Optional(Uuid),
    note: Text({ minLength: 1, maxLength: 2000 }),
    /** The staff member logged in on the device (stored only if staff of the event). */
    staff_id: Type.Optional(Uuid),
  },
  { additionalProperties: false },
);
export type EscalateConflictBody = Static<typeof EscalateConflictBody>;

export const MAX_IMPORT_SCANS = 100_000;

/** A device's exported scan log (`entrada/device-log/v1`), imported by an organiser when the device never reconnects. */
export const DeviceLogImport = Type.Object(
  {
    format: Type.Literal('entrada/device-log/v1'),
    event_id: Uuid,
    device_id: Text({ minLength: 1, maxLength: 64 }),
    exported_at: EpochMs(),
    public_key: Type.Union([Text({ minLength: 43, maxLength: 88 }), Type.Null()]),
    scans: Type.Array(
      Type.Object(
        {
          // Any scanned string, as in SyncScan.
          qrcode: Type.String({ maxLength: 4096 }),
          scanned_at: EpochMs(),
          seq: Int53({ minimum: 1 }),
          direction: Type.Optional(DirectionSchema),
          gate_id: Type.Optional(Type.Union([Uuid, Type.Null()])),
          local_result: Type.Optional(Type.Union([ResultCode, Type.Null()])),
          scan_id: Type.Optional(Uuid),
          staff_id: Type.Optional(Uuid),
          // Device-side bookkeeping carried by the export; the server recomputes what it needs.
          link: Type.Optional(Text({ maxLength: 128 })),
          synced: Type.Optional(Type.Boolean()),
          server_status: Type.Optional(Type.Union([Text({ maxLength: 32 }), Type.Null()])),
        },
        { additionalProperties: false },
      ),
    ),
    integrity: Type.Union([SyncIntegrity, Type.Null()]),
  },
  { additionalProperties: false },
);
export type DeviceLogImport = Static<typeof DeviceLogImport>;
