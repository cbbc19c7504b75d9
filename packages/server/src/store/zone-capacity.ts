/**
 * Zone capacity (issue 14 §2): the serialisation of online entries into capacity-managed zones, the
 * occupancy they are decided on, and the over_capacity flags of scans. Occupancy is derived from the
 * admissions of record folded on the tickets (last_direction, last_gate_id), as everywhere else.
 */
import type { Direction } from '@entrada/core';
import type { Sql } from '../db/database.ts';
import { ms } from './rows.ts';
import { textArray } from './pg-arrays.ts';

/** Advisory lock namespace of zone capacity (beside fleet's 7343013 and migrations' 7343011). */
const ZONE_LOCK = 7343021;

/**
 * Serialises the entries into these zones until the transaction ends, so two gates cannot both take a
 * zone's last place. One lock per zone, in id order (no deadlock between entries naming several zones).
 */
export async function lockZones(tx: Sql, eventId: string, zoneIds: readonly string[]): Promise<void> {
  await tx.query(
    `SELECT pg_advisory_xact_lock($1, hashtext(k)) FROM (SELECT $2 || ':' || z AS k FROM unnest($3::text[]) z ORDER BY z) keys`,
    [ZONE_LOCK, eventId, textArray([...zoneIds].sort())],
  );
}

/** People inside by (the gate of their last entry, ticket type): the zones follow from both. */
export async function insideCells(
  sql: Sql,
  eventId: string,
): Promise<Array<{ gateId: string | null; typeId: string; inside: number }>> {
  const rows = await sql.query<{ gate_id: string | null; type_id: string; n: number }>(
    `SELECT last_gate_id AS gate_id, ticket_type_id AS type_id, count(*)::int AS n FROM tickets
     WHERE event_id = $1 AND last_direction = 'entry' GROUP BY 1, 2`,
    [eventId],
  );
  return rows.map((r) => ({ gateId: r.gate_id, typeId: r.type_id, inside: r.n }));
}

/** Adds the over_capacity flag to a scan (an admission that took a warn zone over its capacity). */
export async function flagOverCapacity(sql: Sql, eventId: string, scanId: string): Promise<void> {
  await sql.query(
    `UPDATE scans SET flags = array_append(flags, 'over_capacity') WHERE event_id = $1 AND id = $2 AND NOT ('over_capacity' = ANY(flags))`,
    [eventId, scanId],
  );
}

export interface AdmissionOfRecord {
  id: string;
  ticketId: string;
  typeId: string;
  at: number;
  deviceId: string;
  seq: number | null;
  direction: Direction;
  gateId: string | null;
  flagged: boolean;
  /** false: a scan flagged before that is no longer an admission of record (it lost since): its flag must go. */
  admitted: boolean;
}

/**
 * Every admission of record of the event (online and offline), for the offline capacity replay, and every scan
 * still flagged over_capacity (one that has since lost keeps no flag): one query.
 */
export async function admissionsOfRecord(sql: Sql, eventId: string): Promise<AdmissionOfRecord[]> {
  const rows = await sql.query<{
    id: string;
    ticket_id: string;
    type_id: string;
    scanned_at: Date;
    device_id: string;
    seq: number | null;
    direction: Direction;
    gate_id: string | null;
    flagged: boolean;
    admitted: boolean;
  }>(
    `SELECT s.id, s.ticket_id, t.ticket_type_id AS type_id, s.scanned_at, s.device_id, s.seq::float8 AS seq, s.direction, s.gate_id,
       'over_capacity' = ANY(s.flags) AS flagged, (s.record_status = 'admitted' AND s.admits) AS admitted
     FROM scans s JOIN tickets t ON t.event_id = s.event_id AND t.id = s.ticket_id
     WHERE s.event_id = $1 AND ((s.record_status = 'admitted' AND s.admits) OR 'over_capacity' = ANY(s.flags))`,
    [eventId],
  );
  return rows.map((r) => ({
    id: r.id,
    ticketId: r.ticket_id,
    typeId: r.type_id,
    at: ms(r.scanned_at)!,
    deviceId: r.device_id,
    seq: r.seq,
    direction: r.direction,
    gateId: r.gate_id,
    flagged: r.flagged,
    admitted: r.admitted,
  }));
}

/** Sets over_capacity on `add` and takes it off `remove`, in one statement. */
export async function setOverCapacityFlags(
  sql: Sql,
  eventId: string,
  add: readonly string[],
  remove: readonly string[],
): Promise<void> {
  if (add.length === 0 && remove.length === 0) return;
  await sql.query(
    `UPDATE scans s SET flags = CASE WHEN s.id = ANY($2::uuid[]) THEN array_append(s.flags, 'over_capacity') ELSE array_remove(s.flags, 'over_capacity') END
     WHERE s.event_id = $1 AND s.id = ANY($2::uuid[] || $3::uuid[])`,
    [eventId, textArray(add), textArray(remove)],
  );
}
