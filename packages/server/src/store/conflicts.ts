import type { ConflictReason, Direction } from '@entrada/core';
import type { Sql } from '../db/database.ts';
import { ms } from './rows.ts';

export interface ConflictView {
  id: string;
  eventId: string;
  ticketId: string;
  ticketNumber: string | null;
  reason: ConflictReason;
  ambiguous: boolean;
  status: 'open' | 'resolved' | 'void';
  resolution: 'legitimate' | 'fraud' | 'dismissed' | null;
  note: string | null;
  resolvedBy: string | null;
  resolvedAt: number | null;
  createdAt: number;
  updatedAt: number;
  loser: ScanSide;
  winner: ScanSide | null;
  escalation: { at: number; note: string; byDevice: string; byStaff: string | null } | null;
}
export interface ScanSide {
  scanId: string;
  deviceId: string;
  seq: number | null;
  gateId: string | null;
  scannedAt: number;
  source: 'online' | 'offline';
  direction: Direction;
  /** The scan's flags (implausible_time: its time cannot be trusted to order it). */
  flags: string[];
  /** Upload time, the device's clock uncertainty (null: implausible), names for people. */
  receivedAt: number;
  clockUncertaintyMs: number | null;
  deviceName: string | null;
  staffId: string | null;
  staffName: string | null;
  ambiguous: boolean;
}

interface Raw {
  id: string;
  event_id: string;
  ticket_id: string;
  number: string | null;
  reason: ConflictReason;
  ambiguous: boolean;
  status: ConflictView['status'];
  resolution: ConflictView['resolution'];
  note: string | null;
  resolved_by: string | null;
  resolved_at: Date | null;
  created_at: Date;
  updated_at: Date;
  escalated_at: Date | null;
  escalation_note: string | null;
  escalated_by_device: string | null;
  escalated_by_staff: string | null;
  l_id: string;
  l_device: string;
  l_seq: number | null;
  l_gate: string | null;
  l_at: Date;
  l_source: ScanSide['source'];
  l_direction: Direction;
  l_flags: string[];
  w_id: string | null;
  w_device: string | null;
  w_seq: number | null;
  w_gate: string | null;
  w_at: Date | null;
  w_source: ScanSide['source'] | null;
  w_direction: Direction | null;
  w_flags: string[] | null;
  l_received: Date;
  l_uncertainty: number | null;
  l_device_name: string | null;
  l_staff: string | null;
  l_staff_name: string | null;
  l_ambiguous: boolean;
  w_received: Date | null;
  w_uncertainty: number | null;
  w_device_name: string | null;
  w_staff: string | null;
  w_staff_name: string | null;
  w_ambiguous: boolean | null;
}

const SELECT = `SELECT c.id, c.event_id, c.ticket_id, t.number, c.reason, c.ambiguous, c.status, c.resolution, c.note, c.resolved_by, c.resolved_at,
    c.created_at, c.updated_at, c.escalated_at, c.escalation_note, c.escalated_by_device, c.escalated_by_staff,
    l.id AS l_id, l.device_id AS l_device, l.seq::float8 AS l_seq, l.gate_id AS l_gate, l.scanned_at AS l_at, l.source AS l_source, l.direction AS l_direction,
    l.flags AS l_flags,
    w.id AS w_id, w.device_id AS w_device, w.seq::float8 AS w_seq, w.gate_id AS w_gate, w.scanned_at AS w_at, w.source AS w_source, w.direction AS w_direction,
    w.flags AS w_flags,
    l.received_at AS l_received, l.clock_uncertainty_ms AS l_uncertainty, ld.name AS l_device_name, l.staff_id AS l_staff, ls.name AS l_staff_name, l.ambiguous AS l_ambiguous,
    w.received_at AS w_received, w.clock_uncertainty_ms AS w_uncertainty, wd.name AS w_device_name, w.staff_id AS w_staff, ws.name AS w_staff_name, w.ambiguous AS w_ambiguous
  FROM conflicts c
  JOIN scans l ON l.event_id = c.event_id AND l.id = c.loser_scan_id
  LEFT JOIN scans w ON w.event_id = c.event_id AND w.id = c.winner_scan_id
  LEFT JOIN tickets t ON t.event_id = c.event_id AND t.id = c.ticket_id
  LEFT JOIN devices ld ON ld.id = l.device_pk
  LEFT JOIN devices wd ON wd.id = w.device_pk
  LEFT JOIN event_staff ls ON ls.event_id = l.event_id AND ls.id = l.staff_id
  LEFT JOIN event_staff ws ON ws.event_id = w.event_id AND ws.id = w.staff_id`;

