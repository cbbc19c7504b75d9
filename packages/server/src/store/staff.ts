import type { Sql } from '../db/database.ts';
import { ms } from './rows.ts';

export interface StaffRecord {
  eventId: string;
  id: string;
  organisationId: string;
  username: string;
  name: string;
  pinHash: string;
  active: boolean;
  createdAt: number;
}
interface RawStaff {
  event_id: string;
  id: string;
  organisation_id: string;
  username: string;
  name: string;
  pin_hash: string;
  active: boolean;
  created_at: Date;
}
const STAFF_COLUMNS = `event_id, id, organisation_id, username, name, pin_hash, active, created_at`;

function toStaff(r: RawStaff): StaffRecord {
  return {
    eventId: r.event_id,
    id: r.id,
    organisationId: r.organisation_id,
    username: r.username,
    name: r.name,
    pinHash: r.pin_hash,
    active: r.active,
    createdAt: ms(r.created_at)!,
  };
}

/** A username taken in the event (in any letter case) throws a unique violation. */
export async function insertStaff(
  sql: Sql,
  s: { eventId: string; organisationId: string; username: string; name: string; pinHash: string },
): Promise<StaffRecord> {
  const [row] = await sql.query<RawStaff>(
    `INSERT INTO event_staff (event_id, organisation_id, username, name, pin_hash) VALUES ($1, $2, $3, $4, $5) RETURNING ${STAFF_COLUMNS}`,
    [s.eventId, s.organisationId, s.username, s.name, s.pinHash],
  );
  return toStaff(row!);
}

export async function listStaff(sql: Sql, organisationId: string, eventId: string): Promise<StaffRecord[]> {
  const rows = await sql.query<RawStaff>(
    `SELECT ${STAFF_COLUMNS} FROM event_staff WHERE event_id = $1 AND organisation_id = $2 ORDER BY lower(username)`,
    [eventId, organisationId],
  );
  return rows.map(toStaff);
}

/** Case-insensitive, through the (event_id, lower(username)) unique index. */
export async function findStaffByUsername(
  sql: Sql,
  organisationId: string,
  eventId: string,
  username: string,
): Promise<StaffRecord | null> {
  const [row] = await sql.query<RawStaff>(
    `SELECT ${STAFF_COLUMNS} FROM event_staff WHERE event_id = $1 AND lower(username) = lower($2) AND organisation_id = $3`,
    [eventId, username, organisationId],
  );
  return row ? toStaff(row) : null;
}

export async function setStaffActive(
  sql: Sql,
  organisationId: string,
  eventId: string,
  staffId: string,
  active: boolean,
): Promise<StaffRecord | null> {
  const [row] = await sql.query<RawStaff>(
    `UPDATE event_staff SET active = $4 WHERE event_id = $1 AND id = $2 AND organisation_id = $3 RETURNING ${STAFF_COLUMNS}`,
    [eventId, staffId, organisationId, active],
  );
  return row ? toStaff(row) : null;
}

export interface EventLoginLogRecord {
  id: string;
  identifier: string;
  deviceId: string | null;
  staffId: string | null;
  success: boolean;
  message: string | null;
  ipAddress: string | null;
  userAgent: string | null;
  createdAt: number;
}
interface RawLoginLog {
  id: string;
  identifier: string;
  device_id: string | null;
  staff_id: string | null;
  success: boolean;
  message: string | null;
  ip_address: string | null;
  user_agent: string | null;
  created_at: Date;
}

/** One staff login attempt. Never given the PIN. */
export async function insertEventLoginLog(
  sql: Sql,
  log: {
    eventId: string;
    identifier: string;
    deviceId: string | null;
    staffId: string | null;
    success: boolean;
    message: string;
    ip: string | null;
    userAgent: string | null;
    at: number;
  },
): Promise<void> {
  await sql.query(
    `INSERT INTO event_login_logs (event_id, identifier, device_id, staff_id, success, message, ip_address, user_agent, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [
      log.eventId,
      log.identifier.slice(0, 200),
      log.deviceId,
      log.staffId,
      log.success,
      log.message,
      log.ip,
      log.userAgent?.slice(0, 400) ?? null,
      new Date(log.at),
    ],
  );
}

/**
 * Failed logins at an event since `since`, from the log every API instance
 * writes, so the limits hold across instances and not only within one: the
 * device's since its last successful login, and the address's (a success
 * does not reset those: one right PIN must not buy an address more guesses).
 * Rate-limited attempts are not failures (they were not tried). One statement.
 */
export async function recentLoginFailures(
  sql: Sql,
  eventId: string,
  deviceId: string,
  ip: string,
  since: number,
): Promise<{
  device: { count: number; oldest: number | null };
  address: { count: number; oldest: number | null };
}> {
  const [row] = await sql.query<{
    device_n: number;
    device_oldest: Date | null;
    address_n: number;
    address_oldest: Date | null;
  }>(
    `SELECT d.n AS device_n, d.oldest AS device_oldest, a.n AS address_n, a.oldest AS address_oldest
     FROM (SELECT count(*)::int AS n, min(l.created_at) AS oldest FROM event_login_logs l
           WHERE l.event_id = $1 AND l.device_id = $2 AND NOT l.success AND l.message <> 'rate limited'
             AND l.created_at > greatest($3::timestamptz, (SELECT max(s.created_at) FROM event_login_logs s
                                                           WHERE s.event_id = $1 AND s.device_id = $2 AND s.success AND s.created_at > $3::timestamptz))) d,
          (SELECT count(*)::int AS n, min(l.created_at) AS oldest FROM event_login_logs l
           WHERE l.event_id = $1 AND l.ip_address = $4 AND NOT l.success AND l.message <> 'rate limited' AND l.created_at > $3::timestamptz) a`,
    [eventId, deviceId, new Date(since), ip],
  );
  return {
    device: { count: row?.device_n ?? 0, oldest: ms(row?.device_oldest) },
    address: { count: row?.address_n ?? 0, oldest: ms(row?.address_oldest) },
  };
}

export async function listEventLoginLogs(sql: Sql, eventId: string, limit: number): Promise<EventLoginLogRecord[]> {
  const rows = await sql.query<RawLoginLog>(
    `SELECT id, identifier, device_id, staff_id, success, message, ip_address, user_agent, created_at
     FROM event_login_logs WHERE event_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2`,
    [eventId, limit],
  );
  return rows.map((r) => ({
    id: r.id,
    identifier: r.identifier,
    deviceId: r.device_id,
    staffId: r.staff_id,
    success: r.success,
    message: r.message,
    ipAddress: r.ip_address,
    userAgent: r.user_agent,
    createdAt: ms(r.created_at)!,
  }));
}

/**
 * Which of these ids are staff of the event (a scan's staff member, online or
 * offline, must be: an id of another event names nobody here). One statement
 * for a whole upload; deactivated staff still count (they were logged in when
 * they scanned).
 */
export async function staffOfEvent(sql: Sql, eventId: string, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await sql.query<{ id: string }>(
    'SELECT id FROM event_staff WHERE event_id = $1 AND id = ANY($2::uuid[])',
    [eventId, [...new Set(ids)]],
  );
  return new Set(rows.map((r) => r.id));
}
