import type { Direction, SyncItemReason, VerdictReason } from '@entrada/core';
import type { Sql } from '../db/database.ts';
import {
  COPY_NULL,
  CopyLines,
  copyBoolean,
  copyByteaHex,
  copyNumber,
  copyText,
  copyTimestamp,
  copyWords,
} from './copy-text.ts';
import { booleanArray, numberArray, textArray } from './pg-arrays.ts';
import { ms } from './rows.ts';

/** scans, as the offline paths write and read them (sync, import, seed-000 reconcile). Every statement handles a whole batch: none runs once per scan. */

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

export interface OfflineScanRow {
  /** null: an unsequenced scan (a device without a key), identified by its client_scan_id (see sync-plan.ts). */
  id: string;
  seq: number | null;
  ticketId: string | null;
  digestHex: string | null;
  result: string;
  reason: SyncItemReason;
  admits: boolean;
  direction: Direction;
  gateId: string | null;
  scannedAt: number;
  localResult: string | null;
  payloadHashHex: string;
  chainLinkHex: string | null;
  flags: string[];
  recordStatus: RecordStatus;
  /** Flagged implausible_time: stored without a bounded clock uncertainty (NULL, read back as unbounded). */
  implausibleTime: boolean;
  /** The scan_id of a timed-out online attempt of the same physical scan. */
  clientScanId: string | null;
  /** The staff member logged in on the device (a staff id of the event, or null). */
  staffId: string | null;
}

const SCAN_COPY_COLUMNS = [
  'event_id',
  'id',
  'seq',
  'ticket_id',
  'code_digest',
  'result',
  'reason',
  'admits',
  'direction',
  'device_pk',
  'device_id',
  'gate_id',
  'scanned_at',
  'received_at',
  'source',
  'local_result',
  'payload_hash',
  'chain_link',
  'integrity',
  'clock_uncertainty_ms',
  'flags',
  'record_status',
  'sync_session_id',
  'client_scan_id',
  'staff_id',
] as const;

/**
 * Inserts the batch's scans, all new: the caller holds the device log's lock,
 * under which no seq above the log's last_seq is stored, and has read back
 * every seq of the batch at or below it. A concurrent online request of the
 * same physical scan can still violate scans_pkey (its id is the scan_id): the transaction
 * then fails and the upload is retried. One COPY (see copy-text.ts: a quarter
 * less PostgreSQL CPU per row than an INSERT of unnested arrays); what is the
 * same for the whole upload is encoded once. Returns the stored seqs (unsequenced rows have none).
 */
export async function insertOfflineScans(
  tx: Sql,
  ctx: {
    eventId: string;
    devicePk: string;
    deviceId: string;
    sessionId: string;
    receivedAt: number;
    integrity: 'chain' | 'unsigned' | 'failed';
    uncertaintyMs: number;
  },
  rows: OfflineScanRow[],
): Promise<Set<number>> {
  if (rows.length === 0) return new Set();
  const eventId = copyText(ctx.eventId);
  // device_pk, device_id … after gate_id; received_at, source; integrity and uncertainty; session.
  const device = `${copyText(ctx.devicePk)}\t${copyText(ctx.deviceId)}`;
  const received = `${copyTimestamp(ctx.receivedAt)}\toffline`;
  const integrity = `${copyText(ctx.integrity)}\t${copyNumber(ctx.uncertaintyMs)}`;
  const integrityTimeUnknown = `${copyText(ctx.integrity)}\t${COPY_NULL}`;
  const session = copyText(ctx.sessionId);
  // ~330 bytes per row with a gate and a chain link; a row with more grows the buffer.
  const out = new CopyLines(rows.length * 400);
  for (const r of rows) {
    out.push(
      `${eventId}\t${copyText(r.id)}\t${copyNumber(r.seq)}\t${copyText(r.ticketId)}\t${copyByteaHex(r.digestHex)}\t${copyText(r.result)}\t` +
        `${copyText(r.reason)}\t${copyBoolean(r.admits)}\t${copyText(r.direction)}\t${device}\t${copyText(r.gateId)}\t` +
        `${copyTimestamp(r.scannedAt)}\t${received}\t${copyText(r.localResult)}\t${copyByteaHex(r.payloadHashHex)}\t${copyByteaHex(r.chainLinkHex)}\t` +
        `${r.implausibleTime ? integrityTimeUnknown : integrity}\t${copyWords(r.flags)}\t${copyText(r.recordStatus)}\t${session}\t${copyText(r.clientScanId)}\t${copyText(r.staffId)}\n`,
    );
  }
  await tx.copyRows('scans', SCAN_COPY_COLUMNS, out.bytes());
  const seqs = new Set<number>();
  for (const r of rows) if (r.seq !== null) seqs.add(r.seq);
  return seqs;
}

