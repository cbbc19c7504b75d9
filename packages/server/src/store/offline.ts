import type { Direction, TicketScanState } from '@entrada/core';
import type { Sql } from '../db/database.ts';
import { ms } from './rows.ts';
import { TICKET_COLUMNS, toTicket, type RawTicket, type TicketRecord } from './tickets.ts';
import type { CandidateScan, RecordStatus, ScanVerdictOfRecord } from '../services/sync/reconcile.ts';
import type { SeqRange } from '../services/sync/seq-ranges.ts';

/** Every statement here handles a whole batch: none runs once per scan. */

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
  clock_offset_ms, syncs, sync_failures, last_sync_at, last_success_at, last_sync_session_id`;
function toLog(r: RawDeviceLog): DeviceLogRow {
  return {
    lastSeq: r.last_seq, ackedThrough: r.acked_through, missing: typeof r.missing === 'string' ? JSON.parse(r.missing) as SeqRange[] : r.missing,
    received: r.received, flags: r.flags, flagReason: r.flag_reason, clockOffsetMs: r.clock_offset_ms, syncs: r.syncs,
    syncFailures: r.sync_failures, lastSyncAt: ms(r.last_sync_at), lastSuccessAt: ms(r.last_success_at), lastSyncSessionId: r.last_sync_session_id,
  };
}

/** Serialises uploads of one device at one event: the row lock is held until commit. */
export async function lockDeviceLog(tx: Sql, eventId: string, devicePk: string): Promise<DeviceLogRow> {
  await tx.query(`INSERT INTO device_logs (event_id, device_pk) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [eventId, devicePk]);
  const [row] = await tx.query<RawDeviceLog>(`SELECT ${LOG_COLUMNS} FROM device_logs WHERE event_id = $1 AND device_pk = $2 FOR UPDATE`, [eventId, devicePk]);
  return toLog(row!);
}

export async function saveDeviceLog(tx: Sql, eventId: string, devicePk: string, log: {
  lastSeq: number; ackedThrough: number; missing: SeqRange[]; addReceived: number; flag: string | null; flagReason: string | null;
  clockOffsetMs: number; at: number; success: boolean; sessionId: string; reportedLastSeq: number | null;
}): Promise<void> {
  await tx.query(
    `UPDATE device_logs SET last_seq = $3, acked_through = $4, missing = $5::jsonb, received = received + $6,
       flags = CASE WHEN $7::text IS NULL OR $7::text = ANY(flags) THEN flags ELSE array_append(flags, $7::text) END,
       flag_reason = coalesce($8, flag_reason), flagged_at = CASE WHEN $7::text IS NULL THEN flagged_at ELSE coalesce(flagged_at, $9) END,
       clock_offset_ms = $10, clock_measured_at = $9, syncs = syncs + 1, sync_failures = sync_failures + CASE WHEN $11 THEN 0 ELSE 1 END,
       last_sync_at = $9, last_success_at = CASE WHEN $11 THEN $9 ELSE last_success_at END, last_sync_session_id = $12,
       reported_last_seq = coalesce($13, reported_last_seq)
     WHERE event_id = $1 AND device_pk = $2`,
    [eventId, devicePk, log.lastSeq, log.ackedThrough, JSON.stringify(log.missing), log.addReceived, log.flag, log.flagReason,
      new Date(log.at), log.clockOffsetMs, log.success, log.sessionId, log.reportedLastSeq]);
}

/** The tickets a batch touches, locked in id order (a fixed order cannot deadlock against another batch). */
export async function lockTicketsByDigest(tx: Sql, eventId: string, digestsHex: string[], lock = true): Promise<Array<{ digestHex: string; ticket: TicketRecord }>> {
  if (digestsHex.length === 0) return [];
  const rows = await tx.query<RawTicket & { digest: string }>(
    `SELECT ${TICKET_COLUMNS}, encode(t.code_digest, 'hex') AS digest FROM tickets t
     WHERE t.event_id = $1 AND t.code_digest = ANY(SELECT decode(d, 'hex') FROM unnest($2::text[]) d)
     ORDER BY t.id ${lock ? 'FOR UPDATE' : ''}`, [eventId, digestsHex]);
  return rows.map((r) => ({ digestHex: r.digest, ticket: toTicket(r) }));
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
  chainLinkHex: string | null; integrity: 'chain' | 'unsigned' | 'failed'; uncertaintyMs: number; flags: string[]; recordStatus: RecordStatus;
  /** The scan_id of a timed-out online attempt of the same physical scan. */
  clientScanId: string | null;
}

