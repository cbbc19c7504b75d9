import type { Direction, ScanResult, TicketScanState, VerdictReason } from '@entrada/core';
import type { Sql } from '../db/database.ts';
import { iso, ms } from './rows.ts';
import { TICKET_COLUMNS, toTicket, type RawTicket, type TicketRecord } from './tickets.ts';

export interface ScanRecordInput {
  eventId: string;
  scanId: string;
  ticketId: string | null;
  codeDigest: Buffer | null;
  result: ScanResult;
  reason: VerdictReason;
  admits: boolean;
  direction: Direction;
  devicePk: string;
  deviceId: string;
  gateId: string | null;
  sessionId: string | null;
  scannedAt: number;
  source: 'online' | 'offline';
  /** The staff member the device says is logged in: stored only if staff of the event, else flagged (migration 018). */
  staffId: string | null;
}

export type GuardedWrite =
  | { kind: 'applied'; version: number }
  /** Someone else changed the ticket first: decide again on `current`. */
  | { kind: 'stale'; current: TicketRecord }
  /** A scan with this id was already recorded (a retried request). */
  | { kind: 'replay' }
  /** The scan names a scan session that is no longer active: nothing was written. */
  | { kind: 'session_ended' };

async function currentTicket(sql: Sql, eventId: string, ticketId: string): Promise<TicketRecord> {
  const [row] = await sql.query<RawTicket>(
    `SELECT ${TICKET_COLUMNS} FROM tickets t WHERE t.event_id = $1 AND t.id = $2`,
    [eventId, ticketId],
    { name: 'ticket_by_id' },
  );
  if (!row) throw new Error('ticket vanished during scan');
  return toTicket(row);
}

/** Instants go as ISO text: the pg driver formats a Date field by field in the local zone (~1 µs each, three per admission). */
function scanParams(s: ScanRecordInput): unknown[] {
  return [
    s.eventId,
    s.scanId,
    s.ticketId,
    s.codeDigest,
    s.result,
    s.reason,
    s.direction,
    s.devicePk,
    s.deviceId,
    s.gateId,
    s.sessionId,
    iso(s.scannedAt),
    s.source,
  ];
}
const SCAN_INSERT_COLUMNS = `event_id, id, ticket_id, code_digest, result, reason, direction, device_pk, device_id, gate_id, session_id, scanned_at, source, admits, record_status`;

/**
 * The online admission guard, in one statement and one round trip: the ticket's
 * new state is written only if its version is still the one the verdict was
 * decided on (compare-and-set), and the scan is recorded with it (see
 * migration 003). Any number of instances can race; at most one wins each
 * version. Only a stale version costs a second round trip, to read the row.
 */
export async function admitIfUnchanged(
  sql: Sql,
  expectedVersion: number,
  next: TicketScanState,
  s: ScanRecordInput,
  clientScanId: boolean,
): Promise<GuardedWrite> {
  const [row] = await sql.query<{ applied_version: number | null; existing: string | null; session_ended: boolean }>(
    `SELECT applied_version, existing, session_ended FROM entrada_admit_scan($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)`,
    [
      ...scanParams(s),
      next.entries,
      iso(next.first?.at),
      next.first?.deviceId ?? null,
      next.first?.gateId ?? null,
      iso(next.last?.at),
      next.last?.direction ?? null,
      next.last?.deviceId ?? null,
      next.last?.gateId ?? null,
      expectedVersion,
      clientScanId,
      s.staffId,
    ],
    { name: 'scan_admit' },
  );
  if (row?.existing != null) return { kind: 'replay' };
  if (row?.session_ended) return { kind: 'session_ended' };
  if (row?.applied_version != null) return { kind: 'applied', version: row.applied_version };
  return { kind: 'stale', current: await currentTicket(sql, s.eventId, s.ticketId!) };
}

/**
 * CONTROL EXPERIMENT ONLY: the same write without the version check, as a
 * naive implementation would do it. The concurrency tests use it to prove the
 * race is real before proving the guard closes it. Never wired in production.
 */
