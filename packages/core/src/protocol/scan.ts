import { Type, type Static } from 'typebox';
import { DirectionSchema, Uuid } from './common.ts';

/**
 * `code` is deliberately loose (any string up to a generous bound): a scanned
 * string that cannot be a ticket is a verdict (`invalid_token`), not an HTTP error.
 */
export const ScanBody = Type.Object({
  code: Type.String({ maxLength: 4096 }),
  session_id: Type.Optional(Uuid),
  event_id: Type.Optional(Uuid),
  gate_id: Type.Optional(Uuid),
  direction: Type.Optional(DirectionSchema),
  scan_id: Type.Optional(Uuid),
}, { additionalProperties: false });
export type ScanBody = Static<typeof ScanBody>;

export const ScanTicket = Type.Object({
  id: Uuid,
  number: Type.String(),
  tier: Type.String(),
  holder_name: Type.Union([Type.String(), Type.Null()]),
  scans_used: Type.Integer(),
  max_scans: Type.Integer(),
});

export const ScanResponse = Type.Object({
  result: Type.String(),
  reason: Type.String(),
  message: Type.String(),
  direction: DirectionSchema,
  ticket: Type.Union([ScanTicket, Type.Null()]),
  first_scanned_at: Type.Optional(Type.String()),
  scanned_by: Type.Optional(Type.String()),
  scanned_by_name: Type.Optional(Type.String()),
  previous_gate: Type.Optional(Type.String()),
  scan_id: Uuid,
  scanned_at: Type.String(),
});
export type ScanResponse = Static<typeof ScanResponse>;