function toView(r: Raw): ConflictView {
  return {
    id: r.id,
    eventId: r.event_id,
    ticketId: r.ticket_id,
    ticketNumber: r.number,
    reason: r.reason,
    ambiguous: r.ambiguous,
    status: r.status,
    resolution: r.resolution,
    note: r.note,
    resolvedBy: r.resolved_by,
    resolvedAt: ms(r.resolved_at),
    createdAt: ms(r.created_at)!,
    updatedAt: ms(r.updated_at)!,
    loser: {
      scanId: r.l_id,
      deviceId: r.l_device,
      seq: r.l_seq,
      gateId: r.l_gate,
      scannedAt: ms(r.l_at)!,
      source: r.l_source,
      direction: r.l_direction,
      flags: r.l_flags,
      receivedAt: ms(r.l_received)!,
      clockUncertaintyMs: r.l_uncertainty,
      deviceName: r.l_device_name,
      staffId: r.l_staff,
      staffName: r.l_staff_name,
      ambiguous: r.l_ambiguous,
    },
    winner: r.w_id
      ? {
          scanId: r.w_id,
          deviceId: r.w_device!,
          seq: r.w_seq,
          gateId: r.w_gate,
          scannedAt: ms(r.w_at)!,
          source: r.w_source!,
          direction: r.w_direction!,
          flags: r.w_flags ?? [],
          receivedAt: ms(r.w_received)!,
          clockUncertaintyMs: r.w_uncertainty,
          deviceName: r.w_device_name,
          staffId: r.w_staff,
          staffName: r.w_staff_name,
          ambiguous: r.w_ambiguous ?? false,
        }
      : null,
    escalation: r.escalated_at
      ? {
          at: ms(r.escalated_at)!,
          note: r.escalation_note ?? '',
          byDevice: r.escalated_by_device ?? '',
          byStaff: r.escalated_by_staff,
        }
      : null,
  };
}

export async function listConflicts(
  sql: Sql,
  eventId: string,
  status: string | null,
  limit: number,
): Promise<ConflictView[]> {
  const rows = await sql.query<Raw>(
    `${SELECT} WHERE c.event_id = $1 AND ($2::text IS NULL OR c.status = $2) ORDER BY c.created_at, c.id LIMIT $3`,
    [eventId, status, limit],
  );
  return rows.map(toView);
}

export interface ConflictFilter {
  status: string | null;
  ambiguous: boolean | null;
  escalated: boolean | null;
  reason: string | null;
  deviceId: string | null;
}

/**
 * A page of the inbox, oldest first (the order the existing list had), after
 * (created_at, id); `device` matches either side. The timestamp travels as
 * exact text (microseconds) so a page boundary never skips or repeats a row.
 */