export interface StoredOfflineScan {
  id: string;
  seq: number;
  ticketId: string | null;
  payloadHashHex: string | null;
  chainLinkHex: string | null;
  result: string;
  recordStatus: RecordStatus;
  conflictReason: string | null;
  winnerScanId: string | null;
  scannedAt: number;
}

/** Stored scans of the device at these seqs (re-uploads, and chain neighbours of a batch). */
export async function storedScansBySeq(
  sql: Sql,
  eventId: string,
  devicePk: string,
  seqs: number[],
): Promise<Map<number, StoredOfflineScan>> {
  if (seqs.length === 0) return new Map();
  const rows = await sql.query<{
    id: string;
    seq: number;
    ticket_id: string | null;
    payload_hash: string | null;
    chain_link: string | null;
    result: string;
    record_status: RecordStatus;
    conflict_reason: string | null;
    winner_scan_id: string | null;
    scanned_at: Date;
  }>(
    `SELECT id, seq::float8 AS seq, ticket_id, encode(payload_hash, 'hex') AS payload_hash, encode(chain_link, 'hex') AS chain_link, result,
       record_status, conflict_reason, winner_scan_id, scanned_at
     FROM scans WHERE event_id = $1 AND device_pk = $2 AND seq = ANY($3::bigint[])`,
    [eventId, devicePk, seqs],
    { name: 'sync_stored_seqs' },
  );
  return new Map(
    rows.map((r) => [
      r.seq,
      {
        id: r.id,
        seq: r.seq,
        ticketId: r.ticket_id,
        payloadHashHex: r.payload_hash,
        chainLinkHex: r.chain_link,
        result: r.result,
        recordStatus: r.record_status,
        conflictReason: r.conflict_reason,
        winnerScanId: r.winner_scan_id,
        scannedAt: ms(r.scanned_at)!,
      },
    ]),
  );
}

/** All candidate admissions of these tickets, from every device, online and offline. */
export async function candidateScans(sql: Sql, eventId: string, ticketIds: string[]): Promise<CandidateScan[]> {
  if (ticketIds.length === 0) return [];
  const rows = await sql.query<{
    id: string;
    ticket_id: string;
    device_id: string;
    seq: number | null;
    scanned_at: Date;
    direction: Direction;
    gate_id: string | null;
    forced: boolean;
    clock_uncertainty_ms: number | null;
    record_status: RecordStatus;
    conflict_reason: string | null;
    winner_scan_id: string | null;
    ambiguous: boolean;
  }>(
    `SELECT id, ticket_id, device_id, seq::float8 AS seq, scanned_at, direction, gate_id, forced, clock_uncertainty_ms, record_status,
       conflict_reason, winner_scan_id, ambiguous
     FROM scans WHERE event_id = $1 AND ticket_id = ANY($2::uuid[]) AND admits AND record_status IN ('admitted', 'conflict')`,
    [eventId, textArray(ticketIds)],
    { name: 'sync_candidates' },
  );
  return rows.map((r) => ({
    id: r.id,
    ticketId: r.ticket_id,
    deviceId: r.device_id,
    seq: r.seq,
    at: ms(r.scanned_at)!,
    direction: r.direction,
    gateId: r.gate_id,
    // NULL: a scan whose time is implausible (migration 007), uncertain without bound.
    forced: r.forced,
    uncertaintyMs: r.clock_uncertainty_ms ?? Infinity,
    recordStatus: r.record_status,
    conflictReason: r.conflict_reason,
    winnerScanId: r.winner_scan_id,
    ambiguous: r.ambiguous,
  }));
}

