import type { Direction, TicketScanState, VerdictReason } from '@entrada/core';
import type { Sql } from '../db/database.ts';
import { COPY_NULL, copyBoolean, copyByteaHex, copyNumber, copyText, copyTimestamp, copyWords } from './copy-text.ts';
import { booleanArray, numberArray, textArray } from './pg-arrays.ts';
import { ms } from './rows.ts';
import { TICKET_COLUMNS, toTicket, type RawTicket, type TicketRecord } from './tickets.ts';

/** Every statement here handles a whole batch: none runs once per scan. */

/** Inclusive seq ranges: seqs 1, 2 and 5 received → missing [[3, 4]], acked through 2. */
export type SeqRange = [number, number];

export type RecordStatus = 'admitted' | 'conflict' | 'rejected' | 'failed' | 'quarantined';

/** A scan that admitted someone at the gate (online or offline): a candidate admission of record. */
export interface CandidateScan {
  id: string;
  ticketId: string;
  deviceId: string;
  seq: number | null;
  at: number;
  direction: Direction;
  gateId: string | null;
  forced: boolean;
  uncertaintyMs: number;
  recordStatus: RecordStatus;
  conflictReason: string | null;
  winnerScanId: string | null;
  ambiguous: boolean;
}

export interface ScanVerdictOfRecord {
  id: string;
  recordStatus: 'admitted' | 'conflict';
  conflictReason: VerdictReason | null;
  winnerScanId: string | null;
  ambiguous: boolean;
}

export interface DeviceLogRow {
  lastSeq: number; ackedThrough: number; missing: SeqRange[]; received: number; flags: string[]; flagReason: string | null;
  clockOffsetMs: number | null; syncs: number; syncFailures: number; lastSyncAt: number | null; lastSuccessAt: number | null;
  lastSyncSessionId: string | null;
}
interface RawDeviceLog {
  last_seq: number; acked_through: number; missing: SeqRange[] | string; received: number; flags: string[]; flag_reason: string | null;
  clock_offset_ms: number | null; syncs: number; sync_failures: number; last_sync_at: Date | null; last_success_at: Date | null;
  last_sync_session_id: string | null;
}
const LOG_COLUMNS = `last_seq::float8 AS last_seq, acked_through::float8 AS acked_through, missing, received::float8 AS received, flags, flag_reason,
  clock_offset_ms::float8 AS clock_offset_ms, syncs, sync_failures, last_sync_at, last_success_at, last_sync_session_id`;
function toLog(r: RawDeviceLog): DeviceLogRow {
  return {
    lastSeq: r.last_seq, ackedThrough: r.acked_through, missing: typeof r.missing === 'string' ? JSON.parse(r.missing) as SeqRange[] : r.missing,
    received: r.received, flags: r.flags, flagReason: r.flag_reason, clockOffsetMs: r.clock_offset_ms, syncs: r.syncs,
    syncFailures: r.sync_failures, lastSyncAt: ms(r.last_sync_at), lastSuccessAt: ms(r.last_success_at), lastSyncSessionId: r.last_sync_session_id,
  };
}

/**
 * Serialises uploads of one device at one event: the row lock is held until
 * commit. One statement: the upsert creates the row on a first sync and
 * otherwise locks the current one (a no-op update), returning it either way.
 */
export async function lockDeviceLog(tx: Sql, eventId: string, devicePk: string): Promise<DeviceLogRow> {
  const [row] = await tx.query<RawDeviceLog>(
    `INSERT INTO device_logs AS l (event_id, device_pk) VALUES ($1, $2)
     ON CONFLICT (event_id, device_pk) DO UPDATE SET syncs = l.syncs
     RETURNING ${LOG_COLUMNS}`, [eventId, devicePk], { name: 'sync_lock_device_log' });
  return toLog(row!);
}

export interface SessionCounts { uploaded: number; successful: number; failed: number; duplicates: number; conflicts: number }

/**
 * Saves the device's marks after an upload and closes its sync session, in
 * one statement (one round trip less while the upload holds its ticket locks).
 */