/**
 * Inserts the batch's new scans; seqs already stored are skipped and returned
 * as absent. The batch travels as one JSON document expanded by
 * json_to_recordset: encoding seventeen parallel arrays parameter by parameter
 * cost the driver a sixth of the server's CPU during a sync storm.
 */
export async function insertOfflineScans(tx: Sql, ctx: { eventId: string; devicePk: string; deviceId: string; sessionId: string; receivedAt: number }, rows: OfflineScanRow[]): Promise<Set<number>> {
  if (rows.length === 0) return new Set();
  const batch = JSON.stringify(rows.map((r) => ({
    id: r.id, seq: r.seq, ticket_id: r.ticketId, digest: r.digestHex, result: r.result, reason: r.reason, admits: r.admits, direction: r.direction,
    gate_id: r.gateId, scanned_at: r.scannedAt, local_result: r.localResult, payload_hash: r.payloadHashHex, chain_link: r.chainLinkHex,
    integrity: r.integrity, uncertainty: r.uncertaintyMs, flags: r.flags, record_status: r.recordStatus, client_scan_id: r.clientScanId,
  })));
  const inserted = await tx.query<{ seq: number }>(
    `INSERT INTO scans (event_id, id, seq, ticket_id, code_digest, result, reason, admits, direction, device_pk, device_id, gate_id,
       scanned_at, received_at, source, local_result, payload_hash, chain_link, integrity, clock_uncertainty_ms, flags, record_status, sync_session_id,
       client_scan_id)
     SELECT $1, u.id, u.seq, u.ticket_id, decode(u.digest, 'hex'), u.result, u.reason, u.admits, u.direction, $2, $3, u.gate_id,
       to_timestamp(u.scanned_at / 1000.0), $5, 'offline', u.local_result, decode(u.payload_hash, 'hex'), decode(u.chain_link, 'hex'),
       u.integrity, u.uncertainty, u.flags, u.record_status, $4, u.client_scan_id
     FROM json_to_recordset($6::json) AS u(id uuid, seq bigint, ticket_id uuid, digest text, result text, reason text, admits boolean,
       direction text, gate_id uuid, scanned_at float8, local_result text, payload_hash text, chain_link text, integrity text,
       uncertainty integer, flags text[], record_status text, client_scan_id uuid)
     ON CONFLICT (event_id, device_pk, seq) WHERE seq IS NOT NULL DO NOTHING
     RETURNING seq::float8 AS seq`,
    [ctx.eventId, ctx.devicePk, ctx.deviceId, ctx.sessionId, new Date(ctx.receivedAt), batch]);
  return new Set(inserted.map((r) => r.seq));
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
     FROM scans WHERE event_id = $1 AND device_pk = $2 AND seq = ANY($3::bigint[])`, [eventId, devicePk, seqs]);
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
    forced: boolean; clock_uncertainty_ms: number; record_status: RecordStatus; conflict_reason: string | null; winner_scan_id: string | null; ambiguous: boolean;
  }>(
    `SELECT id, ticket_id, device_id, seq::float8 AS seq, scanned_at, direction, gate_id, forced, clock_uncertainty_ms, record_status,
       conflict_reason, winner_scan_id, ambiguous
     FROM scans WHERE event_id = $1 AND ticket_id = ANY($2::uuid[]) AND admits AND record_status IN ('admitted', 'conflict')`,
    [eventId, ticketIds]);
  return rows.map((r) => ({
    id: r.id, ticketId: r.ticket_id, deviceId: r.device_id, seq: r.seq, at: ms(r.scanned_at)!, direction: r.direction, gateId: r.gate_id,
    forced: r.forced, uncertaintyMs: r.clock_uncertainty_ms, recordStatus: r.record_status, conflictReason: r.conflict_reason,
    winnerScanId: r.winner_scan_id, ambiguous: r.ambiguous,
  }));
}

/** Writes changed verdicts of record; a scan that already existed gets a new revision (the download feed shows it again). */
export async function applyScanVerdicts(tx: Sql, eventId: string, changes: Array<ScanVerdictOfRecord & { isNew: boolean }>): Promise<void> {
  if (changes.length === 0) return;
  await tx.query(
    `UPDATE scans s SET record_status = u.status, conflict_reason = u.reason, winner_scan_id = u.winner, ambiguous = u.ambiguous,
       revision = s.revision + CASE WHEN u.is_new THEN 0 ELSE 1 END, tx = pg_current_xact_id()
     FROM unnest($2::uuid[], $3::text[], $4::text[], $5::uuid[], $6::boolean[], $7::boolean[]) AS u(id, status, reason, winner, ambiguous, is_new)
     WHERE s.event_id = $1 AND s.id = ANY($2::uuid[]) AND s.id = u.id`,
    [eventId, changes.map((c) => c.id), changes.map((c) => c.recordStatus), changes.map((c) => c.conflictReason),
      changes.map((c) => c.winnerScanId), changes.map((c) => c.ambiguous), changes.map((c) => c.isNew)]);
}

/** New folded states of reconciled tickets; returns the new versions. */
export async function applyTicketStates(tx: Sql, eventId: string, states: Array<{ ticketId: string; state: TicketScanState }>): Promise<Map<string, number>> {
  if (states.length === 0) return new Map();
  const f = <T>(fn: (s: TicketScanState) => T): T[] => states.map((s) => fn(s.state));
  const rows = await tx.query<{ id: string; version: number }>(
    `UPDATE tickets t SET entries = u.entries, first_at = to_timestamp(u.first_at / 1000.0), first_device_id = u.first_device, first_gate_id = u.first_gate,
       last_at = to_timestamp(u.last_at / 1000.0), last_direction = u.last_direction, last_device_id = u.last_device, last_gate_id = u.last_gate,
       version = t.version + 1
     FROM unnest($2::uuid[], $3::int[], $4::float8[], $5::text[], $6::uuid[], $7::float8[], $8::text[], $9::text[], $10::uuid[])
       AS u(id, entries, first_at, first_device, first_gate, last_at, last_direction, last_device, last_gate)
     WHERE t.event_id = $1 AND t.id = ANY($2::uuid[]) AND t.id = u.id RETURNING t.id, t.version`,
    [eventId, states.map((s) => s.ticketId), f((s) => s.entries), f((s) => s.first?.at ?? null), f((s) => s.first?.deviceId ?? null),
      f((s) => s.first?.gateId ?? null), f((s) => s.last?.at ?? null), f((s) => s.last?.direction ?? null), f((s) => s.last?.deviceId ?? null),
      f((s) => s.last?.gateId ?? null)]);
  return new Map(rows.map((r) => [r.id, r.version]));
}

/**
 * Makes the conflicts table match the replay: every losing scan has an open
 * (or already resolved) conflict naming its current winner; conflicts whose
 * scan no longer loses become void.
 */
export async function syncConflicts(tx: Sql, eventId: string, ticketIds: string[], desired: Array<ScanVerdictOfRecord & { ticketId: string }>, at: number): Promise<void> {
  if (desired.length > 0) {
    await tx.query(
      `INSERT INTO conflicts (event_id, ticket_id, loser_scan_id, winner_scan_id, reason, ambiguous, created_at, updated_at)
       SELECT $1, u.ticket_id, u.loser, u.winner, u.reason, u.ambiguous, $7, $7
       FROM unnest($2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::boolean[]) AS u(ticket_id, loser, winner, reason, ambiguous)
       ON CONFLICT (event_id, loser_scan_id) DO UPDATE SET winner_scan_id = EXCLUDED.winner_scan_id, reason = EXCLUDED.reason,
         ambiguous = EXCLUDED.ambiguous, status = CASE WHEN conflicts.status = 'void' THEN 'open' ELSE conflicts.status END,
         updated_at = EXCLUDED.updated_at, tx = pg_current_xact_id()
       WHERE conflicts.winner_scan_id IS DISTINCT FROM EXCLUDED.winner_scan_id OR conflicts.reason <> EXCLUDED.reason
         OR conflicts.ambiguous <> EXCLUDED.ambiguous OR conflicts.status = 'void'`,
      [eventId, desired.map((d) => d.ticketId), desired.map((d) => d.id), desired.map((d) => d.winnerScanId), desired.map((d) => d.conflictReason),
        desired.map((d) => d.ambiguous), new Date(at)]);
  }
  await tx.query(
    `UPDATE conflicts SET status = 'void', updated_at = $4, tx = pg_current_xact_id()
     WHERE event_id = $1 AND ticket_id = ANY($2::uuid[]) AND status = 'open' AND reason <> 'device_revoked' AND loser_scan_id <> ALL($3::uuid[])`,
    [eventId, ticketIds, desired.map((d) => d.id), new Date(at)]);
}

/** Opens (or reopens, on a retry with the same token) the sync session first, so scans can reference it. */
export async function openSyncSession(tx: Sql, s: { eventId: string; devicePk: string; token: string; at: number }): Promise<string> {
  const [row] = await tx.query<{ id: string }>(
    `INSERT INTO sync_sessions (event_id, device_pk, session_token, attempts, status, started_at) VALUES ($1, $2, $3, 1, 'in_progress', $4)
     ON CONFLICT (event_id, device_pk, session_token) DO UPDATE SET attempts = sync_sessions.attempts + 1, status = 'in_progress'
     RETURNING id`,
    [s.eventId, s.devicePk, s.token, new Date(s.at)]);
  return row!.id;
}

export async function closeSyncSession(tx: Sql, eventId: string, id: string, c: {
  at: number; uploaded: number; successful: number; failed: number; duplicates: number; conflicts: number;
}): Promise<void> {
  await tx.query(
    `UPDATE sync_sessions SET scans_uploaded = scans_uploaded + $3, scans_successful = scans_successful + $4, scans_failed = scans_failed + $5,
       scans_duplicate = scans_duplicate + $6, scans_conflict = scans_conflict + $7, status = 'completed', completed_at = $8
     WHERE event_id = $1 AND id = $2`,
    [eventId, id, c.uploaded, c.successful, c.failed, c.duplicates, c.conflicts, new Date(c.at)]);
}

export async function scanDisplay(sql: Sql, eventId: string, ids: string[]): Promise<Map<string, { deviceId: string; scannedAt: number; gateId: string | null }>> {
  if (ids.length === 0) return new Map();
  const rows = await sql.query<{ id: string; device_id: string; scanned_at: Date; gate_id: string | null }>(
    `SELECT id, device_id, scanned_at, gate_id FROM scans WHERE event_id = $1 AND id = ANY($2::uuid[])`, [eventId, ids]);
  return new Map(rows.map((r) => [r.id, { deviceId: r.device_id, scannedAt: ms(r.scanned_at)!, gateId: r.gate_id }]));
}

/** A failed upload still counts in the device's sync failure rate (best effort, outside the failed transaction). */
export async function recordSyncFailure(sql: Sql, eventId: string, devicePk: string, at: number): Promise<void> {
  await sql.query(
    `INSERT INTO device_logs (event_id, device_pk, syncs, sync_failures, last_sync_at) VALUES ($1, $2, 1, 1, $3)
     ON CONFLICT (event_id, device_pk) DO UPDATE SET syncs = device_logs.syncs + 1, sync_failures = device_logs.sync_failures + 1, last_sync_at = $3`,
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

/** Online scans of this device among these ids, with their verdict of record. */
export async function onlineScansOfDevice(sql: Sql, eventId: string, devicePk: string, scanIds: string[]): Promise<Map<string, string>> {
  if (scanIds.length === 0) return new Map();
  const rows = await sql.query<{ id: string; record_status: string }>(
    `SELECT id, record_status FROM scans WHERE event_id = $1 AND id = ANY($2::uuid[]) AND device_pk = $3 AND source = 'online'`, [eventId, scanIds, devicePk]);
  return new Map(rows.map((r) => [r.id, r.record_status]));
}
