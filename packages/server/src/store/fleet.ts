import type { DeviceHistory, HeartbeatBody } from '@entrada/core';
import type { Sql } from '../db/database.ts';
import { ms } from './rows.ts';

/** Devices' heartbeats, the fleet table's rows and the alerts table (issue 13 §2–3). */

/**
 * The device's latest heartbeat at the event: one upsert of one small row. Returns what organisers see of the
 * previous one (pending count, battery band, how long ago) so the caller publishes a change only when it matters.
 */
export async function upsertHeartbeat(
  sql: Sql,
  eventId: string,
  devicePk: string,
  hb: HeartbeatBody,
  receivedAt: number,
): Promise<{
  previousReceivedAt: number | null;
  previousPending: number | null;
  previousBattery: number | null;
}> {
  const d = (v: number | null | undefined): Date | null => (v === null || v === undefined ? null : new Date(v));
  const [row] = await sql.query<{
    prev_received: Date | null;
    prev_pending: number | null;
    prev_battery: number | null;
  }>(
    `WITH prev AS (SELECT received_at, pending_scans, battery_level FROM device_heartbeats WHERE event_id = $1 AND device_pk = $2),
     up AS (
       INSERT INTO device_heartbeats (event_id, device_pk, received_at, device_time, app_version, battery_level, battery_charging, pending_scans,
         oldest_pending_at, manifest_cursor, manifest_generated_at, gate_id, staff_id, online_since, last_offline_ms, sync_failures)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
       ON CONFLICT (event_id, device_pk) DO UPDATE SET received_at = EXCLUDED.received_at, device_time = EXCLUDED.device_time,
         app_version = EXCLUDED.app_version, battery_level = EXCLUDED.battery_level, battery_charging = EXCLUDED.battery_charging,
         pending_scans = EXCLUDED.pending_scans, oldest_pending_at = EXCLUDED.oldest_pending_at, manifest_cursor = EXCLUDED.manifest_cursor,
         manifest_generated_at = EXCLUDED.manifest_generated_at, gate_id = EXCLUDED.gate_id, staff_id = EXCLUDED.staff_id,
         online_since = EXCLUDED.online_since, last_offline_ms = EXCLUDED.last_offline_ms, sync_failures = EXCLUDED.sync_failures
       RETURNING 1)
     SELECT (SELECT received_at FROM prev) AS prev_received, (SELECT pending_scans FROM prev) AS prev_pending,
       (SELECT battery_level::float8 FROM prev) AS prev_battery, (SELECT count(*) FROM up) AS n`,
    [
      eventId,
      devicePk,
      new Date(receivedAt),
      new Date(hb.device_time),
      hb.app_version,
      hb.battery?.level ?? null,
      hb.battery?.charging ?? null,
      hb.pending_scans,
      d(hb.oldest_pending_at),
      hb.manifest_cursor ?? null,
      d(hb.manifest_generated_at),
      hb.gate_id ?? null,
      hb.staff_id ?? null,
      d(hb.online_since),
      hb.last_offline_ms ?? null,
      hb.sync_failures ?? null,
    ],
    { name: 'fleet_upsert_heartbeat' },
  );
  return {
    previousReceivedAt: ms(row?.prev_received),
    previousPending: row?.prev_pending ?? null,
    previousBattery: row?.prev_battery ?? null,
  };
}

export interface FleetRow {
  device_pk: string;
  device_id: string;
  name: string;
  status: 'active' | 'suspended' | 'revoked';
  last_seen_at: Date | null;
  received_at: Date | null;
  device_time: Date | null;
  app_version: string | null;
  battery_level: number | null;
  battery_charging: boolean | null;
  pending_scans: number | null;
  oldest_pending_at: Date | null;
  last_seq: number | null;
  acked_through: number | null;
  missing: Array<[number, number]> | string | null;
  reported_last_seq: number | null;
  clock_offset_ms: number | null;
  last_sync_at: Date | null;
  last_success_at: Date | null;
  consecutive_failures: number | null;
  missing_since: Date | null;
  failures_24h: number | null;
  device_sync_failures: number | null;
  gate_id: string | null;
  gate_name: string | null;
  staff_id: string | null;
  staff_name: string | null;
}

/**
 * Every device of the event's fleet with its heartbeat, sync log, 24-hour failures, gate and staff: one statement
 * for the whole event (the table, the evaluator). The fleet: devices that heartbeat, synced or hold a session
 * there, and devices registered or paired for it (never seen yet).
 */