export async function saveDeviceLog(tx: Sql, eventId: string, devicePk: string, log: {
  lastSeq: number; ackedThrough: number; missing: SeqRange[]; addReceived: number; addImplausible: number;
  /** Flags this upload raises (added once each); flagReason, when given, replaces the stored one. */
  flags: string[]; flagReason: string | null;
  clockOffsetMs: number; at: number; success: boolean; sessionId: string; reportedLastSeq: number | null;
}, session: SessionCounts): Promise<void> {
  await tx.query(
    `WITH closed AS (
       UPDATE sync_sessions SET scans_uploaded = scans_uploaded + $14, scans_successful = scans_successful + $15, scans_failed = scans_failed + $16,
         scans_duplicate = scans_duplicate + $17, scans_conflict = scans_conflict + $18, status = 'completed', completed_at = $9
       WHERE event_id = $1 AND id = $12
       RETURNING 1),
     failure AS (
       INSERT INTO device_sync_failures (event_id, device_pk, at) SELECT $1, $2, $9 WHERE NOT $11
       RETURNING 1)
     UPDATE device_logs SET last_seq = $3, acked_through = $4, missing = $5::jsonb, received = received + $6,
       flags = CASE WHEN $7::text[] <@ flags THEN flags ELSE flags || ARRAY(SELECT f FROM unnest($7::text[]) f WHERE f <> ALL(flags)) END,
       flag_reason = coalesce($8, flag_reason), flagged_at = CASE WHEN cardinality($7::text[]) = 0 THEN flagged_at ELSE coalesce(flagged_at, $9) END,
       implausible_scans = implausible_scans + $19,
       clock_offset_ms = $10, clock_measured_at = $9, syncs = syncs + 1, sync_failures = sync_failures + CASE WHEN $11 THEN 0 ELSE 1 END,
       last_sync_at = $9, last_success_at = CASE WHEN $11 THEN $9 ELSE last_success_at END, last_sync_session_id = $12,
       reported_last_seq = coalesce($13, reported_last_seq),
       consecutive_failures = CASE WHEN $11 THEN 0 ELSE consecutive_failures + 1 END,
       -- When the oldest open gap opened (the sequence-gap alert waits before raising).
       missing_since = CASE WHEN $5::jsonb = '[]'::jsonb THEN NULL ELSE coalesce(missing_since, $9) END
     WHERE event_id = $1 AND device_pk = $2`,
    [eventId, devicePk, log.lastSeq, log.ackedThrough, JSON.stringify(log.missing), log.addReceived, textArray(log.flags), log.flagReason,
      new Date(log.at), log.clockOffsetMs, log.success, log.sessionId, log.reportedLastSeq,
      session.uploaded, session.successful, session.failed, session.duplicates, session.conflicts, log.addImplausible], { name: 'sync_save_device_log' });
}

/**
 * Flags a device at an event outside a sync (the online scan path), for the
 * organisers' offline health alerts: one upsert, the log row created if the
 * device never synced there.
 */
export async function flagDevice(sql: Sql, eventId: string, devicePk: string, flag: string, reason: string, at: number): Promise<void> {
  await sql.query(
    `INSERT INTO device_logs AS l (event_id, device_pk, flags, flag_reason, flagged_at) VALUES ($1, $2, ARRAY[$3::text], $4, $5)
     ON CONFLICT (event_id, device_pk) DO UPDATE SET flags = CASE WHEN $3::text = ANY(l.flags) THEN l.flags ELSE array_append(l.flags, $3::text) END,
       flag_reason = $4, flagged_at = coalesce(l.flagged_at, $5)`,
    [eventId, devicePk, flag, reason, new Date(at)]);
}

/** What reconciliation needs of a ticket (its other columns are not read on the sync path). */
export type LockedTicket = Pick<TicketRecord, 'id' | 'eventId' | 'typeId' | 'number' | 'status' | 'statusChangedAt' | 'state' | 'version'>;

/** The SET list that writes a ticket's scan state from an unnest row `u` (entries, first_*, last_*), and bumps its version. */
const TICKET_STATE_SET = `entries = u.entries, first_at = to_timestamp(u.first_at / 1000.0), first_device_id = u.first_device, first_gate_id = u.first_gate,
       last_at = to_timestamp(u.last_at / 1000.0), last_direction = u.last_direction, last_device_id = u.last_device, last_gate_id = u.last_gate,
       version = t.version + 1`;
/** The unnest column names TICKET_STATE_SET reads, after the id (and whatever else the statement puts first). */
const TICKET_STATE_COLUMNS = 'entries, first_at, first_device, first_gate, last_at, last_direction, last_device, last_gate';

