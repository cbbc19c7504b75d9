import type { TicketScanState } from '@entrada/core';
import type { Sql } from '../db/database.ts';
import { numberArray, textArray } from './pg-arrays.ts';
import { TICKET_COLUMNS, toTicket, type RawTicket, type TicketRecord } from './tickets.ts';

/** tickets, as reconciliation writes them: their folded scan state and version, set-based. */

/** What reconciliation needs of a ticket (its other columns are not read on the sync path). */
export type LockedTicket = Pick<
  TicketRecord,
  'id' | 'eventId' | 'typeId' | 'number' | 'status' | 'statusChangedAt' | 'statusHistory' | 'state' | 'version'
>;

/** The SET list that writes a ticket's scan state from an unnest row `u` (entries, first_*, last_*), and bumps its version. */
export const TICKET_STATE_SET = `entries = u.entries, first_at = to_timestamp(u.first_at / 1000.0), first_device_id = u.first_device, first_gate_id = u.first_gate,
       last_at = to_timestamp(u.last_at / 1000.0), last_direction = u.last_direction, last_device_id = u.last_device, last_gate_id = u.last_gate,
       version = t.version + 1`;
/** The unnest column names TICKET_STATE_SET reads, after the id (and whatever else the statement puts first). */
export const TICKET_STATE_COLUMNS =
  'entries, first_at, first_device, first_gate, last_at, last_direction, last_device, last_gate';

/** The eight array literals for TICKET_STATE_COLUMNS, typed in that order as int, float8, text, uuid, float8, text, text, uuid. */
export function ticketStateArrays(states: readonly TicketScanState[]): string[] {
  const f = <T>(fn: (s: TicketScanState) => T): T[] => states.map(fn);
  return [
    numberArray(f((s) => s.entries)),
    numberArray(f((s) => s.first?.at ?? null)),
    textArray(f((s) => s.first?.deviceId ?? null)),
    textArray(f((s) => s.first?.gateId ?? null)),
    numberArray(f((s) => s.last?.at ?? null)),
    textArray(f((s) => s.last?.direction ?? null)),
    textArray(f((s) => s.last?.deviceId ?? null)),
    textArray(f((s) => s.last?.gateId ?? null)),
  ];
}

/**
 * Writes new ticket states only where the row is still at the version they
 * were computed from (compare-and-set, as the online admission does), in one
 * statement and without reading the rows first. Returns the new versions of
 * the rows written; the others changed meanwhile and must be reconciled under
 * their locks. `guard` false is the race control experiment only.
 */
export async function compareAndSetTicketStates(
  tx: Sql,
  eventId: string,
  writes: Array<{ ticketId: string; expectedVersion: number; state: TicketScanState }>,
  guard = true,
): Promise<Map<string, number>> {
  if (writes.length === 0) return new Map();
  // Id order: concurrent uploads take the row locks in the same order.
  const w = [...writes].sort((a, b) => (a.ticketId < b.ticketId ? -1 : a.ticketId > b.ticketId ? 1 : 0));
  const params = [
    eventId,
    textArray(w.map((x) => x.ticketId)),
    numberArray(w.map((x) => x.expectedVersion)),
    ...ticketStateArrays(w.map((x) => x.state)),
  ];
  const update = `UPDATE tickets t SET ${TICKET_STATE_SET}
     FROM unnest($2::uuid[], $3::int[], $4::int[], $5::float8[], $6::text[], $7::uuid[], $8::float8[], $9::text[], $10::text[], $11::uuid[])
       AS u(id, expected, ${TICKET_STATE_COLUMNS})
     WHERE t.event_id = $1 AND t.id = ANY($2::uuid[]) AND t.id = u.id${guard ? ' AND t.version = u.expected' : ''}`;
  if (!guard) {
    const rows = await tx.query<{ id: string; version: number }>(`${update} RETURNING t.id, t.version`, params, {
      name: 'sync_cas_tickets_unguarded',
    });
    return new Map(rows.map((r) => [r.id, r.version]));
  }
  // A row the guard let through went from its expected version to the next (version = t.version + 1, no trigger
  // touches it), so only the writes that missed come back, as their 1-based places in `w` (usually none): a row per
  // written ticket cost the driver ~1 µs each to parse, hundreds per upload.
  const [row] = await tx.query<{ missed: string }>(
    `WITH written AS (${update} RETURNING t.id)
     SELECT array(SELECT m.n FROM unnest($2::uuid[]) WITH ORDINALITY AS m(id, n) WHERE m.id NOT IN (SELECT id FROM written)
       ORDER BY m.n)::text AS missed`,
    params,
    { name: 'sync_cas_tickets' },
  );
  if (!row) throw new Error('compare-and-set of ticket states answered no row');
  const missed = new Set<number>();
  if (row.missed.length > 2) for (const n of row.missed.slice(1, -1).split(',')) missed.add(Number(n) - 1);
  const out = new Map<string, number>();
  for (let i = 0; i < w.length; i++) if (!missed.has(i)) out.set(w[i]!.ticketId, w[i]!.expectedVersion + 1);
  return out;
}

export async function lockTicketsById(tx: Sql, eventId: string, ids: string[], lock = true): Promise<TicketRecord[]> {
  if (ids.length === 0) return [];
  const rows = await tx.query<RawTicket>(
    `SELECT ${TICKET_COLUMNS} FROM tickets t WHERE t.event_id = $1 AND t.id = ANY($2::uuid[]) ORDER BY t.id ${lock ? 'FOR UPDATE' : ''}`,
    [eventId, textArray(ids)],
  );
  return rows.map(toTicket);
}

export async function ticketEvents(
  sql: Sql,
  organisationId: string,
  ticketIds: string[],
): Promise<Map<string, string>> {
  if (ticketIds.length === 0) return new Map();
  const rows = await sql.query<{ id: string; event_id: string }>(
    `SELECT t.id, t.event_id FROM tickets t JOIN events e ON e.id = t.event_id WHERE t.id = ANY($1::uuid[]) AND e.organisation_id = $2`,
    [textArray(ticketIds), organisationId],
  );
  return new Map(rows.map((r) => [r.id, r.event_id]));
}
