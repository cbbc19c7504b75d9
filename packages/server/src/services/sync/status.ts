import type { Database } from '../../db/database.ts';
import { ms } from '../../store/rows.ts';
import type { EventContext } from '../event-context.ts';
import type { DeviceHealth } from './offline-health.ts';

const iso = (v: number | null): string | null => (v === null ? null : new Date(v).toISOString());

/** Seed 001's sync status response, plus the device log's marks. */
export async function syncStatus(db: Database, ctx: EventContext, health: DeviceHealth, now: number): Promise<Record<string, unknown>> {
  const [counts] = await db.query<{ total: number; conflicts: number; failed: number }>(
    `SELECT count(*)::int AS total, count(*) FILTER (WHERE s.record_status = 'conflict')::int AS conflicts,
       count(*) FILTER (WHERE s.record_status IN ('failed', 'quarantined'))::int AS failed
     FROM scans s JOIN devices d ON d.id = s.device_pk WHERE s.event_id = $1 AND d.device_id = $2 AND d.organisation_id = $3`,
    [ctx.event.id, health.device_id, ctx.event.organisationId]);
  const [last] = await db.query<{
    id: string; scans_uploaded: number; scans_successful: number; scans_failed: number; scans_duplicate: number; scans_conflict: number;
    completed_at: Date | null; started_at: Date; status: string;
  }>(
    `SELECT s.id, s.scans_uploaded, s.scans_successful, s.scans_failed, s.scans_duplicate, s.scans_conflict, s.completed_at, s.started_at, s.status
     FROM sync_sessions s JOIN devices d ON d.id = s.device_pk
     WHERE s.event_id = $1 AND d.device_id = $2 AND d.organisation_id = $3 ORDER BY coalesce(s.completed_at, s.started_at) DESC LIMIT 1`,
    [ctx.event.id, health.device_id, ctx.event.organisationId]);
  return {
    status: 200,
    event_id: ctx.event.id,
    device_id: health.device_id,
    total_scans: counts?.total ?? 0,
    // What the server knows is still on the device: the upload lag it reported, else the holes below its last seq.
    pending_scans: health.upload_lag ?? health.missing_count,
    conflicts: counts?.conflicts ?? 0,
    failed_scans: counts?.failed ?? 0,
    last_sync: last ? {
      session_id: last.id, scans_uploaded: last.scans_uploaded, scans_successful: last.scans_successful, scans_failed: last.scans_failed,
      scans_duplicate: last.scans_duplicate, scans_conflict: last.scans_conflict, completed_at: iso(ms(last.completed_at)), status: last.status,
    } : null,
    last_seq: health.last_seq,
    acked_through: health.acked_through,
    missing: health.missing,
    reported_last_seq: health.reported_last_seq,
    clock_offset_ms: health.clock_offset_ms,
    last_seen_at: health.last_seen_at,
    last_sync_at: health.last_sync_at,
    flags: health.flags,
    timestamp: iso(now),
  };
}
