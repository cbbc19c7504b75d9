import type { TicketScanState } from '@entrada/core';
import type { Sql } from '../db/database.ts';
import type { ScanVerdictOfRecord } from './offline-scans.ts';
import { booleanArray, textArray } from './pg-arrays.ts';
import { TICKET_STATE_COLUMNS, TICKET_STATE_SET, ticketStateArrays } from './ticket-states.ts';

/**
 * What a replay of tickets decided, written in one statement across scans, conflicts and tickets (one round trip
 * while the upload holds its ticket locks): the one store function that spans tables, on purpose.
 */

export interface Reconciliation {
  /** Changed verdicts of record; a scan that already existed gets a new revision (the download feed shows it again). */
  verdicts: Array<ScanVerdictOfRecord & { isNew: boolean }>;
  /** New folded states of tickets. */
  states: Array<{ ticketId: string; state: TicketScanState }>;
  /** Every losing scan now: each gets an open (or already resolved) conflict naming its current winner. */
  conflicts: Array<ScanVerdictOfRecord & { ticketId: string }>;
  /** Scans that no longer lose: their open conflicts become void (found by the conflicts' unique key, not by scanning the ticket's). */
  voidLosers: string[];
  at: number;
}

/**
 * Writes what a replay decided, in one statement: the scans' verdicts, the
 * conflicts (upserted, or voided when their scan no longer loses; the two
 * touch disjoint rows) and the tickets' states. The upload holds its ticket
 * locks meanwhile, so every round trip saved here shortens the wait of the
 * uploads that share a ticket. Returns the tickets' new versions.
 */
export interface ReconciliationWritten {
  /** The tickets' new versions. */
  versions: Map<string, number>;
  /** The conflicts inserted or changed, by losing scan id. */
  conflictByLoser: Map<string, string>;
}

export async function applyReconciliation(tx: Sql, eventId: string, w: Reconciliation): Promise<ReconciliationWritten> {
  const { verdicts: v, states, conflicts: c } = w;
  if (v.length === 0 && states.length === 0 && c.length === 0 && w.voidLosers.length === 0)
    return { versions: new Map(), conflictByLoser: new Map() };
  const rows = await tx.query<{ id: string; version: number | null; loser: string | null }>(
    `WITH verdicts AS (
       UPDATE scans s SET record_status = u.status, conflict_reason = u.reason, winner_scan_id = u.winner, ambiguous = u.ambiguous,
         revision = s.revision + CASE WHEN u.is_new THEN 0 ELSE 1 END, tx = pg_current_xact_id()
       FROM unnest($2::uuid[], $3::text[], $4::text[], $5::uuid[], $6::boolean[], $7::boolean[]) AS u(id, status, reason, winner, ambiguous, is_new)
       WHERE s.event_id = $1 AND s.id = ANY($2::uuid[]) AND s.id = u.id
       RETURNING 1
     ), upserted AS (
       INSERT INTO conflicts (event_id, ticket_id, loser_scan_id, winner_scan_id, reason, ambiguous, created_at, updated_at)
       SELECT $1, u.ticket_id, u.loser, u.winner, u.reason, u.ambiguous, $8, $8
       FROM unnest($9::uuid[], $10::uuid[], $11::uuid[], $12::text[], $13::boolean[]) AS u(ticket_id, loser, winner, reason, ambiguous)
       ON CONFLICT (event_id, loser_scan_id) DO UPDATE SET winner_scan_id = EXCLUDED.winner_scan_id, reason = EXCLUDED.reason,
         ambiguous = EXCLUDED.ambiguous, status = CASE WHEN conflicts.status = 'void' THEN 'open' ELSE conflicts.status END,
         updated_at = EXCLUDED.updated_at, tx = pg_current_xact_id()
       WHERE conflicts.winner_scan_id IS DISTINCT FROM EXCLUDED.winner_scan_id OR conflicts.reason <> EXCLUDED.reason
         OR conflicts.ambiguous <> EXCLUDED.ambiguous OR conflicts.status = 'void'
       RETURNING conflicts.id, conflicts.loser_scan_id
     ), voided AS (${
       w.voidLosers.length === 0
         ? // Usually nothing to void. Planned on stale statistics (a burst's new conflicts), even an empty list was filtered
           // row by row through the status index: 2,000 open conflicts read per upload by the end of the benchmark.
           'SELECT $14::uuid[] WHERE false'
         : `UPDATE conflicts SET status = 'void', updated_at = $8, tx = pg_current_xact_id()
       WHERE event_id = $1 AND loser_scan_id = ANY($14::uuid[]) AND status = 'open' AND reason <> 'device_revoked'
       RETURNING 1`
     }
     ), states AS (
       UPDATE tickets t SET ${TICKET_STATE_SET}
       FROM unnest($15::uuid[], $16::int[], $17::float8[], $18::text[], $19::uuid[], $20::float8[], $21::text[], $22::text[], $23::uuid[])
         AS u(id, ${TICKET_STATE_COLUMNS})
       WHERE t.event_id = $1 AND t.id = ANY($15::uuid[]) AND t.id = u.id
       RETURNING t.id, t.version
     )
     -- The tickets' new versions, and the conflicts written (by their losing scan: the caller knows which of them it opened).
     SELECT id, version, NULL::uuid AS loser FROM states
     UNION ALL SELECT id, NULL::int, loser_scan_id FROM upserted`,
    [
      eventId,
      textArray(v.map((x) => x.id)),
      textArray(v.map((x) => x.recordStatus)),
      textArray(v.map((x) => x.conflictReason)),
      textArray(v.map((x) => x.winnerScanId)),
      booleanArray(v.map((x) => x.ambiguous)),
      booleanArray(v.map((x) => x.isNew)),
      new Date(w.at),
      textArray(c.map((x) => x.ticketId)),
      textArray(c.map((x) => x.id)),
      textArray(c.map((x) => x.winnerScanId)),
      textArray(c.map((x) => x.conflictReason)),
      booleanArray(c.map((x) => x.ambiguous)),
      textArray(w.voidLosers),
      textArray(states.map((s) => s.ticketId)),
      ...ticketStateArrays(states.map((s) => s.state)),
    ],
    { name: w.voidLosers.length === 0 ? 'sync_apply' : 'sync_apply_void' },
  );
  const out: ReconciliationWritten = { versions: new Map(), conflictByLoser: new Map() };
  for (const r of rows) {
    if (r.loser !== null) out.conflictByLoser.set(r.loser, r.id);
    else out.versions.set(r.id, r.version!);
  }
  return out;
}