/** Quarantines a revoked device's admissions from `from` on; returns them per ticket. */
export async function quarantineDeviceScans(
  tx: Sql,
  devicePk: string,
  from: number,
): Promise<Array<{ eventId: string; ticketId: string; scanId: string }>> {
  const rows = await tx.query<{ event_id: string; ticket_id: string; id: string }>(
    `UPDATE scans SET record_status = 'quarantined', revision = revision + 1, tx = pg_current_xact_id()
     WHERE device_pk = $1 AND scanned_at >= $2 AND admits AND record_status IN ('admitted', 'conflict') AND ticket_id IS NOT NULL
     RETURNING event_id, ticket_id, id`,
    [devicePk, new Date(from)],
  );
  return rows.map((r) => ({ eventId: r.event_id, ticketId: r.ticket_id, scanId: r.id }));
}

/** An organiser accepted a scan: it becomes a candidate again (forced when it had lost a first-scan-wins decision). */
export async function reinstateScan(tx: Sql, eventId: string, scanId: string, forced: boolean): Promise<void> {
  await tx.query(
    `UPDATE scans SET record_status = 'admitted', forced = forced OR $3, revision = revision + 1, tx = pg_current_xact_id()
     WHERE event_id = $1 AND id = $2`,
    [eventId, scanId, forced],
  );
}

/** Seed 000 uploads (no seq): inserted once per (device, ticket, scan time); returns the keys that were new. */
export async function insertLegacyScans(
  tx: Sql,
  ctx: { eventId: string; devicePk: string; deviceId: string; receivedAt: number },
  rows: Array<{
    id: string;
    ticketId: string;
    scannedAt: number;
    admits: boolean;
    localResult: string;
    reason: string;
  }>,
): Promise<Set<string>> {
  if (rows.length === 0) return new Set();
  const inserted = await tx.query<{ ticket_id: string; at: number }>(
    `INSERT INTO scans (event_id, id, ticket_id, result, reason, admits, direction, device_pk, device_id, scanned_at, received_at, source, local_result,
       integrity, clock_uncertainty_ms, record_status)
     SELECT $1, u.id, u.ticket_id, u.local_result, u.reason, u.admits, 'entry', $2, $3, to_timestamp(u.at / 1000.0), $4, 'offline', u.local_result,
       'unsigned', 2000, CASE WHEN u.admits THEN 'admitted' ELSE 'rejected' END
     FROM unnest($5::uuid[], $6::uuid[], $7::float8[], $8::boolean[], $9::text[], $10::text[]) AS u(id, ticket_id, at, admits, local_result, reason)
     ON CONFLICT (event_id, device_pk, ticket_id, scanned_at) WHERE seq IS NULL AND source = 'offline' DO NOTHING
     RETURNING ticket_id, (extract(epoch FROM scanned_at) * 1000)::float8 AS at`,
    [
      ctx.eventId,
      ctx.devicePk,
      ctx.deviceId,
      new Date(ctx.receivedAt),
      textArray(rows.map((r) => r.id)),
      textArray(rows.map((r) => r.ticketId)),
      numberArray(rows.map((r) => r.scannedAt)),
      booleanArray(rows.map((r) => r.admits)),
      textArray(rows.map((r) => r.localResult)),
      textArray(rows.map((r) => r.reason)),
    ],
  );
  return new Set(inserted.map((r) => `${r.ticket_id}|${Math.round(r.at)}`));
}

/**
 * This device's unsequenced offline scans (seed 000 reconcile, seed 001 sync without seq) of these tickets at these
 * instants, keyed `ticketId|ms`: one statement on scans_legacy_offline's key.
 */
export async function unsequencedScansAt(
  sql: Sql,
  eventId: string,
  devicePk: string,
  keys: Array<{ ticketId: string; at: number }>,
): Promise<Map<string, { recordStatus: string }>> {
  if (keys.length === 0) return new Map();
  const rows = await sql.query<{ ticket_id: string; at: number; record_status: string }>(
    `SELECT s.ticket_id, (extract(epoch FROM s.scanned_at) * 1000)::float8 AS at, s.record_status
     FROM unnest($3::uuid[], $4::float8[]) AS k(ticket_id, at)
     JOIN scans s ON s.event_id = $1 AND s.device_pk = $2 AND s.ticket_id = k.ticket_id AND s.scanned_at = to_timestamp(k.at / 1000.0)
       AND s.seq IS NULL AND s.source = 'offline'`,
    [eventId, devicePk, textArray(keys.map((k) => k.ticketId)), keys.map((k) => k.at)],
    { name: 'sync_unsequenced_at' },
  );
  return new Map(rows.map((r) => [`${r.ticket_id}|${Math.round(r.at)}`, { recordStatus: r.record_status }]));
}

