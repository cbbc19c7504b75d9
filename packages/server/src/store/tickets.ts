import type { AdmissionRecord, Direction, TicketScanState, TicketStatus, TicketStatusChange } from '@entrada/core';
import type { Sql } from '../db/database.ts';
import { byteaHexArray } from './pg-arrays.ts';
import { ms } from './rows.ts';

export interface TicketRecord {
  id: string;
  eventId: string;
  serial: number;
  typeId: string;
  number: string;
  holderName: string | null;
  codeKind: 'signed' | 'imported';
  status: TicketStatus;
  statusChangedAt: number | null;
  statusReason: string | null;
  /** Every status change (ticket_status_changes, in seq order); empty for a ticket whose status never changed. */
  statusHistory: readonly TicketStatusChange[];
  state: TicketScanState;
  version: number;
}

/**
 * The ticket's status history as [ms, status] pairs, read with the row itself (so it matches the row's version, and
 * the sync, the manifest and the feed need no query of their own). Only for tickets whose status ever changed (every
 * change sets status_changed_at): the subquery does not run for the others.
 */
const STATUS_HISTORY_COLUMN = `CASE WHEN t.status_changed_at IS NULL THEN NULL ELSE (
    SELECT json_agg(json_build_array((extract(epoch FROM h.changed_at) * 1000)::float8, h.status) ORDER BY h.seq)
    FROM ticket_status_changes h WHERE h.event_id = t.event_id AND h.ticket_id = t.id) END AS status_history`;

export const TICKET_COLUMNS = `t.event_id, t.id, t.serial::float8 AS serial, t.ticket_type_id, t.number, t.holder_name, t.code_kind,
  t.status, t.status_changed_at, t.status_reason, t.entries, t.first_at, t.first_device_id, t.first_gate_id,
  t.last_at, t.last_direction, t.last_device_id, t.last_gate_id, t.version, ${STATUS_HISTORY_COLUMN}`;

export interface RawTicket {
  event_id: string;
  id: string;
  serial: number;
  ticket_type_id: string;
  number: string;
  holder_name: string | null;
  code_kind: 'signed' | 'imported';
  status: TicketStatus;
  status_changed_at: Date | null;
  status_reason: string | null;
  entries: number;
  first_at: Date | null;
  first_device_id: string | null;
  first_gate_id: string | null;
  last_at: Date | null;
  last_direction: Direction | null;
  last_device_id: string | null;
  last_gate_id: string | null;
  version: number;
  status_history: Array<[number, TicketStatus]> | string | null;
}

const NO_CHANGES: readonly TicketStatusChange[] = Object.freeze([]);

function toStatusHistory(raw: RawTicket['status_history']): readonly TicketStatusChange[] {
  if (raw === null || raw === undefined) return NO_CHANGES;
  const pairs = (typeof raw === 'string' ? JSON.parse(raw) : raw) as Array<[number, TicketStatus]>;
  return pairs.map(([at, status]) => ({ at, status }));
}

function record(
  at: Date | null,
  direction: Direction | null,
  deviceId: string | null,
  gateId: string | null,
): AdmissionRecord | null {
  return at && direction && deviceId ? { at: ms(at)!, direction, deviceId, gateId } : null;
}

export type RawScanState = Pick<
  RawTicket,
  | 'entries'
  | 'first_at'
  | 'first_device_id'
  | 'first_gate_id'
  | 'last_at'
  | 'last_direction'
  | 'last_device_id'
  | 'last_gate_id'
>;

export function toScanState(r: RawScanState): TicketScanState {
  return {
    entries: r.entries,
    first: record(r.first_at, r.first_at ? 'entry' : null, r.first_device_id, r.first_gate_id),
    last: record(r.last_at, r.last_direction, r.last_device_id, r.last_gate_id),
  };
}

export function toTicket(r: RawTicket): TicketRecord {
  return {
    id: r.id,
    eventId: r.event_id,
    serial: Number(r.serial),
    typeId: r.ticket_type_id,
    number: r.number,
    holderName: r.holder_name,
    codeKind: r.code_kind,
    status: r.status,
    statusChangedAt: ms(r.status_changed_at),
    statusReason: r.status_reason,
    statusHistory: toStatusHistory(r.status_history),
    state: toScanState(r),
    version: r.version,
  };
}

/** Reserves `count` consecutive serials for the event; the row lock orders concurrent imports. */
export async function allocateSerials(sql: Sql, eventId: string, count: number): Promise<number> {
  const [row] = await sql.query<{ last: number }>(
    `UPDATE events SET next_serial = next_serial + $2 WHERE id = $1 RETURNING next_serial::float8 AS last`,
    [eventId, count],
  );
  return row!.last - count + 1;
}