export async function listConflictPage(
  sql: Sql,
  eventId: string,
  f: ConflictFilter,
  after: { at: string; id: string } | null,
  limit: number,
): Promise<Array<ConflictView & { position: { at: string; id: string } }>> {
  const rows = await sql.query<Raw & { at_text: string }>(
    `SELECT * FROM (${SELECT.replace('SELECT c.id,', `SELECT to_char(c.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at_text, c.id,`)}
      WHERE c.event_id = $1 AND ($2::text IS NULL OR c.status = $2) AND ($3::boolean IS NULL OR c.ambiguous = $3) AND ($4::text IS NULL OR c.reason = $4)
        AND ($5::text IS NULL OR l.device_id = $5 OR w.device_id = $5)
        AND ($6::timestamptz IS NULL OR (c.created_at, c.id) > ($6::timestamptz, $7::uuid))
        AND ($9::boolean IS NULL OR (c.escalated_at IS NOT NULL) = $9)
      ORDER BY c.created_at, c.id LIMIT $8) page`,
    [eventId, f.status, f.ambiguous, f.reason, f.deviceId, after?.at ?? null, after?.id ?? null, limit, f.escalated],
  );
  return rows.map((r) => ({ ...toView(r), position: { at: r.at_text, id: r.id } }));
}

/** Several conflicts of one event by id (the bulk resolution reads them all first). */
export async function getConflicts(sql: Sql, eventId: string, ids: readonly string[]): Promise<ConflictView[]> {
  const rows = await sql.query<Raw>(`${SELECT} WHERE c.event_id = $1 AND c.id = ANY($2::uuid[])`, [eventId, ids]);
  return rows.map(toView);
}

/** Marks open conflicts resolved in one statement; returns the ids it changed (fewer than asked: some were resolved meanwhile). */
export async function markResolvedMany(
  tx: Sql,
  eventId: string,
  ids: readonly string[],
  r: { resolution: string; note: string | null; by: string; at: number },
): Promise<string[]> {
  const rows = await tx.query<{ id: string }>(
    `UPDATE conflicts SET status = 'resolved', resolution = $3, note = $4, resolved_by = $5, resolved_at = $6, updated_at = $6, tx = pg_current_xact_id()
     WHERE event_id = $1 AND id = ANY($2::uuid[]) AND status = 'open' RETURNING id`,
    [eventId, ids, r.resolution, r.note, r.by, new Date(r.at)],
  );
  return rows.map((x) => x.id);
}

/** The event of a conflict (the bulk route names conflicts, not their event). */
export async function conflictEvents(
  sql: Sql,
  ids: readonly string[],
): Promise<Array<{ id: string; eventId: string }>> {
  const rows = await sql.query<{ id: string; event_id: string }>(
    'SELECT id, event_id FROM conflicts WHERE id = ANY($1::uuid[])',
    [ids],
  );
  return rows.map((r) => ({ id: r.id, eventId: r.event_id }));
}

export async function getConflict(sql: Sql, conflictId: string): Promise<ConflictView | null> {
  const [row] = await sql.query<Raw>(`${SELECT} WHERE c.id = $1`, [conflictId]);
  return row ? toView(row) : null;
}

export async function markResolved(
  tx: Sql,
  eventId: string,
  conflictId: string,
  r: { resolution: string; note: string | null; by: string; at: number },
): Promise<boolean> {
  const rows = await tx.query(
    `UPDATE conflicts SET status = 'resolved', resolution = $3, note = $4, resolved_by = $5, resolved_at = $6, updated_at = $6, tx = pg_current_xact_id()
     WHERE event_id = $1 AND id = $2 AND status = 'open' RETURNING id`,
    [eventId, conflictId, r.resolution, r.note, r.by, new Date(r.at)],
  );
  return rows.length === 1;
}

export async function conflictCounts(
  sql: Sql,
  eventId: string,
): Promise<{ open: number; ambiguous: number; resolved: number; oldestOpenAt: number | null }> {
  const [row] = await sql.query<{ open: number; ambiguous: number; resolved: number; oldest: Date | null }>(
    `SELECT count(*) FILTER (WHERE status = 'open')::int AS open, count(*) FILTER (WHERE status = 'open' AND ambiguous)::int AS ambiguous,
       count(*) FILTER (WHERE status = 'resolved')::int AS resolved, min(created_at) FILTER (WHERE status = 'open') AS oldest
     FROM conflicts WHERE event_id = $1`,
    [eventId],
  );
  return { open: row!.open, ambiguous: row!.ambiguous, resolved: row!.resolved, oldestOpenAt: ms(row!.oldest) };
}

/**
 * Escalates the open conflict whose losing scan is this device's, named by its seq or the scan_id the device sent
 * (seed 004's "Escalate"); a staff id is kept only if staff of the event. Its id, or null when there is none.
 */
export async function escalateConflict(
  tx: Sql,
  eventId: string,
  devicePk: string,
  scan: { seq: number | null; scanId: string | null },
  e: { note: string; deviceId: string; staffId: string | null; at: number },
): Promise<string | null> {
  const rows = await tx.query<{ id: string }>(
    `UPDATE conflicts c SET escalated_at = $5, escalation_note = $6, escalated_by_device = $7,
       escalated_by_staff = (SELECT es.id FROM event_staff es WHERE es.event_id = $1 AND es.id = $8::uuid), updated_at = $5, tx = pg_current_xact_id()
     FROM scans l
     WHERE c.event_id = $1 AND c.status = 'open' AND l.event_id = c.event_id AND l.id = c.loser_scan_id AND l.device_pk = $2
       AND (($3::bigint IS NOT NULL AND l.seq = $3::bigint) OR ($4::uuid IS NOT NULL AND l.id = $4::uuid))
     RETURNING c.id`,
    [eventId, devicePk, scan.seq, scan.scanId, new Date(e.at), e.note, e.deviceId, e.staffId],
  );
  return rows[0]?.id ?? null;
}

/** Puts quarantined scans in the organisers' review inbox (conflicts with reason device_revoked). */
export async function openQuarantineConflicts(
  tx: Sql,
  eventId: string,
  scans: Array<{ ticketId: string; scanId: string }>,
  at: number,
): Promise<string[]> {
  if (scans.length === 0) return [];
  const rows = await tx.query<{ id: string }>(
    `INSERT INTO conflicts (event_id, ticket_id, loser_scan_id, reason, created_at, updated_at)
     SELECT $1, u.ticket_id, u.scan_id, 'device_revoked', $4, $4 FROM unnest($2::uuid[], $3::uuid[]) AS u(ticket_id, scan_id)
     ON CONFLICT (event_id, loser_scan_id) DO UPDATE SET reason = 'device_revoked', winner_scan_id = NULL, status = 'open', updated_at = $4, tx = pg_current_xact_id()
     RETURNING id`,
    [eventId, scans.map((s) => s.ticketId), scans.map((s) => s.scanId), new Date(at)],
  );
  return rows.map((r) => r.id);
}

/** Losing or quarantined scans accepted as admissions of record, in one statement (a resolution as legitimate). */
export async function reinstateScans(
  tx: Sql,
  eventId: string,
  scans: ReadonlyArray<{ scanId: string; forced: boolean }>,
): Promise<void> {
  if (scans.length === 0) return;
  await tx.query(
    `UPDATE scans s SET record_status = 'admitted', forced = s.forced OR x.forced, revision = s.revision + 1, tx = pg_current_xact_id()
     FROM unnest($2::uuid[], $3::boolean[]) AS x(id, forced) WHERE s.event_id = $1 AND s.id = x.id`,
    [eventId, scans.map((s) => s.scanId), scans.map((s) => s.forced)],
  );
}
