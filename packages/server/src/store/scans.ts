import type { Direction, ScanResult, TicketScanState, VerdictReason } from '@entrada/core';
import type { Sql } from '../db/database.ts';
import { ms } from './rows.ts';
import { TICKET_COLUMNS, toTicket, type RawTicket, type TicketRecord } from './tickets.ts';

export interface ScanRecordInput {
  eventId: string; scanId: string; ticketId: string | null; codeDigest: Buffer | null;
  result: ScanResult; reason: VerdictReason; admits: boolean; direction: Direction;
  devicePk: string; deviceId: string; gateId: string | null; sessionId: string | null;
  scannedAt: number; source: 'online' | 'offline';
}

export type GuardedWrite =
  | { kind: 'applied'; version: number }
  /** Someone else changed the ticket first: decide again on `current`. */
  | { kind: 'stale'; current: TicketRecord }
  /** A scan with this id was already recorded (a retried request). */
  | { kind: 'replay' };

interface GuardRow extends RawTicket { applied_version: number | null; recorded: boolean | null; existing: string | null }

function guardOutcome(row: GuardRow | undefined, applied: boolean): GuardedWrite {
  if (!row) throw new Error('ticket vanished during scan');
  if (row.existing !== null) return { kind: 'replay' };
  if (applied) return { kind: 'applied', version: row.applied_version ?? row.version };
  return { kind: 'stale', current: toTicket(row) };
}

function scanParams(s: ScanRecordInput): unknown[] {
  return [s.eventId, s.scanId, s.ticketId, s.codeDigest, s.result, s.reason, s.direction, s.devicePk, s.deviceId,
    s.gateId, s.sessionId, new Date(s.scannedAt), s.source];
}
const SCAN_INSERT_COLUMNS = `event_id, id, ticket_id, code_digest, result, reason, direction, device_pk, device_id, gate_id, session_id, scanned_at, source, admits, record_status`;

/**
 * The online admission guard, in one statement and one round trip: the ticket's
 * new state is written only if its version is still the one the verdict was
 * decided on (compare-and-set), and the scan is recorded in the same statement.
 * Any number of instances can race; at most one wins each version.
 */
export async function admitIfUnchanged(sql: Sql, expectedVersion: number, next: TicketScanState, s: ScanRecordInput, clientScanId: boolean): Promise<GuardedWrite> {
  // A server-generated scan id cannot exist yet: only a client-supplied one (a retried request) needs the look-up.
  const replayCheck = clientScanId ? 'AND NOT EXISTS (SELECT 1 FROM scans WHERE event_id = $1 AND id = $2)' : '';
  const existing = clientScanId ? '(SELECT s.result FROM scans s WHERE s.event_id = $1 AND s.id = $2)' : 'NULL::text';
  const [row] = await sql.query<GuardRow>(
    `WITH upd AS (
       UPDATE tickets SET entries = $14, first_at = $15, first_device_id = $16, first_gate_id = $17,
         last_at = $18, last_direction = $19, last_device_id = $20, last_gate_id = $21, version = version + 1
       WHERE event_id = $1 AND id = $3 AND version = $22 ${replayCheck}
       RETURNING version
     ), ins AS (
       INSERT INTO scans (${SCAN_INSERT_COLUMNS})
       SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, true, 'admitted' FROM upd
       RETURNING true AS recorded
     )
     SELECT (SELECT version FROM upd) AS applied_version, (SELECT recorded FROM ins) AS recorded, ${existing} AS existing, ${TICKET_COLUMNS}
     FROM tickets t WHERE t.event_id = $1 AND t.id = $3`,
    [...scanParams(s), next.entries,
      next.first ? new Date(next.first.at) : null, next.first?.deviceId ?? null, next.first?.gateId ?? null,
      next.last ? new Date(next.last.at) : null, next.last?.direction ?? null, next.last?.deviceId ?? null, next.last?.gateId ?? null,
      expectedVersion],
    { name: clientScanId ? 'scan_admit_client_id' : 'scan_admit' },
  );
  return guardOutcome(row, row?.applied_version != null);
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
    [...scanParams(s), next.entries,
      next.first ? new Date(next.first.at) : null, next.first?.deviceId ?? null, next.first?.gateId ?? null,
      next.last ? new Date(next.last.at) : null, next.last?.direction ?? null, next.last?.deviceId ?? null, next.last?.gateId ?? null],
  );
  return { kind: 'applied', version: row!.version };
}

