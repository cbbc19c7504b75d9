import type { SyncStatusResponse } from '@entrada/core';
import type { Database } from '../../db/database.ts';
import { recordSyncFailure } from '../../store/device-logs.ts';
import type { DeviceRecord } from '../../store/devices.ts';
import { DomainError } from '../errors.ts';
import { deviceScanCounts } from '../../store/offline-scans.ts';
import { failSyncSession, lastSyncSession } from '../../store/sync-sessions.ts';
import { ms } from '../../store/rows.ts';
import type { EventContext } from '../event-context.ts';
import type { DeviceHealth } from './offline-health.ts';

const iso = (v: number | null): string | null => (v === null ? null : new Date(v).toISOString());

/** Seed 001's sync status response, plus the device log's marks. */
export async function syncStatus(
  db: Database,
  ctx: EventContext,
  health: DeviceHealth,
  now: number,
): Promise<SyncStatusResponse> {
  const counts = await deviceScanCounts(db, ctx.event.id, health.device_id, ctx.event.organisationId);
  const last = await lastSyncSession(db, ctx.event.id, health.device_id, ctx.event.organisationId);
  return {
    status: 200,
    event_id: ctx.event.id,
    device_id: health.device_id,
    total_scans: counts?.total ?? 0,
    // What the server knows is still on the device: the upload lag it reported, else the holes below its last seq.
    pending_scans: health.upload_lag ?? health.missing_count,
    conflicts: counts?.conflicts ?? 0,
    failed_scans: counts?.failed ?? 0,
    last_sync: last
      ? {
          session_id: last.id,
          scans_uploaded: last.scans_uploaded,
          scans_successful: last.scans_successful,
          scans_failed: last.scans_failed,
          scans_duplicate: last.scans_duplicate,
          scans_conflict: last.scans_conflict,
          completed_at: iso(ms(last.completed_at)),
          status: last.status,
        }
      : null,
    last_seq: health.last_seq,
    acked_through: health.acked_through,
    missing: health.missing,
    reported_last_seq: health.reported_last_seq,
    clock_offset_ms: health.clock_offset_ms,
    last_seen_at: health.last_seen_at,
    last_sync_at: health.last_sync_at,
    flags: health.flags,
    timestamp: new Date(now).toISOString(),
  };
}

/**
 * An upload that failed: recorded as a `failed` sync session with its error message (what the device was told, never
 * the body), and, when the server was at fault (not the request), counted in the device's sync failure rate.
 * Best effort, after the failed transaction rolled back.
 */
export async function recordUploadFailure(
  db: Database,
  device: DeviceRecord,
  body: { event_id: string; session_token: string },
  err: unknown,
  at: number,
): Promise<void> {
  const serverFault = !(err instanceof DomainError) || err.status >= 500;
  const message =
    err instanceof DomainError
      ? `${err.code}: ${err.message}`.slice(0, 500)
      : 'INTERNAL: the server could not apply the upload (nothing was stored)';
  if (serverFault) await recordSyncFailure(db, body.event_id, device.pk, at);
  await failSyncSession(db, {
    eventId: body.event_id,
    devicePk: device.pk,
    organisationId: device.organisationId,
    token: body.session_token,
    message,
    at,
  });
}