export async function fleetRows(
  sql: Sql,
  eventId: string,
  organisationId: string,
  since24h: number,
  deviceId: string | null = null,
): Promise<FleetRow[]> {
  return sql.query<FleetRow>(
    `WITH fleet AS (
       SELECT d.id FROM devices d WHERE d.organisation_id = $2 AND (d.active_event_id = $1 OR $1 = ANY(d.event_ids) OR d.default_event_id = $1)
       UNION SELECT device_pk FROM device_logs WHERE event_id = $1
       UNION SELECT device_pk FROM device_heartbeats WHERE event_id = $1),
     failures AS (SELECT device_pk, count(*)::int AS n FROM device_sync_failures WHERE event_id = $1 AND at > $3 GROUP BY device_pk)
     SELECT d.id AS device_pk, d.device_id, d.name, d.status, d.last_seen_at,
       h.received_at, h.device_time, h.app_version, h.battery_level::float8 AS battery_level, h.battery_charging, h.pending_scans, h.oldest_pending_at,
       l.last_seq::float8 AS last_seq, l.acked_through::float8 AS acked_through, l.missing, l.reported_last_seq::float8 AS reported_last_seq,
       l.clock_offset_ms::float8 AS clock_offset_ms, l.last_sync_at, l.last_success_at, l.consecutive_failures, h.sync_failures AS device_sync_failures, l.missing_since, f.n AS failures_24h,
       g.id AS gate_id, g.name AS gate_name, st.id AS staff_id, st.name AS staff_name
     FROM fleet JOIN devices d ON d.id = fleet.id AND d.organisation_id = $2
     LEFT JOIN device_heartbeats h ON h.event_id = $1 AND h.device_pk = d.id
     LEFT JOIN device_logs l ON l.event_id = $1 AND l.device_pk = d.id
     LEFT JOIN scan_sessions ss ON ss.event_id = $1 AND ss.id = d.active_session_id AND ss.status = 'active'
     LEFT JOIN gates g ON g.event_id = $1 AND g.id = coalesce(h.gate_id, ss.gate_id, d.default_gate_id)
     LEFT JOIN event_staff st ON st.event_id = $1 AND st.id = h.staff_id
     LEFT JOIN failures f ON f.device_pk = d.id
     WHERE ($4::text IS NULL OR d.device_id = $4)
     ORDER BY d.name, d.device_id`,
    [eventId, organisationId, new Date(since24h), deviceId],
    { name: 'fleet_rows' },
  );
}

/** Failed syncs older than the 24-hour count needs (kept a week for a look back), deleted once per evaluation pass. */
export async function pruneSyncFailures(sql: Sql, before: number): Promise<void> {
  await sql.query(`DELETE FROM device_sync_failures WHERE at < $1`, [new Date(before)]);
}

/** Events the evaluator looks at: running or recent ones, and any with an open alert (so it can clear). */
export async function eventsToEvaluate(sql: Sql, now: number): Promise<string[]> {
  const rows = await sql.query<{ id: string }>(
    `SELECT id FROM events WHERE starts_at < $1::timestamptz + interval '1 day' AND ends_at > $1::timestamptz - interval '30 days'
     UNION SELECT DISTINCT event_id FROM alerts WHERE cleared_at IS NULL`,
    [new Date(now)],
  );
  return rows.map((r) => r.id);
}

export interface AlertRow {
  id: string;
  event_id: string;
  rule: string;
  severity: 'warning' | 'critical';
  subject_kind: 'device' | 'event' | 'zone';
  subject_id: string;
  raised_at: Date;
  cleared_at: Date | null;
  acknowledged_by: string | null;
  acknowledged_at: Date | null;
  detail: Record<string, unknown> | string;
}
const ALERT_COLUMNS =
  'id, event_id, rule, severity, subject_kind, subject_id, raised_at, cleared_at, acknowledged_by, acknowledged_at, detail';

export async function openAlerts(sql: Sql, eventId: string): Promise<AlertRow[]> {
  return sql.query<AlertRow>(
    `SELECT ${ALERT_COLUMNS} FROM alerts WHERE event_id = $1 AND cleared_at IS NULL ORDER BY raised_at, id`,
    [eventId],
  );
}

