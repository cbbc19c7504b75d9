import type { CapacityMode } from '@entrada/core';
import type { Sql } from '../db/database.ts';
import { ms } from './rows.ts';

export interface EventRow {
  id: string;
  organisationId: string;
  ref: number;
  name: string;
  startsAt: number;
  endsAt: number;
  timezone: string;
  settings: Record<string, unknown>;
  createdAt: number;
}
export interface ZoneRow {
  id: string;
  name: string;
  capacity: number | null;
  capacityMode: CapacityMode;
}
export interface GateRow {
  id: string;
  name: string;
  zoneIds: string[];
  closedAt?: number | null;
}
export interface TicketTypeRow {
  id: string;
  ref: number;
  name: string;
  zoneIds: string[];
  maxScans: number;
  allowReentry: boolean;
  validFrom: number | null;
  validUntil: number | null;
}
export interface EventKeyRow {
  keyId: number;
  publicKey: Buffer;
  sealedSecret: Buffer;
  active: boolean;
}

/** Another event of the organisation, as far as classifying its codes goes: its ref and public keys. */
export interface SiblingEventRow {
  ref: number;
  keys: Array<{ keyId: number; publicKey: Buffer }>;
}

export interface EventAggregate {
  event: EventRow;
  codeKey: Buffer;
  zones: ZoneRow[];
  gates: GateRow[];
  types: TicketTypeRow[];
  keys: EventKeyRow[];
  /** The organisation's other events not ended more than a week ago (the window that bounds the manifest header). */
  siblings: SiblingEventRow[];
}

interface RawEvent {
  id: string;
  organisation_id: string;
  ref: number;
  name: string;
  starts_at: Date;
  ends_at: Date;
  timezone: string;
  settings: Record<string, unknown>;
  created_at: Date;
}
const EVENT_COLUMNS = `id, organisation_id, ref, name, starts_at, ends_at, timezone, settings, created_at`;

function toEvent(r: RawEvent): EventRow {
  return {
    id: r.id,
    organisationId: r.organisation_id,
    ref: r.ref,
    name: r.name,
    startsAt: ms(r.starts_at)!,
    endsAt: ms(r.ends_at)!,
    timezone: r.timezone,
    settings: r.settings ?? {},
    createdAt: ms(r.created_at)!,
  };
}

export async function insertEvent(
  sql: Sql,
  e: {
    organisationId: string;
    name: string;
    startsAt: number;
    endsAt: number;
    timezone: string;
    settings: Record<string, unknown>;
    codeKey: Buffer;
  },
): Promise<EventRow> {
  const [row] = await sql.query<RawEvent>(
    `INSERT INTO events (organisation_id, name, starts_at, ends_at, timezone, settings, code_key)
     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${EVENT_COLUMNS}`,
    [
      e.organisationId,
      e.name,
      new Date(e.startsAt),
      new Date(e.endsAt),
      e.timezone,
      JSON.stringify(e.settings),
      e.codeKey,
    ],
  );
  return toEvent(row!);
}

export async function insertEventKey(
  sql: Sql,
  k: { eventId: string; keyId: number; publicKey: Uint8Array; sealedSecret: Buffer },
): Promise<void> {
  await sql.query(`INSERT INTO event_keys (event_id, key_id, public_key, sealed_secret) VALUES ($1, $2, $3, $4)`, [
    k.eventId,
    k.keyId,
    Buffer.from(k.publicKey),
    k.sealedSecret,
  ]);
}

export async function listEvents(sql: Sql, organisationId: string): Promise<EventRow[]> {
  const rows = await sql.query<RawEvent>(
    `SELECT ${EVENT_COLUMNS} FROM events WHERE organisation_id = $1 ORDER BY starts_at, created_at`,
    [organisationId],
  );
  return rows.map(toEvent);
}

