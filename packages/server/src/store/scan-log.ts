import type { Sql } from '../db/database.ts';
import { ms } from './rows.ts';

/** The scan log's filters, decoded (times in epoch ms). */
export interface ScanLogFilter {
  from: number | null;
  to: number | null;
  gateId: string | null;
  deviceId: string | null;
  staffId: string | null;
  direction: string | null;
  verdict: string | null;
  result: string | null;
  reason: string | null;
  source: string | null;
  conflictsOnly: boolean;
}

/** A position in the log's order (scanned_at desc, id desc): the timestamp as exact text (microseconds), so no row is skipped or repeated. */
export interface ScanLogPosition {
  at: string;
  id: string;
}

export interface ScanLogRecord {
  id: string;
  scannedAt: number;
  receivedAt: number;
  direction: string;
  result: string;
  reason: string;
  verdict: string;
  conflictReason: string | null;
  source: string;
  clockUncertaintyMs: number | null;
  gateId: string | null;
  deviceId: string;
  deviceName: string | null;
  staffId: string | null;
  staffName: string | null;
  ticketId: string | null;
  ticketNumber: string | null;
  holderName: string | null;
  position: ScanLogPosition;
}

interface Raw {
  id: string;
  scanned_at: Date;
  received_at: Date;
  direction: string;
  result: string;
  reason: string;
  record_status: string;
  conflict_reason: string | null;
  source: string;
  clock_uncertainty_ms: number | null;
  gate_id: string | null;
  device_id: string;
  device_name: string | null;
  staff_id: string | null;
  staff_name: string | null;
  ticket_id: string | null;
  number: string | null;
  holder_name: string | null;
  at_text: string;
}

/**
 * One page of an event's scans, newest first, with the names an organiser
 * reads (device, staff, ticket number; never the code). Filters that are not
 * given are `NULL` parameters, so this is one statement whatever is filtered
 * (one plan cached per connection).
 *
 * Served by the index scans_log (event_id, scanned_at, id), migration 016, which says what it costs.
 */
export async function listScanLog(
  sql: Sql,
  eventId: string,
  f: ScanLogFilter,
  after: ScanLogPosition | null,
  limit: number,
): Promise<ScanLogRecord[]> {
  // The page is chosen from scans alone (the index walks (scanned_at, id) backwards from the cursor and stops at
  // `limit`); only its rows are joined to names.
  const rows = await sql.query<Raw>(
    `SELECT s.id, s.scanned_at, s.received_at, s.direction, s.result, s.reason, s.record_status, s.conflict_reason, s.source, s.clock_uncertainty_ms,
        s.gate_id, s.device_id, d.name AS device_name, s.staff_id, st.name AS staff_name, s.ticket_id, t.number, t.holder_name,
        to_char(s.scanned_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at_text
     FROM (
       SELECT s.event_id, s.id, s.scanned_at, s.received_at, s.direction, s.result, s.reason, s.record_status, s.conflict_reason, s.source,
         s.clock_uncertainty_ms, s.gate_id, s.device_id, s.device_pk, s.staff_id, s.ticket_id
       FROM scans s
       WHERE s.event_id = $1
         AND ($2::timestamptz IS NULL OR s.scanned_at >= $2) AND ($3::timestamptz IS NULL OR s.scanned_at < $3)
         AND ($4::uuid IS NULL OR s.gate_id = $4) AND ($5::text IS NULL OR s.device_id = $5) AND ($6::uuid IS NULL OR s.staff_id = $6)
         AND ($7::text IS NULL OR s.direction = $7) AND ($8::text IS NULL OR s.record_status = $8) AND ($9::text IS NULL OR s.result = $9)
         AND ($10::text IS NULL OR s.reason = $10) AND ($11::text IS NULL OR s.source = $11)
         AND (NOT $12::boolean OR s.record_status IN ('conflict', 'quarantined'))
         AND ($13::timestamptz IS NULL OR (s.scanned_at, s.id) < ($13::timestamptz, $14::uuid))
       ORDER BY s.scanned_at DESC, s.id DESC
       LIMIT $15
     ) s
     LEFT JOIN devices d ON d.id = s.device_pk
     LEFT JOIN event_staff st ON st.event_id = s.event_id AND st.id = s.staff_id
     LEFT JOIN tickets t ON t.event_id = s.event_id AND t.id = s.ticket_id
     ORDER BY s.scanned_at DESC, s.id DESC`,
    [
      eventId,
      f.from === null ? null : new Date(f.from),
      f.to === null ? null : new Date(f.to),
      f.gateId,
      f.deviceId,
      f.staffId,
      f.direction,
      f.verdict,
      f.result,
      f.reason,
      f.source,
      f.conflictsOnly,
      after?.at ?? null,
      after?.id ?? null,
      limit,
    ],
  );
  return rows.map((r) => ({
    id: r.id,
    scannedAt: ms(r.scanned_at)!,
    receivedAt: ms(r.received_at)!,
    direction: r.direction,
    result: r.result,
    reason: r.reason,
    verdict: r.record_status,
    conflictReason: r.conflict_reason,
    source: r.source,
    clockUncertaintyMs: r.clock_uncertainty_ms,
    gateId: r.gate_id,
    deviceId: r.device_id,
    deviceName: r.device_name,
    staffId: r.staff_id,
    staffName: r.staff_name,
    ticketId: r.ticket_id,
    ticketNumber: r.number,
    holderName: r.holder_name,
    position: { at: r.at_text, id: r.id },
  }));
}
