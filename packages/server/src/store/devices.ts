import type { Direction } from '@entrada/core';
import type { Sql } from '../db/database.ts';
import { ms } from './rows.ts';

export type DeviceStatus = 'active' | 'suspended' | 'revoked';
export interface DeviceRecord {
  pk: string;
  organisationId: string;
  deviceId: string;
  name: string;
  deviceType: 'scanner' | 'mobile';
  status: DeviceStatus;
  publicKey: Buffer | null;
  settings: Record<string, unknown>;
  lastSeenAt: number | null;
  statusChangedAt: number | null;
  statusReason: string | null;
  activeSessionId: string | null;
  activeEventId: string | null;
  createdAt: number;
  /** The events the device may use; null: every event of its organisation. */
  eventIds: string[] | null;
  /** The gate (and its event) the device starts on, set by an organiser. */
  defaultEventId?: string | null;
  defaultGateId?: string | null;
}
interface RawDevice {
  id: string;
  organisation_id: string;
  device_id: string;
  name: string;
  device_type: 'scanner' | 'mobile';
  status: DeviceStatus;
  public_key: Uint8Array | null;
  settings: Record<string, unknown>;
  last_seen_at: Date | null;
  status_changed_at: Date | null;
  status_reason: string | null;
  active_session_id: string | null;
  active_event_id: string | null;
  created_at: Date;
  event_ids: string[] | null;
  default_event_id: string | null;
  default_gate_id: string | null;
}
const DEVICE_COLUMNS = `id, organisation_id, device_id, name, device_type, status, public_key, settings, last_seen_at,
  status_changed_at, status_reason, active_session_id, active_event_id, created_at, event_ids::text[] AS event_ids,
  default_event_id, default_gate_id`;

function toDevice(r: RawDevice): DeviceRecord {
  return {
    pk: r.id,
    organisationId: r.organisation_id,
    deviceId: r.device_id,
    name: r.name,
    deviceType: r.device_type,
    status: r.status,
    publicKey: r.public_key ? Buffer.from(r.public_key) : null,
    settings: r.settings ?? {},
    lastSeenAt: ms(r.last_seen_at),
    statusChangedAt: ms(r.status_changed_at),
    statusReason: r.status_reason,
    activeSessionId: r.active_session_id,
    activeEventId: r.active_event_id,
    createdAt: ms(r.created_at)!,
    eventIds: r.event_ids,
    defaultEventId: r.default_event_id,
    defaultGateId: r.default_gate_id,
  };
}

export async function insertDevice(
  sql: Sql,
  d: {
    organisationId: string;
    deviceId: string;
    name: string;
    deviceType: 'scanner' | 'mobile';
    tokenHash: Buffer;
    publicKey: Buffer | null;
    settings?: Record<string, unknown>;
    eventIds: string[] | null;
  },
): Promise<DeviceRecord | null> {
  const [row] = await sql.query<RawDevice>(
    `INSERT INTO devices (organisation_id, device_id, name, device_type, token_hash, public_key, settings, event_ids) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (organisation_id, device_id) DO NOTHING RETURNING ${DEVICE_COLUMNS}`,
    [
      d.organisationId,
      d.deviceId,
      d.name,
      d.deviceType,
      d.tokenHash,
      d.publicKey,
      JSON.stringify(d.settings ?? {}),
      d.eventIds,
    ],
  );
  return row ? toDevice(row) : null;
}

export async function findDeviceByTokenHash(sql: Sql, tokenHash: Buffer): Promise<DeviceRecord | null> {
  const [row] = await sql.query<RawDevice>(`SELECT ${DEVICE_COLUMNS} FROM devices WHERE token_hash = $1`, [tokenHash], {
    name: 'device_by_token',
  });
  return row ? toDevice(row) : null;
}

export async function listDevices(sql: Sql, organisationId: string): Promise<DeviceRecord[]> {
  const rows = await sql.query<RawDevice>(
    `SELECT ${DEVICE_COLUMNS} FROM devices WHERE organisation_id = $1 ORDER BY created_at, device_id`,
    [organisationId],
  );
  return rows.map(toDevice);
}

/**
 * A page of the organisation's devices (those that may use `eventId`, when given: scoped to it or to every
 * event) in registration order, after the keyset (created_at as the database's text, device_id): the
 * devices_org index, so page 100 costs what page 1 does.
 */
export async function listDevicesPage(
  sql: Sql,
  organisationId: string,
  eventId: string | null,
  after: { createdAt: string; deviceId: string } | null,
  limit: number,
): Promise<Array<{ device: DeviceRecord; key: { createdAt: string; deviceId: string } }>> {
  const rows = await sql.query<RawDevice & { created_at_text: string }>(
    `SELECT ${DEVICE_COLUMNS}, created_at::text AS created_at_text FROM devices
     WHERE organisation_id = $1 AND ($2::uuid IS NULL OR event_ids IS NULL OR $2::uuid = ANY(event_ids))
       AND ($3::timestamptz IS NULL OR (created_at, device_id) > ($3::timestamptz, $4::text))
     ORDER BY created_at, device_id LIMIT $5`,
    [organisationId, eventId, after?.createdAt ?? null, after?.deviceId ?? null, limit],
  );
  return rows.map((r) => ({ device: toDevice(r), key: { createdAt: r.created_at_text, deviceId: r.device_id } }));
}

export async function getDevice(sql: Sql, organisationId: string, deviceId: string): Promise<DeviceRecord | null> {
  const [row] = await sql.query<RawDevice>(
    `SELECT ${DEVICE_COLUMNS} FROM devices WHERE organisation_id = $1 AND device_id = $2`,
    [organisationId, deviceId],
  );
  return row ? toDevice(row) : null;
}