export interface NewTicketRow {
  id: string;
  serial: number;
  typeId: string;
  number: string;
  holderName: string | null;
  codeKind: 'signed' | 'imported';
  codeDigestHex: string;
  sealedCodeHex: string | null;
}

/** One statement for the whole batch; returns how many rows were inserted (fewer means a unique key clashed). */
export async function insertTickets(sql: Sql, eventId: string, rows: NewTicketRow[]): Promise<number> {
  const inserted = await sql.query<{ id: string }>(
    `INSERT INTO tickets (event_id, id, serial, ticket_type_id, number, holder_name, code_kind, code_digest, sealed_code)
     SELECT $1, u.id, u.serial, u.type_id, u.number, u.holder_name, u.code_kind, decode(u.digest, 'hex'), decode(u.sealed, 'hex')
     FROM unnest($2::uuid[], $3::bigint[], $4::uuid[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])
       AS u(id, serial, type_id, number, holder_name, code_kind, digest, sealed)
     ON CONFLICT DO NOTHING
     RETURNING id`,
    [
      eventId,
      rows.map((r) => r.id),
      rows.map((r) => r.serial),
      rows.map((r) => r.typeId),
      rows.map((r) => r.number),
      rows.map((r) => r.holderName),
      rows.map((r) => r.codeKind),
      rows.map((r) => r.codeDigestHex),
      rows.map((r) => r.sealedCodeHex),
    ],
  );
  return inserted.length;
}

/** Numbers and digests of the batch already held by OTHER tickets (the batch's own rows are visible inside its transaction). */
export async function clashingTicketKeys(
  sql: Sql,
  eventId: string,
  batchIds: string[],
  numbers: string[],
  digestsHex: string[],
): Promise<{ numbers: string[]; digests: string[] }> {
  const rows = await sql.query<{ number: string; digest: string; by_number: boolean; by_digest: boolean }>(
    `SELECT number, encode(code_digest, 'hex') AS digest, number = ANY($2::text[]) AS by_number, encode(code_digest, 'hex') = ANY($3::text[]) AS by_digest
     FROM tickets WHERE event_id = $1 AND id <> ALL($4::uuid[])
       AND (number = ANY($2::text[]) OR code_digest = ANY(SELECT decode(d, 'hex') FROM unnest($3::text[]) d))`,
    [eventId, numbers, digestsHex, batchIds],
  );
  return {
    numbers: rows.filter((r) => r.by_number).map((r) => r.number),
    digests: rows.filter((r) => r.by_digest).map((r) => r.digest),
  };
}

export async function findTicketByDigest(sql: Sql, eventId: string, digest: Buffer): Promise<TicketRecord | null> {
  const [row] = await sql.query<RawTicket>(
    `SELECT ${TICKET_COLUMNS} FROM tickets t WHERE t.event_id = $1 AND t.code_digest = $2`,
    [eventId, digest],
    { name: 'ticket_by_digest' },
  );
  return row ? toTicket(row) : null;
}

/** The tickets with these code digests (hex), without locking them. */
export async function ticketsByDigests(
  sql: Sql,
  eventId: string,
  digestsHex: string[],
): Promise<Array<{ digestHex: string; ticket: TicketRecord }>> {
  if (digestsHex.length === 0) return [];
  const rows = await sql.query<RawTicket & { digest: string }>(
    `SELECT ${TICKET_COLUMNS}, encode(t.code_digest, 'hex') AS digest FROM tickets t WHERE t.event_id = $1 AND t.code_digest = ANY($2::bytea[])`,
    [eventId, byteaHexArray(digestsHex)],
  );
  return rows.map((r) => ({ digestHex: r.digest, ticket: toTicket(r) }));
}

export async function loadEventTickets(
  sql: Sql,
  eventId: string,
  limit: number,
): Promise<Array<{ digest: Buffer; ticket: TicketRecord }>> {
  const rows = await sql.query<RawTicket & { code_digest: Uint8Array }>(
    `SELECT ${TICKET_COLUMNS}, t.code_digest FROM tickets t WHERE t.event_id = $1 LIMIT $2`,
    [eventId, limit],
  );
  // The driver makes a string per cell: one per distinct value instead for the columns every ticket of the event
  // repeats (its event, a few types), so the cached copies share them. A sync looks each ticket's type up (to
  // reconcile, to answer): then one string that stays in the CPU's cache and is hashed once, instead of a cold one per
  // ticket (the V8 profile put ~1% of the server's CPU in the sync on the answer's type look-up alone); and ~100
  // bytes less per cached ticket.
  const shared = new Map<string, string>();
  const one = (value: string): string => {
    const held = shared.get(value);
    if (held !== undefined) return held;
    shared.set(value, value);
    return value;
  };
  return rows.map((r) => {
    r.event_id = one(r.event_id);
    r.ticket_type_id = one(r.ticket_type_id);
    return { digest: Buffer.from(r.code_digest), ticket: toTicket(r) };
  });
}