export async function admitWithoutGuard(sql: Sql, next: TicketScanState, s: ScanRecordInput): Promise<GuardedWrite> {
  const [row] = await sql.query<{ version: number }>(
    `WITH upd AS (
       UPDATE tickets SET entries = $14, first_at = $15, first_device_id = $16, first_gate_id = $17,
         last_at = $18, last_direction = $19, last_device_id = $20, last_gate_id = $21, version = version + 1
       WHERE event_id = $1 AND id = $3 RETURNING version
     ), ins AS (
       INSERT INTO scans (${SCAN_INSERT_COLUMNS})
       SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, true, 'admitted' FROM upd
     )
     SELECT version FROM upd`,
    [
      ...scanParams(s),
      next.entries,
      next.first ? new Date(next.first.at) : null,
      next.first?.deviceId ?? null,
      next.first?.gateId ?? null,
      next.last ? new Date(next.last.at) : null,
      next.last?.direction ?? null,
      next.last?.deviceId ?? null,
      next.last?.gateId ?? null,
    ],
  );
  return { kind: 'applied', version: row!.version };
}

/** Records a rejected scan, guarded by the same version check so a refusal is never based on stale state. */
export async function rejectIfUnchanged(
  sql: Sql,
  expectedVersion: number,
  s: ScanRecordInput,
  clientScanId: boolean,
): Promise<GuardedWrite> {
  const [row] = await sql.query<{ recorded: boolean; existing: string | null; session_ended: boolean }>(
    `SELECT recorded, existing, session_ended FROM entrada_reject_scan($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
    [...scanParams(s), expectedVersion, clientScanId, s.staffId],
    { name: 'scan_reject' },
  );
  if (row?.existing != null) return { kind: 'replay' };
  if (row?.session_ended) return { kind: 'session_ended' };
  if (row?.recorded) return { kind: 'applied', version: expectedVersion };
  return { kind: 'stale', current: await currentTicket(sql, s.eventId, s.ticketId!) };
}

/**
 * Records a scan that matched no ticket (unknown, malformed or forged code),
 * if its scan session (when it names one) is still active; in one statement.
 * 'replay': its id is already recorded.
 */
export async function recordUnmatchedScan(
  sql: Sql,
  s: ScanRecordInput,
): Promise<'recorded' | 'replay' | 'session_ended'> {
  const [row] = await sql.query<{ live: boolean; recorded: boolean }>(
    `WITH live AS (
       SELECT $11::uuid IS NULL OR EXISTS (SELECT 1 FROM scan_sessions ss WHERE ss.event_id = $1 AND ss.id = $11 AND ss.status = 'active') AS live
     ), ins AS (
       INSERT INTO scans (${SCAN_INSERT_COLUMNS}, staff_id, flags)
       SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, false, 'rejected', st.staff_id, st.flags
       FROM live, entrada_scan_staff($1, $14::uuid) st WHERE live.live
       ON CONFLICT DO NOTHING RETURNING id
     )
     SELECT live.live, EXISTS (SELECT 1 FROM ins) AS recorded FROM live`,
    [...scanParams(s), s.staffId],
    { name: 'scan_unmatched' },
  );
  return row!.recorded ? 'recorded' : row!.live ? 'replay' : 'session_ended';
}

export interface StoredScan {
  id: string;
  ticketId: string | null;
  result: ScanResult;
  reason: VerdictReason;
  admits: boolean;
  direction: Direction;
  deviceId: string;
  gateId: string | null;
  sessionId: string | null;
  scannedAt: number;
  receivedAt: number;
  source: 'online' | 'offline';
}
interface RawScan {
  id: string;
  ticket_id: string | null;
  result: ScanResult;
  reason: VerdictReason;
  admits: boolean;
  direction: Direction;
  device_id: string;
  gate_id: string | null;
  session_id: string | null;
  scanned_at: Date;
  received_at: Date;
  source: 'online' | 'offline';
}
const SCAN_COLUMNS = `id, ticket_id, result, reason, admits, direction, device_id, gate_id, session_id, scanned_at, received_at, source`;
function toScan(r: RawScan): StoredScan {
  return {
    id: r.id,
    ticketId: r.ticket_id,
    result: r.result,
    reason: r.reason,
    admits: r.admits,
    direction: r.direction,
    deviceId: r.device_id,
    gateId: r.gate_id,
    sessionId: r.session_id,
    scannedAt: ms(r.scanned_at)!,
    receivedAt: ms(r.received_at)!,
    source: r.source,
  };
}

/** A stored scan with what a retry of it must match: its device and its code's keyed digest. */
export interface RetriedScan extends StoredScan {
  devicePk: string;
  codeDigest: Buffer | null;
}

/** The scan with this id — or the offline copy of the physical scan a client identified by it. */
export async function getScan(sql: Sql, eventId: string, scanId: string): Promise<RetriedScan | null> {
  const [row] = await sql.query<RawScan & { device_pk: string; code_digest: Uint8Array | null }>(
    `SELECT ${SCAN_COLUMNS}, device_pk, code_digest FROM scans WHERE event_id = $1 AND id = $2`,
    [eventId, scanId],
  );
  return row
    ? { ...toScan(row), devicePk: row.device_pk, codeDigest: row.code_digest ? Buffer.from(row.code_digest) : null }
    : null;
}

/** A scan in a ticket's history: the scanning device's current name, and the staff member logged in on it. */
export interface TicketScan extends StoredScan {
  deviceName: string | null;
  staffId: string | null;
  /** The staff member's current name; null when the scan names none or the staff member was deleted since. */
  staffName: string | null;
}

/** A ticket's scans in scan-time order, with device and staff names joined in the same statement. */
export async function ticketScans(sql: Sql, eventId: string, ticketId: string, limit = 500): Promise<TicketScan[]> {
  const rows = await sql.query<
    RawScan & { device_name: string | null; staff_id: string | null; staff_name: string | null }
  >(
    `SELECT ${SCAN_COLUMNS.split(', ')
      .map((c) => `s.${c}`)
      .join(', ')}, d.name AS device_name, s.staff_id, es.name AS staff_name
     FROM scans s
     LEFT JOIN devices d ON d.id = s.device_pk
     LEFT JOIN event_staff es ON es.event_id = s.event_id AND es.id = s.staff_id
     WHERE s.event_id = $1 AND s.ticket_id = $2 ORDER BY s.scanned_at, s.received_at, s.id LIMIT $3`,
    [eventId, ticketId, limit],
  );
  return rows.map((r) => ({ ...toScan(r), deviceName: r.device_name, staffId: r.staff_id, staffName: r.staff_name }));
}

export async function sessionScanCount(sql: Sql, eventId: string, sessionId: string): Promise<number> {
  const [row] = await sql.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM scans WHERE event_id = $1 AND session_id = $2`,
    [eventId, sessionId],
  );
  return row?.n ?? 0;
}