/** The eight array literals for TICKET_STATE_COLUMNS, typed in that order as int, float8, text, uuid, float8, text, text, uuid. */
function ticketStateArrays(states: readonly TicketScanState[]): string[] {
  const f = <T>(fn: (s: TicketScanState) => T): T[] => states.map(fn);
  return [
    numberArray(f((s) => s.entries)), numberArray(f((s) => s.first?.at ?? null)), textArray(f((s) => s.first?.deviceId ?? null)),
    textArray(f((s) => s.first?.gateId ?? null)), numberArray(f((s) => s.last?.at ?? null)), textArray(f((s) => s.last?.direction ?? null)),
    textArray(f((s) => s.last?.deviceId ?? null)), textArray(f((s) => s.last?.gateId ?? null)),
  ];
}

/**
 * Writes new ticket states only where the row is still at the version they
 * were computed from (compare-and-set, as the online admission does), in one
 * statement and without reading the rows first. Returns the new versions of
 * the rows written; the others changed meanwhile and must be reconciled under
 * their locks. `guard` false is the race control experiment only.
 */
export async function compareAndSetTicketStates(tx: Sql, eventId: string, writes: Array<{ ticketId: string; expectedVersion: number; state: TicketScanState }>, guard = true): Promise<Map<string, number>> {
  if (writes.length === 0) return new Map();
  // Id order: concurrent uploads take the row locks in the same order.
  const w = [...writes].sort((a, b) => (a.ticketId < b.ticketId ? -1 : a.ticketId > b.ticketId ? 1 : 0));
  const rows = await tx.query<{ id: string; version: number }>(
    `UPDATE tickets t SET ${TICKET_STATE_SET}
     FROM unnest($2::uuid[], $3::int[], $4::int[], $5::float8[], $6::text[], $7::uuid[], $8::float8[], $9::text[], $10::text[], $11::uuid[])
       AS u(id, expected, ${TICKET_STATE_COLUMNS})
     WHERE t.event_id = $1 AND t.id = ANY($2::uuid[]) AND t.id = u.id${guard ? ' AND t.version = u.expected' : ''}
     RETURNING t.id, t.version`,
    [eventId, textArray(w.map((x) => x.ticketId)), numberArray(w.map((x) => x.expectedVersion)), ...ticketStateArrays(w.map((x) => x.state))],
    { name: guard ? 'sync_cas_tickets' : 'sync_cas_tickets_unguarded' });
  return new Map(rows.map((r) => [r.id, r.version]));
}

export async function lockTicketsById(tx: Sql, eventId: string, ids: string[], lock = true): Promise<TicketRecord[]> {
  if (ids.length === 0) return [];
  const rows = await tx.query<RawTicket>(
    `SELECT ${TICKET_COLUMNS} FROM tickets t WHERE t.event_id = $1 AND t.id = ANY($2::uuid[]) ORDER BY t.id ${lock ? 'FOR UPDATE' : ''}`, [eventId, ids]);
  return rows.map(toTicket);
}

export interface OfflineScanRow {
  id: string; seq: number; ticketId: string | null; digestHex: string | null; result: string; reason: string; admits: boolean;
  direction: Direction; gateId: string | null; scannedAt: number; localResult: string | null; payloadHashHex: string;
  chainLinkHex: string | null; flags: string[]; recordStatus: RecordStatus;
  /** Flagged implausible_time: stored without a bounded clock uncertainty (NULL, read back as unbounded). */
  implausibleTime: boolean;
  /** The scan_id of a timed-out online attempt of the same physical scan. */
  clientScanId: string | null;
}

const SCAN_COPY_COLUMNS = [
  'event_id', 'id', 'seq', 'ticket_id', 'code_digest', 'result', 'reason', 'admits', 'direction', 'device_pk', 'device_id', 'gate_id',
  'scanned_at', 'received_at', 'source', 'local_result', 'payload_hash', 'chain_link', 'integrity', 'clock_uncertainty_ms', 'flags',
  'record_status', 'sync_session_id', 'client_scan_id',
] as const;

/**
 * Inserts the batch's scans, all new: the caller holds the device log's lock,
 * under which no seq above the log's last_seq is stored, and has read back
 * every seq of the batch at or below it. A concurrent online request of the
 * same physical scan can still violate scans_physical_scan: the transaction
 * then fails and the upload is retried. One COPY (see copy-text.ts: a quarter
 * less PostgreSQL CPU per row than an INSERT of unnested arrays); what is the
 * same for the whole upload is encoded once. Returns the stored seqs.
 */
