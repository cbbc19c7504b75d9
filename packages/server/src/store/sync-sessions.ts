import type { Sql } from '../db/database.ts';

/** sync_sessions: one row per upload session of a device (seed 001); closed by saveDeviceLog in device-logs.ts. */

/** Opens (or reopens, on a retry with the same token) the sync session first, so scans can reference it. */
export async function openSyncSession(
  tx: Sql,
  s: { eventId: string; devicePk: string; token: string; at: number },
): Promise<string> {
  const [row] = await tx.query<{ id: string }>(
    `INSERT INTO sync_sessions (event_id, device_pk, session_token, attempts, status, started_at) VALUES ($1, $2, $3, 1, 'in_progress', $4)
     ON CONFLICT (event_id, device_pk, session_token) DO UPDATE SET attempts = sync_sessions.attempts + 1, status = 'in_progress'
     RETURNING id`,
    [s.eventId, s.devicePk, s.token, new Date(s.at)],
    { name: 'sync_open_session' },
  );
  return row!.id;
}

export interface LastSyncSessionRow {
  id: string;
  scans_uploaded: number;
  scans_successful: number;
  scans_failed: number;
  scans_duplicate: number;
  scans_conflict: number;
  completed_at: Date | null;
  started_at: Date;
  status: string;
}

/** A device's most recent sync session at an event. */
export async function lastSyncSession(
  sql: Sql,
  eventId: string,
  deviceId: string,
  organisationId: string,
): Promise<LastSyncSessionRow | undefined> {
  const [last] = await sql.query<LastSyncSessionRow>(
    `SELECT s.id, s.scans_uploaded, s.scans_successful, s.scans_failed, s.scans_duplicate, s.scans_conflict, s.completed_at, s.started_at, s.status
     FROM sync_sessions s JOIN devices d ON d.id = s.device_pk
     WHERE s.event_id = $1 AND d.device_id = $2 AND d.organisation_id = $3 ORDER BY coalesce(s.completed_at, s.started_at) DESC LIMIT 1`,
    [eventId, deviceId, organisationId],
  );
  return last;
}

/**
 * A sync that failed, recorded as a `failed` session with its error message (seed 001's sync_sessions): the session of
 * that token created or marked failed, in one statement, outside the failed transaction (which rolled its own back).
 * Only at an event of the device's organisation: a device cannot write rows under another organisation's event.
 */
export async function failSyncSession(
  sql: Sql,
  s: { eventId: string; devicePk: string; organisationId: string; token: string; message: string; at: number },
): Promise<void> {
  await sql.query(
    `INSERT INTO sync_sessions (event_id, device_pk, session_token, attempts, status, error_message, started_at, completed_at)
     SELECT e.id, $2, $3, 1, 'failed', $4, $5, $5 FROM events e WHERE e.id = $1 AND e.organisation_id = $6
     ON CONFLICT (event_id, device_pk, session_token) DO UPDATE SET attempts = sync_sessions.attempts + 1, status = 'failed',
       error_message = EXCLUDED.error_message, completed_at = EXCLUDED.completed_at`,
    [s.eventId, s.devicePk, s.token, s.message, new Date(s.at), s.organisationId],
  );
}