export interface OccupancyCell {
  gateId: string | null;
  typeId: string;
  inside: number;
  admitted: number;
}

/** Inside/admitted counts grouped by (gate, ticket type): small, and enough to derive zones in the service. */
export async function occupancyCells(
  sql: Sql,
  eventId: string,
): Promise<{ byLastGate: OccupancyCell[]; byFirstGate: OccupancyCell[] }> {
  const [inside, admitted] = await Promise.all([
    sql.query<{ gate_id: string | null; type_id: string; n: number }>(
      `SELECT last_gate_id AS gate_id, ticket_type_id AS type_id, count(*)::int AS n FROM tickets
       WHERE event_id = $1 AND last_direction = 'entry' GROUP BY 1, 2`,
      [eventId],
    ),
    sql.query<{ gate_id: string | null; type_id: string; n: number }>(
      `SELECT first_gate_id AS gate_id, ticket_type_id AS type_id, count(*)::int AS n FROM tickets
       WHERE event_id = $1 AND first_at IS NOT NULL GROUP BY 1, 2`,
      [eventId],
    ),
  ]);
  return {
    byLastGate: inside.map((r) => ({ gateId: r.gate_id, typeId: r.type_id, inside: r.n, admitted: 0 })),
    byFirstGate: admitted.map((r) => ({ gateId: r.gate_id, typeId: r.type_id, inside: 0, admitted: r.n })),
  };
}