export async function insertOfflineScans(tx: Sql, ctx: {
  eventId: string; devicePk: string; deviceId: string; sessionId: string; receivedAt: number;
  integrity: 'chain' | 'unsigned' | 'failed'; uncertaintyMs: number;
}, rows: OfflineScanRow[]): Promise<Set<number>> {
  if (rows.length === 0) return new Set();
  const eventId = copyText(ctx.eventId);
  // device_pk, device_id … after gate_id; received_at, source; integrity and uncertainty; session.
  const device = `${copyText(ctx.devicePk)}\t${copyText(ctx.deviceId)}`;
  const received = `${copyTimestamp(ctx.receivedAt)}\toffline`;
  const integrity = `${copyText(ctx.integrity)}\t${copyNumber(ctx.uncertaintyMs)}`;
  const integrityTimeUnknown = `${copyText(ctx.integrity)}\t${COPY_NULL}`;
  const session = copyText(ctx.sessionId);
  let out = '';
  for (const r of rows) {
    out += `${eventId}\t${copyText(r.id)}\t${copyNumber(r.seq)}\t${copyText(r.ticketId)}\t${copyByteaHex(r.digestHex)}\t${copyText(r.result)}\t`
      + `${copyText(r.reason)}\t${copyBoolean(r.admits)}\t${copyText(r.direction)}\t${device}\t${copyText(r.gateId)}\t`
      + `${copyTimestamp(r.scannedAt)}\t${received}\t${copyText(r.localResult)}\t${copyByteaHex(r.payloadHashHex)}\t${copyByteaHex(r.chainLinkHex)}\t`
      + `${r.implausibleTime ? integrityTimeUnknown : integrity}\t${copyWords(r.flags)}\t${copyText(r.recordStatus)}\t${session}\t${copyText(r.clientScanId)}\n`;
  }
  await tx.copyRows('scans', SCAN_COPY_COLUMNS, out);
  return new Set(rows.map((r) => r.seq));
}

export interface StoredOfflineScan {
  id: string; seq: number; ticketId: string | null; payloadHashHex: string | null; chainLinkHex: string | null; result: string;
  recordStatus: RecordStatus; conflictReason: string | null; winnerScanId: string | null; scannedAt: number;
}

/** Stored scans of the device at these seqs (re-uploads, and chain neighbours of a batch). */
export async function storedScansBySeq(sql: Sql, eventId: string, devicePk: string, seqs: number[]): Promise<Map<number, StoredOfflineScan>> {
  if (seqs.length === 0) return new Map();
  const rows = await sql.query<{
    id: string; seq: number; ticket_id: string | null; payload_hash: string | null; chain_link: string | null; result: string;
    record_status: RecordStatus; conflict_reason: string | null; winner_scan_id: string | null; scanned_at: Date;
  }>(
    `SELECT id, seq::float8 AS seq, ticket_id, encode(payload_hash, 'hex') AS payload_hash, encode(chain_link, 'hex') AS chain_link, result,
       record_status, conflict_reason, winner_scan_id, scanned_at
     FROM scans WHERE event_id = $1 AND device_pk = $2 AND seq = ANY($3::bigint[])`, [eventId, devicePk, seqs], { name: 'sync_stored_seqs' });
  return new Map(rows.map((r) => [r.seq, {
    id: r.id, seq: r.seq, ticketId: r.ticket_id, payloadHashHex: r.payload_hash, chainLinkHex: r.chain_link, result: r.result,
    recordStatus: r.record_status, conflictReason: r.conflict_reason, winnerScanId: r.winner_scan_id, scannedAt: ms(r.scanned_at)!,
  }]));
}

/** All candidate admissions of these tickets, from every device, online and offline. */
export async function candidateScans(sql: Sql, eventId: string, ticketIds: string[]): Promise<CandidateScan[]> {
  if (ticketIds.length === 0) return [];
  const rows = await sql.query<{
    id: string; ticket_id: string; device_id: string; seq: number | null; scanned_at: Date; direction: Direction; gate_id: string | null;
    forced: boolean; clock_uncertainty_ms: number | null; record_status: RecordStatus; conflict_reason: string | null; winner_scan_id: string | null; ambiguous: boolean;
  }>(
    `SELECT id, ticket_id, device_id, seq::float8 AS seq, scanned_at, direction, gate_id, forced, clock_uncertainty_ms, record_status,
       conflict_reason, winner_scan_id, ambiguous
     FROM scans WHERE event_id = $1 AND ticket_id = ANY($2::uuid[]) AND admits AND record_status IN ('admitted', 'conflict')`,
    [eventId, textArray(ticketIds)], { name: 'sync_candidates' });
  return rows.map((r) => ({
    id: r.id, ticketId: r.ticket_id, deviceId: r.device_id, seq: r.seq, at: ms(r.scanned_at)!, direction: r.direction, gateId: r.gate_id,
    // NULL: a scan whose time is implausible (migration 007), uncertain without bound.
    forced: r.forced, uncertaintyMs: r.clock_uncertainty_ms ?? Infinity, recordStatus: r.record_status, conflictReason: r.conflict_reason,
    winnerScanId: r.winner_scan_id, ambiguous: r.ambiguous,
  }));
}