/** Records a rejected scan, guarded by the same version check so a refusal is never based on stale state. */
export async function rejectIfUnchanged(sql: Sql, expectedVersion: number, s: ScanRecordInput, clientScanId: boolean): Promise<GuardedWrite> {
  const existing = clientScanId ? '(SELECT s.result FROM scans s WHERE s.event_id = $1 AND s.id = $2)' : 'NULL::text';
  const [row] = await sql.query<GuardRow>(
    `WITH ins AS (
       INSERT INTO scans (${SCAN_INSERT_COLUMNS})
       SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, false, 'rejected'
       FROM tickets WHERE event_id = $1 AND id = $3 AND version = $14
       ON CONFLICT (event_id, id) DO NOTHING
       RETURNING true AS recorded
     )
     SELECT NULL::int AS applied_version, (SELECT recorded FROM ins) AS recorded, ${existing} AS existing, ${TICKET_COLUMNS}
     FROM tickets t WHERE t.event_id = $1 AND t.id = $3`,
    [...scanParams(s), expectedVersion],
    { name: clientScanId ? 'scan_reject_client_id' : 'scan_reject' },
  );
  return guardOutcome(row, row?.recorded === true);
}

/** Records a scan that matched no ticket (unknown, malformed or forged code). */
export async function recordUnmatchedScan(sql: Sql, s: ScanRecordInput): Promise<boolean> {
  const rows = await sql.query(
    `INSERT INTO scans (${SCAN_INSERT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, false, 'rejected')
     ON CONFLICT (event_id, id) DO NOTHING RETURNING id`,
    scanParams(s), { name: 'scan_unmatched' });
  return rows.length === 1;
}

export interface StoredScan {
  id: string; ticketId: string | null; result: ScanResult; reason: VerdictReason; admits: boolean; direction: Direction;
  deviceId: string; gateId: string | null; sessionId: string | null; scannedAt: number; receivedAt: number; source: 'online' | 'offline';
}
interface RawScan {
  id: string; ticket_id: string | null; result: ScanResult; reason: VerdictReason; admits: boolean; direction: Direction;
  device_id: string; gate_id: string | null; session_id: string | null; scanned_at: Date; received_at: Date; source: 'online' | 'offline';
}
const SCAN_COLUMNS = `id, ticket_id, result, reason, admits, direction, device_id, gate_id, session_id, scanned_at, received_at, source`;
function toScan(r: RawScan): StoredScan {
  return {
    id: r.id, ticketId: r.ticket_id, result: r.result, reason: r.reason, admits: r.admits, direction: r.direction, deviceId: r.device_id,
    gateId: r.gate_id, sessionId: r.session_id, scannedAt: ms(r.scanned_at)!, receivedAt: ms(r.received_at)!, source: r.source,
  };
}

export async function getScan(sql: Sql, eventId: string, scanId: string): Promise<StoredScan | null> {
  const [row] = await sql.query<RawScan>(`SELECT ${SCAN_COLUMNS} FROM scans WHERE event_id = $1 AND id = $2`, [eventId, scanId]);
  return row ? toScan(row) : null;
}

export async function ticketScans(sql: Sql, eventId: string, ticketId: string, limit = 500): Promise<StoredScan[]> {
  const rows = await sql.query<RawScan>(
    `SELECT ${SCAN_COLUMNS} FROM scans WHERE event_id = $1 AND ticket_id = $2 ORDER BY scanned_at, received_at, id LIMIT $3`, [eventId, ticketId, limit]);
  return rows.map(toScan);
}

export async function sessionScanCount(sql: Sql, eventId: string, sessionId: string): Promise<number> {
  const [row] = await sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM scans WHERE event_id = $1 AND session_id = $2`, [eventId, sessionId]);
  return row?.n ?? 0;
}

export interface OccupancyCell { gateId: string | null; typeId: string; inside: number; admitted: number }

/** Inside/admitted counts grouped by (gate, ticket type): small, and enough to derive zones in the service. */
export async function occupancyCells(sql: Sql, eventId: string): Promise<{ byLastGate: OccupancyCell[]; byFirstGate: OccupancyCell[] }> {
  const [inside, admitted] = await Promise.all([
    sql.query<{ gate_id: string | null; type_id: string; n: number }>(
      `SELECT last_gate_id AS gate_id, ticket_type_id AS type_id, count(*)::int AS n FROM tickets
       WHERE event_id = $1 AND last_direction = 'entry' GROUP BY 1, 2`, [eventId]),
    sql.query<{ gate_id: string | null; type_id: string; n: number }>(
      `SELECT first_gate_id AS gate_id, ticket_type_id AS type_id, count(*)::int AS n FROM tickets
       WHERE event_id = $1 AND first_at IS NOT NULL GROUP BY 1, 2`, [eventId]),
  ]);
  return {
    byLastGate: inside.map((r) => ({ gateId: r.gate_id, typeId: r.type_id, inside: r.n, admitted: 0 })),
    byFirstGate: admitted.map((r) => ({ gateId: r.gate_id, typeId: r.type_id, inside: 0, admitted: r.n })),
  };
}
