import { Type, type Static } from 'typebox';
import { DirectionSchema, Nullable, StringEnum, Timestamp } from './common.ts';
import { Uuid } from './values.ts';
import { SCAN_RESULTS, VERDICT_REASONS, type ScanResult, type VerdictReason } from '../model.ts';

/**
 * `code` is deliberately loose (any string up to a generous bound): a scanned
 * string that cannot be a ticket is a verdict (`invalid_token`), not an HTTP error.
 * It is matched by keyed digest and never stored as text, so even a NUL is safe.
 */
export const ScanBody = Type.Object(
  {
    code: Type.String({ maxLength: 4096 }),
    session_id: Type.Optional(Uuid),
    event_id: Type.Optional(Uuid),
    gate_id: Type.Optional(Uuid),
    direction: Type.Optional(DirectionSchema),
    scan_id: Type.Optional(Uuid),
    /** The staff member logged in on the device (an id that is not staff of the scan's event is stored as none and flagged). */
    staff_id: Type.Optional(Uuid),
  },
  { additionalProperties: false },
);
export type ScanBody = Static<typeof ScanBody>;

/** Every result a scan can have: core's ScanResult as a schema (a closed union; the type test below keeps the two equal). */
export const ScanResultSchema = StringEnum<ScanResult>(SCAN_RESULTS);

/** Every reason core's rules give (VerdictReason) as a schema: what the online scan answers. */
export const VerdictReasonSchema = StringEnum<VerdictReason>(VERDICT_REASONS);

/**
 * Every reason a stored scan can carry: core's rules' (VerdictReason), or one of the offline upload's own —
 * `failed` (an integrity check failed), `quarantined` (scanned by a revoked device after its revocation, kept for
 * review), `tampering` (different content for a seq already received), `received_online` (the same scan reached
 * the server online first), `conflict` (lost a conflict whose rule is not recorded), `refused_offline` and
 * `admitted_offline` (what the device decided). The online scan answers one of these too: a retry of a scan_id whose
 * offline copy arrived first gets the copy's. A closed list: the server's types cannot answer a reason outside it.
 */
export const SCAN_REASONS = [
  ...VERDICT_REASONS,
  'failed',
  'quarantined',
  'tampering',
  'received_online',
  'conflict',
  'refused_offline',
  'admitted_offline',
] as const;
export const ScanReasonSchema = StringEnum(SCAN_REASONS);
export type ScanReason = Static<typeof ScanReasonSchema>;

/** The verdict a gate shows: what `POST /api/v1/scanning/scan` answers. */
export const ScanVerdictResponse = Type.Object({
  result: ScanResultSchema,
  reason: ScanReasonSchema,
  message: Type.String({ description: 'The verdict in words, for the steward' }),
  direction: DirectionSchema,
  ticket: Nullable(
    Type.Object({
      id: Uuid,
      number: Type.String(),
      tier: Type.String(),
      holder_name: Nullable(Type.String()),
      scans_used: Type.Integer(),
      max_scans: Type.Integer(),
    }),
  ),
  first_scanned_at: Type.Optional(Timestamp),
  scanned_by: Type.Optional(Type.String({ description: "The device of the ticket's first admission" })),
  scanned_by_name: Type.Optional(Type.String()),
  previous_gate: Type.Optional(Type.String()),
  scan_id: Uuid,
  scanned_at: Timestamp,
  /** Names of the zones (capacity mode warn) this admission took over their capacity; the scan is flagged over_capacity. */
  over_capacity: Type.Optional(Type.Array(Type.String())),
});
export type ScanVerdictResponse = Static<typeof ScanVerdictResponse>;

/** A scan session at a gate (start, read, end). */
export const ScanSessionView = Type.Object({
  id: Uuid,
  event_id: Uuid,
  gate_id: Nullable(Uuid),
  device_id: Type.String(),
  direction: DirectionSchema,
  status: StringEnum(['active', 'ended']),
  started_at: Timestamp,
  ended_at: Nullable(Timestamp),
  scan_count: Type.Integer(),
});
export type ScanSessionView = Static<typeof ScanSessionView>;

export const StartedScanSession = Type.Object({
  ...ScanSessionView.properties,
  ended_session_id: Nullable(Type.String({ description: "The device's previous session, ended by this one" })),
});
export type StartedScanSession = Static<typeof StartedScanSession>;
