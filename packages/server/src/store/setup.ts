/**
 * Changes to an event's set-up: each row read under lock (the "before" of the
 * audit entry), written whole, and what depends on it counted in one
 * statement before a delete.
 */
import type { CapacityMode } from '@entrada/core';
import type { Sql } from '../db/database.ts';
import { ms } from './rows.ts';

const date = (v: number | null): Date | null => (v === null ? null : new Date(v));

export interface EventSetupRow {
  id: string;
  organisationId: string;
  name: string;
  startsAt: number;
  endsAt: number;
  timezone: string;
  settings: Record<string, unknown>;
}

export async function lockEvent(sql: Sql, organisationId: string, eventId: string): Promise<EventSetupRow | null> {
  const [r] = await sql.query<{
    id: string;
    organisation_id: string;
    name: string;
    starts_at: Date;
    ends_at: Date;
    timezone: string;
    settings: Record<string, unknown>;
  }>(
    `SELECT id, organisation_id, name, starts_at, ends_at, timezone, settings FROM events WHERE id = $1 AND organisation_id = $2 FOR UPDATE`,
    [eventId, organisationId],
  );
  return r
    ? {
        id: r.id,
        organisationId: r.organisation_id,
        name: r.name,
        startsAt: ms(r.starts_at)!,
        endsAt: ms(r.ends_at)!,
        timezone: r.timezone,
        settings: r.settings ?? {},
      }
    : null;
}

export async function updateEvent(sql: Sql, e: EventSetupRow): Promise<void> {
  await sql.query(
    `UPDATE events SET name = $2, starts_at = $3, ends_at = $4, timezone = $5, settings = $6 WHERE id = $1`,
    [e.id, e.name, new Date(e.startsAt), new Date(e.endsAt), e.timezone, JSON.stringify(e.settings)],
  );
}

export interface ZoneSetupRow {
  id: string;
  name: string;
  capacity: number | null;
  capacityMode: CapacityMode;
}
export async function lockZone(sql: Sql, eventId: string, zoneId: string): Promise<ZoneSetupRow | null> {
  const [r] = await sql.query<ZoneSetupRow>(
    `SELECT id, name, capacity, capacity_mode AS "capacityMode" FROM zones WHERE event_id = $1 AND id = $2 FOR UPDATE`,
    [eventId, zoneId],
  );
  return r ?? null;
}
export async function updateZone(sql: Sql, eventId: string, z: ZoneSetupRow): Promise<void> {
  await sql.query(`UPDATE zones SET name = $3, capacity = $4, capacity_mode = $5 WHERE event_id = $1 AND id = $2`, [
    eventId,
    z.id,
    z.name,
    z.capacity,
    z.capacityMode,
  ]);
}

export interface GateSetupRow {
  id: string;
  name: string;
  zoneIds: string[];
  closedAt: number | null;
}
export async function lockGate(sql: Sql, eventId: string, gateId: string): Promise<GateSetupRow | null> {
  const [r] = await sql.query<{ id: string; name: string; zone_ids: string[]; closed_at: Date | null }>(
    `SELECT id, name, zone_ids::text[] AS zone_ids, closed_at FROM gates WHERE event_id = $1 AND id = $2 FOR UPDATE`,
    [eventId, gateId],
  );
  return r ? { id: r.id, name: r.name, zoneIds: r.zone_ids, closedAt: ms(r.closed_at) } : null;
}
export async function updateGate(sql: Sql, eventId: string, g: GateSetupRow): Promise<void> {
  await sql.query(`UPDATE gates SET name = $3, zone_ids = $4::uuid[], closed_at = $5 WHERE event_id = $1 AND id = $2`, [
    eventId,
    g.id,
    g.name,
    g.zoneIds,
    date(g.closedAt),
  ]);
}

export interface TypeSetupRow {
  id: string;
  name: string;
  zoneIds: string[];
  maxScans: number;
  allowReentry: boolean;
  validFrom: number | null;
  validUntil: number | null;
}
export async function lockTicketType(sql: Sql, eventId: string, typeId: string): Promise<TypeSetupRow | null> {
  const [r] = await sql.query<{
    id: string;
    name: string;
    zone_ids: string[];
    max_scans: number;
    allow_reentry: boolean;
    valid_from: Date | null;
    valid_until: Date | null;
  }>(
    `SELECT id, name, zone_ids::text[] AS zone_ids, max_scans, allow_reentry, valid_from, valid_until FROM ticket_types WHERE event_id = $1 AND id = $2 FOR UPDATE`,
    [eventId, typeId],
  );
  return r
    ? {
        id: r.id,
        name: r.name,
        zoneIds: r.zone_ids,
        maxScans: r.max_scans,
        allowReentry: r.allow_reentry,
        validFrom: ms(r.valid_from),
        validUntil: ms(r.valid_until),
      }
    : null;
}
export async function updateTicketType(sql: Sql, eventId: string, t: TypeSetupRow): Promise<void> {
  await sql.query(
    `UPDATE ticket_types SET name = $3, zone_ids = $4::uuid[], max_scans = $5, allow_reentry = $6, valid_from = $7, valid_until = $8 WHERE event_id = $1 AND id = $2`,
    [eventId, t.id, t.name, t.zoneIds, t.maxScans, t.allowReentry, date(t.validFrom), date(t.validUntil)],
  );
}