/** The scan holding a scan_id at an event: the row whose id it is (a physical scan's id is its row's: migration 023). */
export interface ScanIdHolder {
  /** The holding row's id. */
  id: string;
  devicePk: string;
  online: boolean;
  seq: number | null;
  digestHex: string | null;
  recordStatus: RecordStatus;
}

/** The scans holding these scan_ids, from any device, online or offline: one primary-key lookup. */
export async function scansByScanId(sql: Sql, eventId: string, scanIds: string[]): Promise<Map<string, ScanIdHolder>> {
  if (scanIds.length === 0) return new Map();
  const rows = await sql.query<{
    key: string;
    id: string;
    device_pk: string;
    source: string;
    seq: number | null;
    digest: string | null;
    record_status: RecordStatus;
  }>(
    `SELECT id AS key, id, device_pk, source, seq::float8 AS seq, encode(code_digest, 'hex') AS digest, record_status
     FROM scans WHERE event_id = $1 AND id = ANY($2::uuid[])`,
    [eventId, scanIds],
    { name: 'sync_scan_id_holders' },
  );
  return new Map(
    rows.map((r) => [
      r.key,
      {
        id: r.id,
        devicePk: r.device_pk,
        online: r.source === 'online',
        seq: r.seq,
        digestHex: r.digest,
        recordStatus: r.record_status,
      },
    ]),
  );
}

/** The offline envelope of a scan whose online row already exists (the device timed out and uploaded its copy). */
export interface OfflineCopy {
  scanId: string;
  seq: number;
  payloadHashHex: string;
  chainLinkHex: string | null;
  localResult: string | null;
}

/**
 * One physical scan, one row: the online rows these uploaded copies are of
 * take the copies' seq, payload hash and chain link (so a replay of that seq
 * and the next upload's chain find them), in one statement. Only rows
 * without a seq (the caller holds the device log's lock). Returns the seqs
 * stored.
 */
export async function attachOfflineCopies(
  tx: Sql,
  eventId: string,
  sessionId: string,
  copies: OfflineCopy[],
): Promise<number[]> {
  if (copies.length === 0) return [];
  const rows = await tx.query<{ seq: number }>(
    `UPDATE scans s SET seq = u.seq, payload_hash = decode(u.hash, 'hex'), chain_link = decode(u.link, 'hex'), local_result = u.local_result,
       sync_session_id = $2
     FROM unnest($3::uuid[], $4::bigint[], $5::text[], $6::text[], $7::text[]) AS u(id, seq, hash, link, local_result)
     WHERE s.event_id = $1 AND s.id = ANY($3::uuid[]) AND s.id = u.id AND s.seq IS NULL AND s.source = 'online'
     RETURNING s.seq::float8 AS seq`,
    [
      eventId,
      sessionId,
      textArray(copies.map((c) => c.scanId)),
      numberArray(copies.map((c) => c.seq)),
      textArray(copies.map((c) => c.payloadHashHex)),
      textArray(copies.map((c) => c.chainLinkHex)),
      textArray(copies.map((c) => c.localResult)),
    ],
  );
  return rows.map((r) => r.seq);
}

/** A device's scans at an event, by record status (its sync status). */
export async function deviceScanCounts(
  sql: Sql,
  eventId: string,
  deviceId: string,
  organisationId: string,
): Promise<{ total: number; conflicts: number; failed: number } | undefined> {
  const [counts] = await sql.query<{ total: number; conflicts: number; failed: number }>(
    `SELECT count(*)::int AS total, count(*) FILTER (WHERE s.record_status = 'conflict')::int AS conflicts,
       count(*) FILTER (WHERE s.record_status IN ('failed', 'quarantined'))::int AS failed
     FROM scans s JOIN devices d ON d.id = s.device_pk WHERE s.event_id = $1 AND d.device_id = $2 AND d.organisation_id = $3`,
    [eventId, deviceId, organisationId],
  );
  return counts;
}
