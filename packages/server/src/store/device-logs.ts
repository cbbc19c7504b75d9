import type { Sql } from '../db/database.ts';
import { textArray } from './pg-arrays.ts';
import { ms } from './rows.ts';

/** device_logs: each device's marks, flags and sync counters per event (one row, locked by its uploads). */

/** Inclusive seq ranges: seqs 1, 2 and 5 received → missing [[3, 4]], acked through 2. */
export type SeqRange = [number, number];

export interface DeviceLogRow {
  lastSeq: number;
  ackedThrough: number;
  missing: SeqRange[];
  received: number;
  flags: string[];
  flagReason: string | null;
  clockOffsetMs: number | null;
  syncs: number;
  syncFailures: number;
  lastSyncAt: number | null;
  lastSuccessAt: number | null;
  lastSyncSessionId: string | null;
}
interface RawDeviceLog {
  last_seq: number;
  acked_through: number;
  missing: SeqRange[] | string;
  received: number;
  flags: string[];
  flag_reason: string | null;
  clock_offset_ms: number | null;
  syncs: number;
  sync_failures: number;
  last_sync_at: Date | null;
  last_success_at: Date | null;
  last_sync_session_id: string | null;
}
const LOG_COLUMNS = `last_seq::float8 AS last_seq, acked_through::float8 AS acked_through, missing, received::float8 AS received, flags, flag_reason,
  clock_offset_ms::float8 AS clock_offset_ms, syncs, sync_failures, last_sync_at, last_success_at, last_sync_session_id`;
function toLog(r: RawDeviceLog): DeviceLogRow {
  return {
    lastSeq: r.last_seq,
    ackedThrough: r.acked_through,
    missing: typeof r.missing === 'string' ? (JSON.parse(r.missing) as SeqRange[]) : r.missing,
    received: r.received,
    flags: r.flags,
    flagReason: r.flag_reason,
    clockOffsetMs: r.clock_offset_ms,
    syncs: r.syncs,
    syncFailures: r.sync_failures,
    lastSyncAt: ms(r.last_sync_at),
    lastSuccessAt: ms(r.last_success_at),
    lastSyncSessionId: r.last_sync_session_id,
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
     RETURNING ${LOG_COLUMNS}`,
    [eventId, devicePk],
    { name: 'sync_lock_device_log' },
  );
  return toLog(row!);
}

export interface SessionCounts {
  uploaded: number;
  successful: number;
  failed: number;
  duplicates: number;
  conflicts: number;
}

/**
 * Saves the device's marks after an upload and closes its sync session, in
 * one statement (one round trip less while the upload holds its ticket locks).
 */
export async function saveDeviceLog(
  tx: Sql,
  eventId: string,
  devicePk: string,
  log: {
    lastSeq: number;
    ackedThrough: number;
    missing: SeqRange[];
    addReceived: number;
    addImplausible: number;
    /** Flags this upload raises (added once each); flagReason, when given, replaces the stored one. */
    flags: string[];
    flagReason: string | null;
    clockOffsetMs: number;
    at: number;
    success: boolean;
    sessionId: string;
    reportedLastSeq: number | null;
  },
  session: SessionCounts,
): Promise<void> {
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
    [
      eventId,
      devicePk,
      log.lastSeq,
      log.ackedThrough,
      JSON.stringify(log.missing),
      log.addReceived,
      textArray(log.flags),
      log.flagReason,
      new Date(log.at),
      log.clockOffsetMs,
      log.success,
      log.sessionId,
      log.reportedLastSeq,
      session.uploaded,
      session.successful,
      session.failed,
      session.duplicates,
      session.conflicts,
      log.addImplausible,
    ],
    { name: 'sync_save_device_log' },
  );
}

/**
 * Flags a device at an event outside a sync (the online scan path), for the
 * organisers' offline health alerts: one upsert, the log row created if the
 * device never synced there.
 */
export async function flagDevice(
  sql: Sql,
  eventId: string,
  devicePk: string,
  flag: string,
  reason: string,
  at: number,
): Promise<void> {
  await sql.query(
    `INSERT INTO device_logs AS l (event_id, device_pk, flags, flag_reason, flagged_at) VALUES ($1, $2, ARRAY[$3::text], $4, $5)
     ON CONFLICT (event_id, device_pk) DO UPDATE SET flags = CASE WHEN $3::text = ANY(l.flags) THEN l.flags ELSE array_append(l.flags, $3::text) END,
       flag_reason = $4, flagged_at = coalesce(l.flagged_at, $5)`,
    [eventId, devicePk, flag, reason, new Date(at)],
  );
}

/** A failed upload still counts in the device's sync failure rate (best effort, outside the failed transaction). */
export async function recordSyncFailure(sql: Sql, eventId: string, devicePk: string, at: number): Promise<void> {
  await sql.query(
    `WITH failure AS (INSERT INTO device_sync_failures (event_id, device_pk, at) VALUES ($1, $2, $3) RETURNING 1)
     INSERT INTO device_logs (event_id, device_pk, syncs, sync_failures, consecutive_failures, last_sync_at) VALUES ($1, $2, 1, 1, 1, $3)
     ON CONFLICT (event_id, device_pk) DO UPDATE SET syncs = device_logs.syncs + 1, sync_failures = device_logs.sync_failures + 1,
       consecutive_failures = device_logs.consecutive_failures + 1, last_sync_at = $3`,
    [eventId, devicePk, new Date(at)],
  );
}

export interface DeviceSyncStateRow {
  device_id: string;
  name: string;
  status: string;
  last_seen_at: Date | null;
  last_seq: number | null;
  acked_through: number | null;
  missing: SeqRange[] | string | null;
  reported_last_seq: number | null;
  clock_offset_ms: number | null;
  syncs: number | null;
  sync_failures: number | null;
  flags: string[] | null;
  flag_reason: string | null;
  last_sync_at: Date | null;
  last_success_at: Date | null;
  implausible_scans: number | null;
}

/** Per-device sync state at one event: the devices with a log there, or an active session; with `deviceId`, that device of the organisation. */
export async function deviceSyncStates(
  sql: Sql,
  eventId: string,
  organisationId: string,
  deviceId: string | null,
): Promise<DeviceSyncStateRow[]> {
  return sql.query<DeviceSyncStateRow>(
    `SELECT d.device_id, d.name, d.status, d.last_seen_at, l.last_seq::float8 AS last_seq, l.acked_through::float8 AS acked_through, l.missing,
       l.reported_last_seq::float8 AS reported_last_seq, l.clock_offset_ms::float8 AS clock_offset_ms, l.syncs, l.sync_failures, l.flags, l.flag_reason,
       l.last_sync_at, l.last_success_at, l.implausible_scans::float8 AS implausible_scans
     FROM devices d LEFT JOIN device_logs l ON l.device_pk = d.id AND l.event_id = $1
     -- One device asked for by id (its sync status) is answered whether it synced here or not (seed 001: last_sync null).
     WHERE d.organisation_id = $2 AND (l.device_pk IS NOT NULL OR d.active_event_id = $1 OR $3::text IS NOT NULL) AND ($3::text IS NULL OR d.device_id = $3)
     ORDER BY d.device_id`,
    [eventId, organisationId, deviceId],
  );
}