export interface StaffSetupRow {
  id: string;
  username: string;
  name: string;
  pinHash: string;
  active: boolean;
}
export async function lockStaff(
  sql: Sql,
  organisationId: string,
  eventId: string,
  staffId: string,
): Promise<StaffSetupRow | null> {
  const [r] = await sql.query<{ id: string; username: string; name: string; pin_hash: string; active: boolean }>(
    `SELECT id, username, name, pin_hash, active FROM event_staff WHERE event_id = $1 AND id = $2 AND organisation_id = $3 FOR UPDATE`,
    [eventId, staffId, organisationId],
  );
  return r ? { id: r.id, username: r.username, name: r.name, pinHash: r.pin_hash, active: r.active } : null;
}
export async function updateStaff(sql: Sql, eventId: string, s: StaffSetupRow): Promise<void> {
  await sql.query(`UPDATE event_staff SET name = $3, pin_hash = $4, active = $5 WHERE event_id = $1 AND id = $2`, [
    eventId,
    s.id,
    s.name,
    s.pinHash,
    s.active,
  ]);
}

export interface DeviceSetupRow {
  pk: string;
  deviceId: string;
  name: string;
  eventIds: string[] | null;
  defaultEventId: string | null;
  defaultGateId: string | null;
}
export async function lockDevice(sql: Sql, organisationId: string, deviceId: string): Promise<DeviceSetupRow | null> {
  const [r] = await sql.query<{
    id: string;
    device_id: string;
    name: string;
    event_ids: string[] | null;
    default_event_id: string | null;
    default_gate_id: string | null;
  }>(
    `SELECT id, device_id, name, event_ids::text[] AS event_ids, default_event_id, default_gate_id FROM devices
     WHERE organisation_id = $1 AND device_id = $2 FOR UPDATE`,
    [organisationId, deviceId],
  );
  return r
    ? {
        pk: r.id,
        deviceId: r.device_id,
        name: r.name,
        eventIds: r.event_ids,
        defaultEventId: r.default_event_id,
        defaultGateId: r.default_gate_id,
      }
    : null;
}
export async function updateDevice(sql: Sql, d: DeviceSetupRow): Promise<void> {
  await sql.query(`UPDATE devices SET name = $2, default_event_id = $3, default_gate_id = $4 WHERE id = $1`, [
    d.pk,
    d.name,
    d.defaultEventId,
    d.defaultGateId,
  ]);
}

/** The event of a gate among the organisation's events (gate ids are unique in practice; keys are (event, id)). */
export async function findOrganisationGate(
  sql: Sql,
  organisationId: string,
  gateId: string,
): Promise<{ eventId: string } | null> {
  const [r] = await sql.query<{ event_id: string }>(
    `SELECT g.event_id FROM gates g JOIN events e ON e.id = g.event_id WHERE g.id = $1 AND e.organisation_id = $2 LIMIT 1`,
    [gateId, organisationId],
  );
  return r ? { eventId: r.event_id } : null;
}

// --- What depends on a row, counted in one statement each ---

export async function zoneDependants(
  sql: Sql,
  eventId: string,
  zoneId: string,
): Promise<{ gates: number; types: number }> {
  const [r] = await sql.query<{ gates: number; types: number }>(
    `SELECT (SELECT count(*)::int FROM gates WHERE event_id = $1 AND $2::uuid = ANY(zone_ids)) AS gates,
            (SELECT count(*)::int FROM ticket_types WHERE event_id = $1 AND $2::uuid = ANY(zone_ids)) AS types`,
    [eventId, zoneId],
  );
  return r!;
}

export async function gateDependants(
  sql: Sql,
  eventId: string,
  gateId: string,
): Promise<{ scans: number; sessions: number; pairingCodes: number; devices: number }> {
  const [r] = await sql.query<{ scans: number; sessions: number; pairing_codes: number; devices: number }>(
    `SELECT (SELECT count(*)::int FROM scans WHERE event_id = $1 AND gate_id = $2) AS scans,
            (SELECT count(*)::int FROM scan_sessions WHERE event_id = $1 AND gate_id = $2) AS sessions,
            (SELECT count(*)::int FROM pairing_codes WHERE event_id = $1 AND gate_id = $2) AS pairing_codes,
            (SELECT count(*)::int FROM devices WHERE default_event_id = $1 AND default_gate_id = $2) AS devices`,
    [eventId, gateId],
  );
  return { scans: r!.scans, sessions: r!.sessions, pairingCodes: r!.pairing_codes, devices: r!.devices };
}