export async function setDeviceStatus(
  sql: Sql,
  organisationId: string,
  deviceId: string,
  status: DeviceStatus,
  reason: string | null,
  effectiveAt: number,
): Promise<DeviceRecord | null> {
  const [row] = await sql.query<RawDevice>(
    `UPDATE devices SET status = $3, status_reason = $4, status_changed_at = $5
     WHERE organisation_id = $1 AND device_id = $2 AND status <> 'revoked' RETURNING ${DEVICE_COLUMNS}`,
    [organisationId, deviceId, status, reason, new Date(effectiveAt)],
  );
  return row ? toDevice(row) : null;
}

/**
 * Adds events to a device's scope (a device of every event keeps every
 * event). The caller has checked the events are the organisation's.
 */
export async function addDeviceEvents(
  sql: Sql,
  organisationId: string,
  deviceId: string,
  eventIds: string[],
): Promise<DeviceRecord | null> {
  const [row] = await sql.query<RawDevice>(
    `UPDATE devices SET event_ids = ARRAY(SELECT DISTINCT e FROM unnest(event_ids || $3::uuid[]) e ORDER BY e)
     WHERE organisation_id = $1 AND device_id = $2 AND event_ids IS NOT NULL RETURNING ${DEVICE_COLUMNS}`,
    [organisationId, deviceId, eventIds],
  );
  return row ? toDevice(row) : getDevice(sql, organisationId, deviceId);
}

/** Throttled by the caller; a missed update only makes "last seen" slightly older. */
export async function touchDevices(sql: Sql, devicePks: string[]): Promise<void> {
  if (devicePks.length === 0) return;
  await sql.query(`UPDATE devices SET last_seen_at = now() WHERE id = ANY($1::uuid[])`, [devicePks]);
}

export interface SessionRecord {
  id: string;
  eventId: string;
  devicePk: string;
  gateId: string;
  direction: Direction;
  status: 'active' | 'ended';
  startedAt: number;
  endedAt: number | null;
}
interface RawSession {
  id: string;
  event_id: string;
  device_pk: string;
  gate_id: string;
  direction: Direction;
  status: 'active' | 'ended';
  started_at: Date;
  ended_at: Date | null;
}
const SESSION_COLUMNS = `id, event_id, device_pk, gate_id, direction, status, started_at, ended_at`;
function toSession(r: RawSession): SessionRecord {
  return {
    id: r.id,
    eventId: r.event_id,
    devicePk: r.device_pk,
    gateId: r.gate_id,
    direction: r.direction,
    status: r.status,
    startedAt: ms(r.started_at)!,
    endedAt: ms(r.ended_at),
  };
}

/**
 * Starts a session and ends the device's previous one. The device row lock
 * makes "one active session per device" hold across events and instances.
 */
export async function startSession(
  tx: Sql,
  s: { devicePk: string; eventId: string; gateId: string; direction: Direction },
): Promise<{ session: SessionRecord; endedSessionId: string | null }> {
  const [device] = await tx.query<{ active_session_id: string | null; active_event_id: string | null }>(
    `SELECT active_session_id, active_event_id FROM devices WHERE id = $1 FOR UPDATE`,
    [s.devicePk],
  );
  let endedSessionId: string | null = null;
  if (device?.active_session_id && device.active_event_id) {
    const ended = await tx.query<{ id: string }>(
      `UPDATE scan_sessions SET status = 'ended', ended_at = now() WHERE event_id = $1 AND id = $2 AND status = 'active' RETURNING id`,
      [device.active_event_id, device.active_session_id],
    );
    endedSessionId = ended[0]?.id ?? null;
  }
  const [row] = await tx.query<RawSession>(
    `INSERT INTO scan_sessions (event_id, device_pk, gate_id, direction) VALUES ($1, $2, $3, $4) RETURNING ${SESSION_COLUMNS}`,
    [s.eventId, s.devicePk, s.gateId, s.direction],
  );
  const session = toSession(row!);
  await tx.query(`UPDATE devices SET active_session_id = $2, active_event_id = $3 WHERE id = $1`, [
    s.devicePk,
    session.id,
    s.eventId,
  ]);
  return { session, endedSessionId };
}

export async function getSession(sql: Sql, sessionId: string): Promise<SessionRecord | null> {
  const [row] = await sql.query<RawSession>(`SELECT ${SESSION_COLUMNS} FROM scan_sessions WHERE id = $1`, [sessionId], {
    name: 'session_by_id',
  });
  return row ? toSession(row) : null;
}

export async function endSession(
  tx: Sql,
  eventId: string,
  sessionId: string,
  devicePk: string,
): Promise<SessionRecord | null> {
  const [row] = await tx.query<RawSession>(
    `UPDATE scan_sessions SET status = 'ended', ended_at = coalesce(ended_at, now()) WHERE event_id = $1 AND id = $2 RETURNING ${SESSION_COLUMNS}`,
    [eventId, sessionId],
  );
  await tx.query(
    `UPDATE devices SET active_session_id = NULL, active_event_id = NULL WHERE id = $1 AND active_session_id = $2`,
    [devicePk, sessionId],
  );
  return row ? toSession(row) : null;
}

/** A device's display name, or null when there is no such device. */
export async function deviceName(sql: Sql, organisationId: string, deviceId: string): Promise<string | null> {
  const [row] = await sql.query<{ name: string }>(
    `SELECT name FROM devices WHERE organisation_id = $1 AND device_id = $2`,
    [organisationId, deviceId],
  );
  return row?.name ?? null;
}
