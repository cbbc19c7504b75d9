import type { Sql } from '../db/database.ts';
import { ms } from './rows.ts';
import { TICKET_COLUMNS, toTicket, type RawTicket, type TicketRecord } from './tickets.ts';

/**
 * Change reads are capped at the oldest running transaction (snapshot xmin),
 * read in the same statement as the rows, so a change that commits later
 * always has a position at or above the cursor handed out now.
 */

export interface ManifestRow { ticket: TicketRecord; codeKind: 'signed' | 'imported'; digestHex: string }

/**
 * All tickets, or those changed since a position: created or re-statused
 * (their own tx), or scanned (a scan of theirs has a newer tx; admissions do
 * not restamp the ticket, see migration 002).
 */
export async function manifestTickets(sql: Sql, eventId: string, sinceTx: string | null): Promise<{ xmin: string; rows: ManifestRow[] }> {
  const rows = await sql.query<RawTicket & { xmin: string; code_kind: 'signed' | 'imported'; digest: string | null }>(
    `WITH x AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS x8),
     changed AS (
       SELECT t.id FROM tickets t, x WHERE $2::xid8 IS NOT NULL AND t.event_id = $1 AND t.tx >= $2::xid8 AND t.tx < x.x8
       UNION
       SELECT s.ticket_id FROM scans s, x WHERE $2::xid8 IS NOT NULL AND s.event_id = $1 AND s.tx >= $2::xid8 AND s.tx < x.x8 AND s.ticket_id IS NOT NULL
     )
     SELECT x.x8::text AS xmin, ${TICKET_COLUMNS}, t.code_kind, encode(t.code_digest, 'hex') AS digest
     FROM x LEFT JOIN tickets t ON t.event_id = $1 AND ($2::xid8 IS NULL OR t.id IN (SELECT id FROM changed))
     ORDER BY t.serial`,
    [eventId, sinceTx]);
  const xmin = rows[0]!.xmin;
  return {
    xmin,
    rows: rows.filter((r) => r.id !== null).map((r) => ({ ticket: toTicket(r), codeKind: r.code_kind, digestHex: r.digest! })),
  };
}

export interface FeedScan {
  /** The scanned ticket's state now (admissions change it without a ticket change of its own). */
  ticket: TicketRecord | null;
  tx: string; id: string; ticketId: string | null; deviceId: string; seq: number | null; scannedAt: number; direction: string; gateId: string | null;
  result: string; reason: string; recordStatus: string; conflictReason: string | null; winnerScanId: string | null; ambiguous: boolean; source: string; revision: number;
}
export interface FeedTicket { tx: string; ticket: TicketRecord; codeKind: 'signed' | 'imported'; digestHex: string }

export async function feedPage(sql: Sql, eventId: string, opts: {
  ticketsAfter: { tx: string; id: string }; scansAfter: { tx: string; id: string }; excludeDevicePk: string | null; limit: number;
}): Promise<{ xmin: string; tickets: FeedTicket[]; scans: FeedScan[] }> {
  const [x] = await sql.query<{ xmin: string }>(`SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin`);
  // A second snapshot may see more committed rows, never fewer: reading below the first xmin stays safe.
  const xmin = x!.xmin;
  const [tickets, scans] = await Promise.all([
    sql.query<RawTicket & { txt: string; code_kind: 'signed' | 'imported'; digest: string }>(
      `SELECT t.tx::text AS txt, ${TICKET_COLUMNS}, t.code_kind, encode(t.code_digest, 'hex') AS digest FROM tickets t
       WHERE t.event_id = $1 AND t.tx < $2::xid8 AND (t.tx, t.id) > ($3::xid8, $4::uuid)
       ORDER BY t.tx, t.id LIMIT $5`,
      [eventId, xmin, opts.ticketsAfter.tx, opts.ticketsAfter.id, opts.limit]),
    sql.query<RawTicket & {
      txt: string; scan_id: string; scan_ticket_id: string | null; scan_device_id: string; seq: number | null; scanned_at: Date; direction: string; gate_id: string | null;
      result: string; reason: string; record_status: string; conflict_reason: string | null; winner_scan_id: string | null; ambiguous: boolean; source: string; revision: number;
    }>(
      `SELECT s.tx::text AS txt, s.id AS scan_id, s.ticket_id AS scan_ticket_id, s.device_id AS scan_device_id, s.seq::float8 AS seq, s.scanned_at,
         s.direction, s.gate_id, s.result, s.reason, s.record_status, s.conflict_reason, s.winner_scan_id, s.ambiguous, s.source, s.revision, ${TICKET_COLUMNS}
       FROM (SELECT * FROM scans s
             WHERE s.event_id = $1 AND s.tx < $2::xid8 AND (s.tx, s.id) > ($3::xid8, $4::uuid)
               AND ($6::uuid IS NULL OR s.device_pk <> $6::uuid OR s.revision > 0)
             ORDER BY s.tx, s.id LIMIT $5) s
       LEFT JOIN tickets t ON t.event_id = s.event_id AND t.id = s.ticket_id
       ORDER BY s.tx, s.id`,
      [eventId, xmin, opts.scansAfter.tx, opts.scansAfter.id, opts.limit, opts.excludeDevicePk]),
  ]);
  return {
    xmin,
    tickets: tickets.map((r) => ({ tx: r.txt, ticket: toTicket(r), codeKind: r.code_kind, digestHex: r.digest })),
    scans: scans.map((r) => ({
      ticket: r.id ? toTicket(r) : null,
      tx: r.txt, id: r.scan_id, ticketId: r.scan_ticket_id, deviceId: r.scan_device_id, seq: r.seq, scannedAt: ms(r.scanned_at)!, direction: r.direction, gateId: r.gate_id,
      result: r.result, reason: r.reason, recordStatus: r.record_status, conflictReason: r.conflict_reason, winnerScanId: r.winner_scan_id,
      ambiguous: r.ambiguous, source: r.source, revision: r.revision,
    })),
  };
}