/** Open alerts, or the most recent 500 (open and cleared), newest first. */
export async function listAlerts(sql: Sql, eventId: string, state: 'open' | 'all'): Promise<AlertRow[]> {
  return sql.query<AlertRow>(
    `SELECT ${ALERT_COLUMNS} FROM alerts WHERE event_id = $1 AND ($2 OR cleared_at IS NULL) ORDER BY raised_at DESC, id DESC LIMIT 500`,
    [eventId, state === 'all'],
  );
}

export interface AlertChange {
  rule: string;
  severity: 'warning' | 'critical';
  subjectKind: 'device' | 'event' | 'zone';
  subjectId: string;
  detail: Record<string, unknown>;
}

/**
 * Raises alerts, one statement for the set. A plain INSERT: the evaluator's advisory lock makes it the only
 * writer, and the partial unique index (one open alert per rule and subject) is the database's own guard.
 */
export async function insertAlerts(tx: Sql, eventId: string, alerts: AlertChange[], at: number): Promise<AlertRow[]> {
  if (alerts.length === 0) return [];
  return tx.query<AlertRow>(
    `INSERT INTO alerts (event_id, rule, severity, subject_kind, subject_id, raised_at, detail)
     SELECT $1, u.rule, u.severity, u.kind, u.subject, $6, u.detail::jsonb
     FROM unnest($2::text[], $3::text[], $4::text[], $5::uuid[], $7::text[]) AS u(rule, severity, kind, subject, detail)
     RETURNING ${ALERT_COLUMNS}`,
    [
      eventId,
      alerts.map((a) => a.rule),
      alerts.map((a) => a.severity),
      alerts.map((a) => a.subjectKind),
      alerts.map((a) => a.subjectId),
      new Date(at),
      alerts.map((a) => JSON.stringify(a.detail)),
    ],
  );
}

/** A persisting condition's alert: its severity (escalated or eased) and detail now. */
export async function updateAlerts(
  tx: Sql,
  eventId: string,
  updates: Array<{ id: string; severity: 'warning' | 'critical'; detail: Record<string, unknown> }>,
): Promise<void> {
  if (updates.length === 0) return;
  await tx.query(
    `UPDATE alerts a SET severity = u.severity, detail = u.detail::jsonb
     FROM unnest($2::uuid[], $3::text[], $4::text[]) AS u(id, severity, detail)
     WHERE a.event_id = $1 AND a.id = u.id AND a.cleared_at IS NULL`,
    [eventId, updates.map((u) => u.id), updates.map((u) => u.severity), updates.map((u) => JSON.stringify(u.detail))],
  );
}

export async function clearAlerts(tx: Sql, eventId: string, ids: string[], at: number): Promise<AlertRow[]> {
  if (ids.length === 0) return [];
  return tx.query<AlertRow>(
    `UPDATE alerts SET cleared_at = $3 WHERE event_id = $1 AND id = ANY($2::uuid[]) AND cleared_at IS NULL RETURNING ${ALERT_COLUMNS}`,
    [eventId, ids, new Date(at)],
  );
}

/** One evaluator per event at a time, across instances: the lock is the transaction's, released at commit. */
export async function tryEvaluationLock(tx: Sql, eventId: string): Promise<boolean> {
  const [row] = await tx.query<{ locked: boolean }>(
    `SELECT pg_try_advisory_xact_lock(7343013, hashtext($1)) AS locked`,
    [eventId],
  );
  return row?.locked === true;
}

export async function findAlert(sql: Sql, organisationId: string, alertId: string): Promise<AlertRow | null> {
  const [row] = await sql.query<AlertRow>(
    `SELECT ${ALERT_COLUMNS.split(', ')
      .map((c) => `a.${c}`)
      .join(', ')} FROM alerts a JOIN events e ON e.id = a.event_id
     WHERE a.id = $1 AND e.organisation_id = $2`,
    [alertId, organisationId],
  );
  return row ?? null;
}

/** Acknowledges an alert once (a second acknowledgement keeps the first's who and when). */
export async function acknowledgeAlert(
  tx: Sql,
  eventId: string,
  alertId: string,
  actor: string,
  at: number,
): Promise<AlertRow | null> {
  const [row] = await tx.query<AlertRow>(
    `UPDATE alerts SET acknowledged_by = $3, acknowledged_at = $4 WHERE event_id = $1 AND id = $2 AND acknowledged_at IS NULL RETURNING ${ALERT_COLUMNS}`,
    [eventId, alertId, actor, new Date(at)],
  );
  return row ?? null;
}