export interface Reconciliation {
  /** Changed verdicts of record; a scan that already existed gets a new revision (the download feed shows it again). */
  verdicts: Array<ScanVerdictOfRecord & { isNew: boolean }>;
  /** New folded states of tickets. */
  states: Array<{ ticketId: string; state: TicketScanState }>;
  /** Every losing scan now: each gets an open (or already resolved) conflict naming its current winner. */
  conflicts: Array<ScanVerdictOfRecord & { ticketId: string }>;
  /** Scans that no longer lose: their open conflicts become void (found by the conflicts' unique key, not by scanning the ticket's). */
  voidLosers: string[];
  at: number;
}

/**
 * Writes what a replay decided, in one statement: the scans' verdicts, the
 * conflicts (upserted, or voided when their scan no longer loses; the two
 * touch disjoint rows) and the tickets' states. The upload holds its ticket
 * locks meanwhile, so every round trip saved here shortens the wait of the
 * uploads that share a ticket. Returns the tickets' new versions.
 */
export async function applyReconciliation(tx: Sql, eventId: string, w: Reconciliation): Promise<Map<string, number>> {
  const { verdicts: v, states, conflicts: c } = w;
  if (v.length === 0 && states.length === 0 && c.length === 0 && w.voidLosers.length === 0) return new Map();
  const rows = await tx.query<{ id: string; version: number }>(
    `WITH verdicts AS (
       UPDATE scans s SET record_status = u.status, conflict_reason = u.reason, winner_scan_id = u.winner, ambiguous = u.ambiguous,
         revision = s.revision + CASE WHEN u.is_new THEN 0 ELSE 1 END, tx = pg_current_xact_id()
       FROM unnest($2::uuid[], $3::text[], $4::text[], $5::uuid[], $6::boolean[], $7::boolean[]) AS u(id, status, reason, winner, ambiguous, is_new)
       WHERE s.event_id = $1 AND s.id = ANY($2::uuid[]) AND s.id = u.id
       RETURNING 1
     ), upserted AS (
       INSERT INTO conflicts (event_id, ticket_id, loser_scan_id, winner_scan_id, reason, ambiguous, created_at, updated_at)
       SELECT $1, u.ticket_id, u.loser, u.winner, u.reason, u.ambiguous, $8, $8
       FROM unnest($9::uuid[], $10::uuid[], $11::uuid[], $12::text[], $13::boolean[]) AS u(ticket_id, loser, winner, reason, ambiguous)
       ON CONFLICT (event_id, loser_scan_id) DO UPDATE SET winner_scan_id = EXCLUDED.winner_scan_id, reason = EXCLUDED.reason,
         ambiguous = EXCLUDED.ambiguous, status = CASE WHEN conflicts.status = 'void' THEN 'open' ELSE conflicts.status END,
         updated_at = EXCLUDED.updated_at, tx = pg_current_xact_id()
       WHERE conflicts.winner_scan_id IS DISTINCT FROM EXCLUDED.winner_scan_id OR conflicts.reason <> EXCLUDED.reason
         OR conflicts.ambiguous <> EXCLUDED.ambiguous OR conflicts.status = 'void'
       RETURNING 1
     ), voided AS (${w.voidLosers.length === 0
      // Usually nothing to void. Planned on stale statistics (a burst's new conflicts), even an empty list was filtered
      // row by row through the status index: 2,000 open conflicts read per upload by the end of the benchmark.
      ? 'SELECT $14::uuid[] WHERE false'
      : `UPDATE conflicts SET status = 'void', updated_at = $8, tx = pg_current_xact_id()
       WHERE event_id = $1 AND loser_scan_id = ANY($14::uuid[]) AND status = 'open' AND reason <> 'device_revoked'
       RETURNING 1`}
     )
     UPDATE tickets t SET ${TICKET_STATE_SET}
     FROM unnest($15::uuid[], $16::int[], $17::float8[], $18::text[], $19::uuid[], $20::float8[], $21::text[], $22::text[], $23::uuid[])
       AS u(id, ${TICKET_STATE_COLUMNS})
     WHERE t.event_id = $1 AND t.id = ANY($15::uuid[]) AND t.id = u.id
     RETURNING t.id, t.version`,
    [eventId,
      textArray(v.map((x) => x.id)), textArray(v.map((x) => x.recordStatus)), textArray(v.map((x) => x.conflictReason)),
      textArray(v.map((x) => x.winnerScanId)), booleanArray(v.map((x) => x.ambiguous)), booleanArray(v.map((x) => x.isNew)),
      new Date(w.at),
      textArray(c.map((x) => x.ticketId)), textArray(c.map((x) => x.id)), textArray(c.map((x) => x.winnerScanId)), textArray(c.map((x) => x.conflictReason)),
      booleanArray(c.map((x) => x.ambiguous)),
      textArray(w.voidLosers),
      textArray(states.map((s) => s.ticketId)), ...ticketStateArrays(states.map((s) => s.state))],
    { name: w.voidLosers.length === 0 ? 'sync_apply' : 'sync_apply_void' });
  return new Map(rows.map((r) => [r.id, r.version]));
}