export async function ticketTypeDependants(sql: Sql, eventId: string, typeId: string): Promise<{ tickets: number }> {
  const [r] = await sql.query<{ tickets: number }>(
    `SELECT count(*)::int AS tickets FROM tickets WHERE event_id = $1 AND ticket_type_id = $2`,
    [eventId, typeId],
  );
  return r!;
}

export async function staffDependants(sql: Sql, eventId: string, staffId: string): Promise<{ logins: number }> {
  const [r] = await sql.query<{ logins: number }>(
    `SELECT count(*)::int AS logins FROM event_login_logs WHERE event_id = $1 AND staff_id = $2 AND success`,
    [eventId, staffId],
  );
  return r!;
}

export async function eventDependants(
  sql: Sql,
  eventId: string,
): Promise<{ tickets: number; scans: number; pairingCodes: number; deviceLogs: number }> {
  const [r] = await sql.query<{ tickets: number; scans: number; pairing_codes: number; device_logs: number }>(
    `SELECT (SELECT count(*)::int FROM tickets WHERE event_id = $1) AS tickets,
            (SELECT count(*)::int FROM scans WHERE event_id = $1) AS scans,
            (SELECT count(*)::int FROM pairing_codes WHERE event_id = $1) AS pairing_codes,
            (SELECT count(*)::int FROM device_logs WHERE event_id = $1) AS device_logs`,
    [eventId],
  );
  return { tickets: r!.tickets, scans: r!.scans, pairingCodes: r!.pairing_codes, deviceLogs: r!.device_logs };
}

export async function deleteZone(sql: Sql, eventId: string, zoneId: string): Promise<void> {
  await sql.query(`DELETE FROM zones WHERE event_id = $1 AND id = $2`, [eventId, zoneId]);
}
export async function deleteGate(sql: Sql, eventId: string, gateId: string): Promise<void> {
  await sql.query(`DELETE FROM gates WHERE event_id = $1 AND id = $2`, [eventId, gateId]);
}
export async function deleteTicketType(sql: Sql, eventId: string, typeId: string): Promise<void> {
  await sql.query(`DELETE FROM ticket_types WHERE event_id = $1 AND id = $2`, [eventId, typeId]);
}
export async function deleteStaff(sql: Sql, eventId: string, staffId: string): Promise<void> {
  await sql.query(`DELETE FROM event_staff WHERE event_id = $1 AND id = $2`, [eventId, staffId]);
}

/**
 * An event with nothing depending on it, and its set-up (keys, zones, gates,
 * types, staff, their login attempts, sessions and sync records), in one
 * statement; devices scoped to it lose it from their events.
 */
export async function deleteEventSetup(sql: Sql, eventId: string): Promise<void> {
  await sql.query(
    `WITH l AS (DELETE FROM event_login_logs WHERE event_id = $1),
          st AS (DELETE FROM event_staff WHERE event_id = $1),
          ss AS (DELETE FROM scan_sessions WHERE event_id = $1),
          sy AS (DELETE FROM sync_sessions WHERE event_id = $1),
          d AS (UPDATE devices SET event_ids = array_remove(event_ids, $1::uuid),
                  default_event_id = CASE WHEN default_event_id = $1 THEN NULL ELSE default_event_id END,
                  default_gate_id = CASE WHEN default_event_id = $1 THEN NULL ELSE default_gate_id END,
                  active_event_id = CASE WHEN active_event_id = $1 THEN NULL ELSE active_event_id END,
                  active_session_id = CASE WHEN active_event_id = $1 THEN NULL ELSE active_session_id END
                WHERE $1::uuid = ANY(event_ids) OR default_event_id = $1 OR active_event_id = $1)
     SELECT 1`,
    [eventId],
  );
  // Data-modifying CTEs see the same snapshot, so the rows with foreign keys to these go first, above.
  await sql.query(
    `WITH g AS (DELETE FROM gates WHERE event_id = $1), t AS (DELETE FROM ticket_types WHERE event_id = $1),
          k AS (DELETE FROM event_keys WHERE event_id = $1)
     SELECT 1`,
    [eventId],
  );
  await sql.query(`DELETE FROM zones WHERE event_id = $1`, [eventId]);
  await sql.query(`DELETE FROM events WHERE id = $1`, [eventId]);
}
