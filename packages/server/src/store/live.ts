import type { Direction } from '@entrada/core';
import type { Sql } from '../db/database.ts';

/** Admissions of record and refusals, grouped small enough to derive zones in the service (live dashboard). */
export interface LiveScanCell {
  gateId: string | null;
  typeId: string | null;
  direction: Direction;
  counted: boolean;
  reason: string | null;
  n: number;
}

export interface LiveInsideCell {
  gateId: string | null;
  typeId: string | null;
  n: number;
}

/** A full recount of the live counts, and the scans recorded in its last `recentMs` (see liveCounts). */
export interface LiveCountRows {
  cells: LiveScanCell[];
  inside: LiveInsideCell[];
  admitted: number;
  /** Ids of the scans recorded (received_at) in the recount's last `recentMs`, as its snapshot sees them. */
  recent: Set<string>;
}

/**
 * The live stream's full recount, in one statement so that it is one snapshot: admissions of record (admits,
 * record_status 'admitted') per gate, ticket type and direction (entries and exits per zone), refusals per
 * reason, people inside by their last entry's gate and type, tickets admitted — and the ids of the scans
 * recorded shortly before, so the stream can tell which of the scan messages that reached it during the recount
 * the counts already hold (those recorded after its snapshot are added to it).
 */
export async function liveCounts(sql: Sql, eventId: string, recentMs: number): Promise<LiveCountRows> {
  const rows = await sql.query<{
    kind: 'cell' | 'inside' | 'admitted' | 'recent';
    gate_id: string | null;
    type_id: string | null;
    direction: Direction | null;
    counted: boolean | null;
    label: string | null;
    n: number;
  }>(
    `SELECT 'cell' AS kind, s.gate_id::text, t.ticket_type_id::text AS type_id, s.direction, (s.admits AND s.record_status = 'admitted') AS counted,
            CASE WHEN s.admits THEN NULL ELSE s.reason END AS label, count(*)::int AS n
     FROM scans s LEFT JOIN tickets t ON t.event_id = s.event_id AND t.id = s.ticket_id
     WHERE s.event_id = $1 AND (NOT s.admits OR s.record_status = 'admitted')
     GROUP BY 2, 3, 4, 5, 6
     UNION ALL
     SELECT 'inside', last_gate_id::text, ticket_type_id::text, NULL, NULL, NULL, count(*)::int FROM tickets
     WHERE event_id = $1 AND last_direction = 'entry' GROUP BY 2, 3
     UNION ALL
     SELECT 'admitted', NULL, NULL, NULL, NULL, NULL, count(*)::int FROM tickets WHERE event_id = $1 AND first_at IS NOT NULL
     UNION ALL
     SELECT 'recent', NULL, NULL, NULL, NULL, id::text, 0 FROM scans WHERE event_id = $1 AND received_at >= now() - make_interval(secs => $2::float8 / 1000)`,
    [eventId, recentMs],
    { name: 'live_counts' },
  );
  const out: LiveCountRows = { cells: [], inside: [], admitted: 0, recent: new Set() };
  for (const r of rows) {
    if (r.kind === 'cell')
      out.cells.push({
        gateId: r.gate_id,
        typeId: r.type_id,
        direction: r.direction!,
        counted: r.counted!,
        reason: r.label,
        n: r.n,
      });
    else if (r.kind === 'inside') out.inside.push({ gateId: r.gate_id, typeId: r.type_id, n: r.n });
    else if (r.kind === 'admitted') out.admitted = r.n;
    else if (r.label !== null) out.recent.add(r.label);
  }
  return out;
}

/** What the devices' latest heartbeats say they still hold: the most the counts may rise by, and how many devices hold it. */
export async function pendingFromHeartbeats(sql: Sql, eventId: string): Promise<{ pending: number; devices: number }> {
  const [row] = await sql.query<{ pending: number; devices: number }>(
    `SELECT coalesce(sum(pending_scans), 0)::int AS pending, count(*) FILTER (WHERE pending_scans > 0)::int AS devices
     FROM device_heartbeats WHERE event_id = $1`,
    [eventId],
    { name: 'live_pending' },
  );
  return { pending: row?.pending ?? 0, devices: row?.devices ?? 0 };
}

export interface RateCell {
  minute: number;
  gateId: string | null;
  direction: Direction;
  n: number;
}

/** Admissions of record per minute (of scan time), gate and direction since `since` (the dashboard's chart on connect). */
export async function rateSince(sql: Sql, eventId: string, since: number): Promise<RateCell[]> {
  const rows = await sql.query<{ minute: Date; gate_id: string | null; direction: Direction; n: number }>(
    `SELECT date_trunc('minute', scanned_at) AS minute, gate_id, direction, count(*)::int AS n
     FROM scans WHERE event_id = $1 AND scanned_at >= $2 AND admits AND record_status = 'admitted'
     GROUP BY 1, 2, 3`,
    [eventId, new Date(since)],
    { name: 'live_rate' },
  );
  return rows.map((r) => ({ minute: new Date(r.minute).getTime(), gateId: r.gate_id, direction: r.direction, n: r.n }));
}

/** Holder names of a batch of tickets, one statement (only for dashboards whose role may see them). */
export async function holderNames(sql: Sql, eventId: string, ticketIds: string[]): Promise<Map<string, string>> {
  if (ticketIds.length === 0) return new Map();
  const rows = await sql.query<{ id: string; holder_name: string }>(
    `SELECT id, holder_name FROM tickets WHERE event_id = $1 AND id = ANY($2::uuid[]) AND holder_name IS NOT NULL`,
    [eventId, ticketIds],
  );
  return new Map(rows.map((r) => [r.id, r.holder_name]));
}

export interface HeartbeatRow {
  eventId: string;
  devicePk: string;
  receivedAt: number;
  deviceTime: number;
  appVersion: string;
  pendingScans: number;
}

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
    [h.eventId, h.devicePk, new Date(h.receivedAt), new Date(h.deviceTime), h.appVersion, h.pendingScans],
  );
}