/** Names of alert subjects: devices, zones and the event, in one statement. */
export async function subjectNames(
  sql: Sql,
  eventId: string,
  rows: Array<{ subject_kind: string; subject_id: string }>,
): Promise<Map<string, string>> {
  if (rows.length === 0) return new Map();
  const names = await sql.query<{ kind: string; id: string; name: string }>(
    `SELECT 'device' AS kind, id::text, name FROM devices WHERE id = ANY($2::uuid[])
     UNION ALL SELECT 'zone', id::text, name FROM zones WHERE event_id = $1 AND id = ANY($3::uuid[])
     UNION ALL SELECT 'event', id::text, name FROM events WHERE id = $1`,
    [
      eventId,
      rows.filter((r) => r.subject_kind === 'device').map((r) => r.subject_id),
      rows.filter((r) => r.subject_kind === 'zone').map((r) => r.subject_id),
    ],
  );
  return new Map(names.map((n) => [`${n.kind}:${n.id}`, n.name]));
}

/** Actors' display names (`user:<id>` → the user's name, `token:<id>` → the token's name). */
export async function actorNames(sql: Sql, actors: string[]): Promise<Map<string, string>> {
  const users = actors.filter((a) => a.startsWith('user:')).map((a) => a.slice(5));
  const tokens = actors.filter((a) => a.startsWith('token:')).map((a) => a.slice(6));
  if (users.length === 0 && tokens.length === 0) return new Map();
  const rows = await sql.query<{ actor: string; name: string }>(
    `SELECT 'user:' || id::text AS actor, name FROM users WHERE id = ANY($1::uuid[])
     UNION ALL SELECT 'token:' || id::text, name FROM admin_tokens WHERE id = ANY($2::uuid[])`,
    [users, tokens],
  );
  return new Map(rows.map((r) => [r.actor, r.name]));
}

/** The device's sync sessions at the event (seed 001), newest first. */
export async function deviceSyncSessions(
  sql: Sql,
  eventId: string,
  devicePk: string,
  limit: number,
): Promise<
  Array<{
    id: string;
    status: DeviceHistory['sync_sessions'][number]['status'];
    scans_uploaded: number;
    scans_successful: number;
    scans_failed: number;
    scans_duplicate: number;
    scans_conflict: number;
    attempts: number;
    error_message: string | null;
    started_at: Date;
    completed_at: Date | null;
  }>
> {
  return sql.query(
    `SELECT id, status, scans_uploaded, scans_successful, scans_failed, scans_duplicate, scans_conflict, attempts, error_message, started_at, completed_at
     FROM sync_sessions WHERE event_id = $1 AND device_pk = $2 ORDER BY started_at DESC LIMIT $3`,
    [eventId, devicePk, limit],
  );
}

/** Staff logins tried on the device at the event (event_login_logs), newest first; never a PIN. */
export async function deviceLogins(
  sql: Sql,
  eventId: string,
  deviceId: string,
  limit: number,
): Promise<
  Array<{
    id: string;
    identifier: string;
    staff_id: string | null;
    success: boolean;
    message: string | null;
    created_at: Date;
  }>
> {
  return sql.query(
    `SELECT id, identifier, staff_id, success, message, created_at FROM event_login_logs
     WHERE event_id = $1 AND device_id = $2 ORDER BY created_at DESC LIMIT $3`,
    [eventId, deviceId, limit],
  );
}

/** The device's latest scans at the event (no codes, no holder names). */
export async function deviceRecentScans(
  sql: Sql,
  eventId: string,
  devicePk: string,
  limit: number,
): Promise<
  Array<{
    id: string;
    ticket_id: string | null;
    // Closed by the scans table's CHECKs (direction, source) and the writers (result: core's ScanResult).
    result: DeviceHistory['scans'][number]['result'];
    reason: string;
    direction: DeviceHistory['scans'][number]['direction'];
    gate_id: string | null;
    gate_name: string | null;
    staff_id: string | null;
    scanned_at: Date;
    received_at: Date;
    source: DeviceHistory['scans'][number]['source'];
  }>
> {
  return sql.query(
    `SELECT s.id, s.ticket_id, s.result, s.reason, s.direction, s.gate_id, g.name AS gate_name, s.staff_id, s.scanned_at, s.received_at, s.source
     FROM scans s LEFT JOIN gates g ON g.event_id = s.event_id AND g.id = s.gate_id
     WHERE s.event_id = $1 AND s.device_pk = $2 ORDER BY s.received_at DESC, s.scanned_at DESC LIMIT $3`,
    [eventId, devicePk, limit],
  );
}
