import { Type, type Static } from 'typebox';
import { DirectionSchema } from './common.ts';
import { Uuid } from './values.ts';
import type { Direction, ScanResult, VerdictReason } from '../model.ts';

/**
 * `code` is deliberately loose (any string up to a generous bound): a scanned
 * string that cannot be a ticket is a verdict (`invalid_token`), not an HTTP error.
 * It is matched by keyed digest and never stored as text, so even a NUL is safe.
 */
export const ScanBody = Type.Object({
  code: Type.String({ maxLength: 4096 }),
  session_id: Type.Optional(Uuid),
  event_id: Type.Optional(Uuid),
  gate_id: Type.Optional(Uuid),
  direction: Type.Optional(DirectionSchema),
  scan_id: Type.Optional(Uuid),
  /** The staff member logged in on the device (an id that is not staff of the scan's event is stored as none and flagged). */
  staff_id: Type.Optional(Uuid),
}, { additionalProperties: false });
export type ScanBody = Static<typeof ScanBody>;

/** The verdict a gate shows: what `POST /api/v1/scanning/scan` answers. */
export interface ScanVerdictResponse {
  result: ScanResult;
  reason: VerdictReason;
  message: string;
  direction: Direction;
  ticket: { id: string; number: string; tier: string; holder_name: string | null; scans_used: number; max_scans: number } | null;
  first_scanned_at?: string;
  scanned_by?: string;
  scanned_by_name?: string;
  previous_gate?: string;
  scan_id: string;
  scanned_at: string;
  /** Names of the zones (capacity mode warn) this admission took over their capacity; the scan is flagged over_capacity. */
  over_capacity?: string[];
}