/** Opens (or reopens, on a retry with the same token) the sync session first, so scans can reference it. */
export async function openSyncSession(tx: Sql, s: { eventId: string; devicePk: string; token: string; at: number }): Promise<string> {
  const [row] = await tx.query<{ id: string }>(
    `INSERT INTO sync_sessions (event_id, device_pk, session_token, attempts, status, started_at) VALUES ($1, $2, $3, 1, 'in_progress', $4)
     ON CONFLICT (event_id, device_pk, session_token) DO UPDATE SET attempts = sync_sessions.attempts + 1, status = 'in_progress'
     RETURNING id`,
    [s.eventId, s.devicePk, s.token, new Date(s.at)], { name: 'sync_open_session' });
  return row!.id;
}

/** A failed upload still counts in the device's sync failure rate (best effort, outside the failed transaction). */
export async function recordSyncFailure(sql: Sql, eventId: string, devicePk: string, at: number): Promise<void> {
  await sql.query(
    `WITH failure AS (INSERT INTO device_sync_failures (event_id, device_pk, at) VALUES ($1, $2, $3) RETURNING 1)
     INSERT INTO device_logs (event_id, device_pk, syncs, sync_failures, consecutive_failures, last_sync_at) VALUES ($1, $2, 1, 1, 1, $3)
     ON CONFLICT (event_id, device_pk) DO UPDATE SET syncs = device_logs.syncs + 1, sync_failures = device_logs.sync_failures + 1,
       consecutive_failures = device_logs.consecutive_failures + 1, last_sync_at = $3`,
    [eventId, devicePk, new Date(at)]);
}

/** Quarantines a revoked device's admissions from `from` on; returns them per ticket. */
export async function quarantineDeviceScans(tx: Sql, devicePk: string, from: number): Promise<Array<{ eventId: string; ticketId: string; scanId: string }>> {
  const rows = await tx.query<{ event_id: string; ticket_id: string; id: string }>(
    `UPDATE scans SET record_status = 'quarantined', revision = revision + 1, tx = pg_current_xact_id()
     WHERE device_pk = $1 AND scanned_at >= $2 AND admits AND record_status IN ('admitted', 'conflict') AND ticket_id IS NOT NULL
     RETURNING event_id, ticket_id, id`, [devicePk, new Date(from)]);
  return rows.map((r) => ({ eventId: r.event_id, ticketId: r.ticket_id, scanId: r.id }));
}

/** Puts quarantined scans in the organisers' review inbox (conflicts with reason device_revoked). */
export async function openQuarantineConflicts(tx: Sql, eventId: string, scans: Array<{ ticketId: string; scanId: string }>, at: number): Promise<void> {
  if (scans.length === 0) return;
  await tx.query(
    `INSERT INTO conflicts (event_id, ticket_id, loser_scan_id, reason, created_at, updated_at)
     SELECT $1, u.ticket_id, u.scan_id, 'device_revoked', $4, $4 FROM unnest($2::uuid[], $3::uuid[]) AS u(ticket_id, scan_id)
     ON CONFLICT (event_id, loser_scan_id) DO UPDATE SET reason = 'device_revoked', winner_scan_id = NULL, status = 'open', updated_at = $4, tx = pg_current_xact_id()`,
    [eventId, scans.map((s) => s.ticketId), scans.map((s) => s.scanId), new Date(at)]);
}

