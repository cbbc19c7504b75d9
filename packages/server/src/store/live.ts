import type { Direction } from '@entrada/core';
import type { Sql } from '../db/database.ts';

/** Admissions of record and refusals, grouped small enough to derive zones in the service (live dashboard). */
export interface LiveScanCell { gateId: string | null; typeId: string | null; direction: Direction; counted: boolean; reason: string | null; n: number }

/**
 * One statement per recount, whatever the number of dashboards: admissions of
 * record (admits, record_status 'admitted') per gate, ticket type and direction
 * (entries and exits per zone), and refusals per reason (the denied totals).
 */
export async function liveScanCells(sql: Sql, eventId: string): Promise<LiveScanCell[]> {
  const rows = await sql.query<{ gate_id: string | null; type_id: string | null; direction: Direction; counted: boolean; reason: string | null; n: number }>(
    `SELECT s.gate_id, t.ticket_type_id AS type_id, s.direction, (s.admits AND s.record_status = 'admitted') AS counted,
            CASE WHEN s.admits THEN NULL ELSE s.reason END AS reason, count(*)::int AS n
     FROM scans s LEFT JOIN tickets t ON t.event_id = s.event_id AND t.id = s.ticket_id
     WHERE s.event_id = $1 AND (NOT s.admits OR s.record_status = 'admitted')
     GROUP BY 1, 2, 3, 4, 5`, [eventId], { name: 'live_scan_cells' });
  return rows.map((r) => ({ gateId: r.gate_id, typeId: r.type_id, direction: r.direction, counted: r.counted, reason: r.reason, n: r.n }));
}

/** What the devices' latest heartbeats say they still hold: the most the counts may rise by, and how many devices hold it. */
export async function pendingFromHeartbeats(sql: Sql, eventId: string): Promise<{ pending: number; devices: number }> {
  const [row] = await sql.query<{ pending: number; devices: number }>(
    `SELECT coalesce(sum(pending_scans), 0)::int AS pending, count(*) FILTER (WHERE pending_scans > 0)::int AS devices
     FROM device_heartbeats WHERE event_id = $1`, [eventId], { name: 'live_pending' });
  return { pending: row?.pending ?? 0, devices: row?.devices ?? 0 };
}

export interface RateCell { minute: number; gateId: string | null; direction: Direction; n: number }

/** Admissions of record per minute (of scan time), gate and direction since `since` (the dashboard's chart on connect). */
export async function rateSince(sql: Sql, eventId: string, since: number): Promise<RateCell[]> {
  const rows = await sql.query<{ minute: Date; gate_id: string | null; direction: Direction; n: number }>(
    `SELECT date_trunc('minute', scanned_at) AS minute, gate_id, direction, count(*)::int AS n
     FROM scans WHERE event_id = $1 AND scanned_at >= $2 AND admits AND record_status = 'admitted'
     GROUP BY 1, 2, 3`, [eventId, new Date(since)], { name: 'live_rate' });
  return rows.map((r) => ({ minute: new Date(r.minute).getTime(), gateId: r.gate_id, direction: r.direction, n: r.n }));
}

/** Holder names of a batch of tickets, one statement (only for dashboards whose role may see them). */
export async function holderNames(sql: Sql, eventId: string, ticketIds: string[]): Promise<Map<string, string>> {
  if (ticketIds.length === 0) return new Map();
  const rows = await sql.query<{ id: string; holder_name: string }>(
    `SELECT id, holder_name FROM tickets WHERE event_id = $1 AND id = ANY($2::uuid[]) AND holder_name IS NOT NULL`, [eventId, ticketIds]);
  return new Map(rows.map((r) => [r.id, r.holder_name]));
}

export interface HeartbeatRow { eventId: string; devicePk: string; receivedAt: number; deviceTime: number; appVersion: string; pendingScans: number }

/**
 * The latest heartbeat of a device at an event (the minimum of migration 012's columns). The heartbeat route is
 * another branch's; the live stream's tests record heartbeats through this.
 */
export async function upsertHeartbeat(sql: Sql, h: HeartbeatRow): Promise<void> {
  await sql.query(
    `INSERT INTO device_heartbeats (event_id, device_pk, received_at, device_time, app_version, pending_scans)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (event_id, device_pk) DO UPDATE SET received_at = excluded.received_at, device_time = excluded.device_time,
       app_version = excluded.app_version, pending_scans = excluded.pending_scans`,
    [h.eventId, h.devicePk, new Date(h.receivedAt), new Date(h.deviceTime), h.appVersion, h.pendingScans]);
}