/** Ids of the organisation's events other than `exceptId`, with their digest keys (cross-event `wrong_event` checks). */
/** The whole configuration of one event in one round trip: what scanning needs, cached per instance. */
export async function loadEventAggregate(sql: Sql, eventId: string): Promise<EventAggregate | null> {
  const [row] = await sql.query<
    RawEvent & {
      code_key: Uint8Array;
      zones: unknown;
      gates: unknown;
      types: unknown;
      keys: unknown;
      siblings: unknown;
    }
  >(
    `SELECT ${EVENT_COLUMNS}, code_key,
       (SELECT coalesce(json_agg(json_build_object('id', z.id, 'name', z.name, 'capacity', z.capacity, 'capacityMode', z.capacity_mode) ORDER BY z.created_at, z.name), '[]'::json)
          FROM zones z WHERE z.event_id = e.id) AS zones,
       (SELECT coalesce(json_agg(json_build_object('id', g.id, 'name', g.name, 'zoneIds', g.zone_ids,
            'closedAt', (extract(epoch FROM g.closed_at) * 1000)::float8) ORDER BY g.created_at, g.name), '[]'::json)
          FROM gates g WHERE g.event_id = e.id) AS gates,
       (SELECT coalesce(json_agg(json_build_object('id', t.id, 'ref', t.ref, 'name', t.name, 'zoneIds', t.zone_ids,
            'maxScans', t.max_scans, 'allowReentry', t.allow_reentry,
            'validFrom', (extract(epoch FROM t.valid_from) * 1000)::float8,
            'validUntil', (extract(epoch FROM t.valid_until) * 1000)::float8) ORDER BY t.ref), '[]'::json)
          FROM ticket_types t WHERE t.event_id = e.id) AS types,
       (SELECT coalesce(json_agg(json_build_object('keyId', k.key_id, 'publicKey', encode(k.public_key, 'base64'),
            'sealedSecret', encode(k.sealed_secret, 'base64'), 'active', k.active) ORDER BY k.key_id), '[]'::json)
          FROM event_keys k WHERE k.event_id = e.id) AS keys,
       (SELECT coalesce(json_agg(json_build_object('ref', o.ref, 'keys',
            (SELECT coalesce(json_agg(json_build_object('keyId', k.key_id, 'publicKey', encode(k.public_key, 'base64')) ORDER BY k.key_id), '[]'::json)
               FROM event_keys k WHERE k.event_id = o.id)) ORDER BY o.ref), '[]'::json)
          FROM events o WHERE o.organisation_id = e.organisation_id AND o.id <> e.id AND o.ends_at > now() - interval '7 days') AS siblings
     FROM events e WHERE e.id = $1`,
    [eventId],
    { name: 'event_aggregate' },
  );
  if (!row) return null;
  const parse = <T>(v: unknown): T => (typeof v === 'string' ? JSON.parse(v) : v) as T;
  const keys = parse<Array<{ keyId: number; publicKey: string; sealedSecret: string; active: boolean }>>(row.keys);
  return {
    event: toEvent(row),
    codeKey: Buffer.from(row.code_key),
    zones: parse<ZoneRow[]>(row.zones),
    gates: parse<GateRow[]>(row.gates),
    types: parse<TicketTypeRow[]>(row.types),
    keys: keys.map((k) => ({
      keyId: k.keyId,
      publicKey: Buffer.from(k.publicKey, 'base64'),
      sealedSecret: Buffer.from(k.sealedSecret, 'base64'),
      active: k.active,
    })),
    siblings: parse<Array<{ ref: number; keys: Array<{ keyId: number; publicKey: string }> }>>(row.siblings).map(
      (o) => ({
        ref: o.ref,
        keys: o.keys.map((k) => ({ keyId: k.keyId, publicKey: Buffer.from(k.publicKey, 'base64') })),
      }),
    ),
  };
}

export async function insertZone(
  sql: Sql,
  z: { eventId: string; name: string; capacity: number | null; capacityMode: CapacityMode },
): Promise<ZoneRow> {
  const [row] = await sql.query<ZoneRow>(
    `INSERT INTO zones (event_id, name, capacity, capacity_mode) VALUES ($1, $2, $3, $4) RETURNING id, name, capacity, capacity_mode AS "capacityMode"`,
    [z.eventId, z.name, z.capacity, z.capacityMode],
  );
  return row!;
}

export async function insertGate(sql: Sql, g: { eventId: string; name: string; zoneIds: string[] }): Promise<GateRow> {
  const [row] = await sql.query<{ id: string; name: string; zone_ids: string[] }>(
    `INSERT INTO gates (event_id, name, zone_ids) VALUES ($1, $2, $3::uuid[]) RETURNING id, name, zone_ids::text[] AS zone_ids`,
    [g.eventId, g.name, g.zoneIds],
  );
  return { id: row!.id, name: row!.name, zoneIds: row!.zone_ids };
}

export async function insertTicketType(
  sql: Sql,
  t: {
    eventId: string;
    name: string;
    zoneIds: string[];
    maxScans: number;
    allowReentry: boolean;
    validFrom: number | null;
    validUntil: number | null;
  },
): Promise<TicketTypeRow> {
  const [row] = await sql.query<{ id: string; ref: number }>(
    `WITH r AS (UPDATE events SET next_type_ref = next_type_ref + 1 WHERE id = $1 RETURNING next_type_ref AS ref)
     INSERT INTO ticket_types (event_id, ref, name, zone_ids, max_scans, allow_reentry, valid_from, valid_until)
     SELECT $1, r.ref, $2, $3::uuid[], $4, $5, $6, $7 FROM r RETURNING id, ref`,
    [
      t.eventId,
      t.name,
      t.zoneIds,
      t.maxScans,
      t.allowReentry,
      t.validFrom === null ? null : new Date(t.validFrom),
      t.validUntil === null ? null : new Date(t.validUntil),
    ],
  );
  return {
    id: row!.id,
    ref: row!.ref,
    name: t.name,
    zoneIds: t.zoneIds,
    maxScans: t.maxScans,
    allowReentry: t.allowReentry,
    validFrom: t.validFrom,
    validUntil: t.validUntil,
  };
}

/** The organisation's event ids among `ids` (to reject unknown events with a clear error). */
export async function existingEventIds(sql: Sql, organisationId: string, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await sql.query<{ id: string }>(
    `SELECT id FROM events WHERE organisation_id = $1 AND id = ANY($2::uuid[])`,
    [organisationId, ids],
  );
  return new Set(rows.map((r) => r.id));
}

/**
 * Existing zone ids of the event among `ids` (to reject unknown zones with a
 * clear error). Share-locked: a zone being deleted meanwhile is either gone
 * here or sees the gate or type that names it when it counts what depends on it.
 */
export async function existingZoneIds(sql: Sql, eventId: string, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await sql.query<{ id: string }>(
    `SELECT id FROM zones WHERE event_id = $1 AND id = ANY($2::uuid[]) FOR SHARE`,
    [eventId, ids],
  );
  return new Set(rows.map((r) => r.id));
}