export async function getTicketForOrganisation(
  sql: Sql,
  organisationId: string,
  ticketId: string,
): Promise<TicketRecord | null> {
  const [row] = await sql.query<RawTicket>(
    `SELECT ${TICKET_COLUMNS} FROM tickets t JOIN events e ON e.id = t.event_id
     WHERE t.id = $1 AND e.organisation_id = $2`,
    [ticketId, organisationId],
  );
  return row ? toTicket(row) : null;
}

export interface TicketExportRow {
  ticket: TicketRecord;
  sealedCode: Buffer | null;
}

export async function listTickets(
  sql: Sql,
  eventId: string,
  afterSerial: number,
  limit: number,
): Promise<TicketExportRow[]> {
  const rows = await sql.query<RawTicket & { sealed_code: Uint8Array | null }>(
    `SELECT ${TICKET_COLUMNS}, t.sealed_code FROM tickets t WHERE t.event_id = $1 AND t.serial > $2 ORDER BY t.serial LIMIT $3`,
    [eventId, afterSerial, limit],
  );
  return rows.map((r) => ({ ticket: toTicket(r), sealedCode: r.sealed_code ? Buffer.from(r.sealed_code) : null }));
}

/**
 * Changes the status (and bumps the version so every cached copy is detected
 * as stale) and appends the change to the ticket's status history, in one
 * statement; with `from`, only if the status is still that (else false). The
 * row lock the update takes orders concurrent changes, so seq is the order
 * they were made in.
 */
export async function setTicketStatus(
  sql: Sql,
  eventId: string,
  ticketId: string,
  status: TicketStatus,
  reason: string | null,
  at: number,
  from?: TicketStatus,
): Promise<boolean> {
  const rows = await sql.query<{ seq: number }>(
    `WITH changed AS (
       UPDATE tickets t SET status = $3, status_changed_at = $5, status_reason = $4, version = version + 1, tx = pg_current_xact_id()
       WHERE t.event_id = $1 AND t.id = $2 AND ($6::text IS NULL OR t.status = $6) RETURNING t.event_id, t.id)
     INSERT INTO ticket_status_changes (event_id, ticket_id, seq, changed_at, status, reason)
     SELECT c.event_id, c.id, COALESCE((SELECT max(h.seq) FROM ticket_status_changes h WHERE h.event_id = c.event_id AND h.ticket_id = c.id), 0) + 1, $5, $3, $4
     FROM changed c RETURNING seq`,
    [eventId, ticketId, status, reason, new Date(at), from ?? null],
  );
  return rows.length > 0;
}

/** `%`, `_` and `\` taken literally in a LIKE pattern. */
const likeLiteral = (s: string): string => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/**
 * Tickets of the event matching `q`, in serial order after `afterSerial`:
 * a number starting with q (tickets_number_prefix), a holder name containing
 * q in any letter case (only when `byName`: that branch reads every ticket
 * of the event), or the code whose keyed digest is `digest`. Each branch is
 * its own scan cut at `limit`, so a common name costs no more than a rare one
 * once `limit` are found; the union is ordered by serial and cut again.
 */
export async function searchTickets(
  sql: Sql,
  eventId: string,
  q: string,
  digest: Buffer | null,
  byName: boolean,
  afterSerial: number,
  limit: number,
): Promise<TicketRecord[]> {
  const rows = await sql.query<RawTicket>(
    `WITH hits AS (
       (SELECT serial FROM tickets WHERE event_id = $1 AND serial > $2 AND number LIKE $3 ORDER BY serial LIMIT $6)
       UNION (SELECT serial FROM tickets WHERE event_id = $1 AND serial > $2 AND code_digest = $4)
       UNION (SELECT serial FROM tickets WHERE $7 AND event_id = $1 AND serial > $2 AND lower(holder_name) LIKE $5 ORDER BY serial LIMIT $6))
     SELECT ${TICKET_COLUMNS} FROM tickets t JOIN (SELECT serial FROM hits ORDER BY serial LIMIT $6) h ON t.event_id = $1 AND t.serial = h.serial
     ORDER BY t.serial`,
    [eventId, afterSerial, `${likeLiteral(q)}%`, digest, `%${likeLiteral(q.toLowerCase())}%`, limit, byName],
    { name: 'ticket_search' },
  );
  return rows.map(toTicket);
}