/** An organiser accepted a scan: it becomes a candidate again (forced when it had lost a first-scan-wins decision). */
export async function reinstateScan(tx: Sql, eventId: string, scanId: string, forced: boolean): Promise<void> {
  await tx.query(
    `UPDATE scans SET record_status = 'admitted', forced = forced OR $3, revision = revision + 1, tx = pg_current_xact_id()
     WHERE event_id = $1 AND id = $2`, [eventId, scanId, forced]);
}

export async function ticketEvents(sql: Sql, organisationId: string, ticketIds: string[]): Promise<Map<string, string>> {
  if (ticketIds.length === 0) return new Map();
  const rows = await sql.query<{ id: string; event_id: string }>(
    `SELECT t.id, t.event_id FROM tickets t JOIN events e ON e.id = t.event_id WHERE t.id = ANY($1::uuid[]) AND e.organisation_id = $2`,
    [ticketIds, organisationId]);
  return new Map(rows.map((r) => [r.id, r.event_id]));
}

/** Seed 000 uploads (no seq): inserted once per (device, ticket, scan time); returns the keys that were new. */
export async function insertLegacyScans(tx: Sql, ctx: { eventId: string; devicePk: string; deviceId: string; receivedAt: number }, rows: Array<{
  id: string; ticketId: string; scannedAt: number; admits: boolean; localResult: string; reason: string;
}>): Promise<Set<string>> {
  if (rows.length === 0) return new Set();
  const inserted = await tx.query<{ ticket_id: string; at: number }>(
    `INSERT INTO scans (event_id, id, ticket_id, result, reason, admits, direction, device_pk, device_id, scanned_at, received_at, source, local_result,
       integrity, clock_uncertainty_ms, record_status)
     SELECT $1, u.id, u.ticket_id, u.local_result, u.reason, u.admits, 'entry', $2, $3, to_timestamp(u.at / 1000.0), $4, 'offline', u.local_result,
       'unsigned', 2000, CASE WHEN u.admits THEN 'admitted' ELSE 'rejected' END
     FROM unnest($5::uuid[], $6::uuid[], $7::float8[], $8::boolean[], $9::text[], $10::text[]) AS u(id, ticket_id, at, admits, local_result, reason)
     ON CONFLICT (event_id, device_pk, ticket_id, scanned_at) WHERE seq IS NULL AND source = 'offline' DO NOTHING
     RETURNING ticket_id, (extract(epoch FROM scanned_at) * 1000)::float8 AS at`,
    [ctx.eventId, ctx.devicePk, ctx.deviceId, new Date(ctx.receivedAt), rows.map((r) => r.id), rows.map((r) => r.ticketId),
      rows.map((r) => r.scannedAt), rows.map((r) => r.admits), rows.map((r) => r.localResult), rows.map((r) => r.reason)]);
  return new Set(inserted.map((r) => `${r.ticket_id}|${Math.round(r.at)}`));
}

/** The scan holding a scan_id at an event (`coalesce(client_scan_id, id)`, unique per event: scans_physical_scan). */
export interface ScanIdHolder {
  /** The holding row's id. */
  id: string; devicePk: string; online: boolean; seq: number | null; digestHex: string | null; recordStatus: string;
}

/** The scans holding these scan_ids, from any device, online or offline: one index lookup (scans_physical_scan). */
export async function scansByScanId(sql: Sql, eventId: string, scanIds: string[]): Promise<Map<string, ScanIdHolder>> {
  if (scanIds.length === 0) return new Map();
  const rows = await sql.query<{ key: string; id: string; device_pk: string; source: string; seq: number | null; digest: string | null; record_status: string }>(
    `SELECT coalesce(client_scan_id, id) AS key, id, device_pk, source, seq::float8 AS seq, encode(code_digest, 'hex') AS digest, record_status
     FROM scans WHERE event_id = $1 AND coalesce(client_scan_id, id) = ANY($2::uuid[])`, [eventId, scanIds], { name: 'sync_scan_id_holders' });
  return new Map(rows.map((r) => [r.key, {
    id: r.id, devicePk: r.device_pk, online: r.source === 'online', seq: r.seq, digestHex: r.digest, recordStatus: r.record_status,
  }]));
}

/** The offline envelope of a scan whose online row already exists (the device timed out and uploaded its copy). */
export interface OfflineCopy { scanId: string; seq: number; payloadHashHex: string; chainLinkHex: string | null; localResult: string | null }

/**
 * One physical scan, one row: the online rows these uploaded copies are of
 * take the copies' seq, payload hash and chain link (so a replay of that seq
 * and the next upload's chain find them), in one statement. Only rows
 * without a seq (the caller holds the device log's lock). Returns the seqs
 * stored.
 */
export async function attachOfflineCopies(tx: Sql, eventId: string, sessionId: string, copies: OfflineCopy[]): Promise<number[]> {
  if (copies.length === 0) return [];
  const rows = await tx.query<{ seq: number }>(
    `UPDATE scans s SET seq = u.seq, payload_hash = decode(u.hash, 'hex'), chain_link = decode(u.link, 'hex'), local_result = u.local_result,
       sync_session_id = $2
     FROM unnest($3::uuid[], $4::bigint[], $5::text[], $6::text[], $7::text[]) AS u(id, seq, hash, link, local_result)
     WHERE s.event_id = $1 AND s.id = ANY($3::uuid[]) AND s.id = u.id AND s.seq IS NULL AND s.source = 'online'
     RETURNING s.seq::float8 AS seq`,
    [eventId, sessionId, textArray(copies.map((c) => c.scanId)), numberArray(copies.map((c) => c.seq)), textArray(copies.map((c) => c.payloadHashHex)),
      textArray(copies.map((c) => c.chainLinkHex)), textArray(copies.map((c) => c.localResult))]);
  return rows.map((r) => r.seq);
}

/** A device's scans at an event, by record status (its sync status). */
export async function deviceScanCounts(sql: Sql, eventId: string, deviceId: string, organisationId: string): Promise<{ total: number; conflicts: number; failed: number } | undefined> {
  const [counts] = await sql.query<{ total: number; conflicts: number; failed: number }>(
    `SELECT count(*)::int AS total, count(*) FILTER (WHERE s.record_status = 'conflict')::int AS conflicts,
       count(*) FILTER (WHERE s.record_status IN ('failed', 'quarantined'))::int AS failed
     FROM scans s JOIN devices d ON d.id = s.device_pk WHERE s.event_id = $1 AND d.device_id = $2 AND d.organisation_id = $3`,
    [eventId, deviceId, organisationId]);
  return counts;
}

export interface LastSyncSessionRow {
  id: string; scans_uploaded: number; scans_successful: number; scans_failed: number; scans_duplicate: number; scans_conflict: number;
  completed_at: Date | null; started_at: Date; status: string;
}

/** A device's most recent sync session at an event. */
export async function lastSyncSession(sql: Sql, eventId: string, deviceId: string, organisationId: string): Promise<LastSyncSessionRow | undefined> {
  const [last] = await sql.query<LastSyncSessionRow>(
    `SELECT s.id, s.scans_uploaded, s.scans_successful, s.scans_failed, s.scans_duplicate, s.scans_conflict, s.completed_at, s.started_at, s.status
     FROM sync_sessions s JOIN devices d ON d.id = s.device_pk
     WHERE s.event_id = $1 AND d.device_id = $2 AND d.organisation_id = $3 ORDER BY coalesce(s.completed_at, s.started_at) DESC LIMIT 1`,
    [eventId, deviceId, organisationId]);
  return last;
}

export interface DeviceSyncStateRow {
  device_id: string; name: string; status: string; last_seen_at: Date | null; last_seq: number | null; acked_through: number | null; missing: SeqRange[] | string | null;
  reported_last_seq: number | null; clock_offset_ms: number | null; syncs: number | null; sync_failures: number | null; flags: string[] | null;
  flag_reason: string | null; last_sync_at: Date | null; last_success_at: Date | null; implausible_scans: number | null;
}

/** Per-device sync state at one event: the devices with a log there, or an active session (one device with `deviceId`). */
export async function deviceSyncStates(sql: Sql, eventId: string, organisationId: string, deviceId: string | null): Promise<DeviceSyncStateRow[]> {
  return sql.query<DeviceSyncStateRow>(
    `SELECT d.device_id, d.name, d.status, d.last_seen_at, l.last_seq::float8 AS last_seq, l.acked_through::float8 AS acked_through, l.missing,
       l.reported_last_seq::float8 AS reported_last_seq, l.clock_offset_ms::float8 AS clock_offset_ms, l.syncs, l.sync_failures, l.flags, l.flag_reason,
       l.last_sync_at, l.last_success_at, l.implausible_scans::float8 AS implausible_scans
     FROM devices d LEFT JOIN device_logs l ON l.device_pk = d.id AND l.event_id = $1
     WHERE d.organisation_id = $2 AND (l.device_pk IS NOT NULL OR d.active_event_id = $1) AND ($3::text IS NULL OR d.device_id = $3)
     ORDER BY d.device_id`, [eventId, organisationId, deviceId]);
}
