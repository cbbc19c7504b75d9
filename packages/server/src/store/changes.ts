import type { Direction, RecordStatus, ScanResult } from '@entrada/core';
import type { Sql } from '../db/database.ts';
import { ms } from './rows.ts';
import { TICKET_COLUMNS, toTicket, type RawTicket, type TicketRecord } from './tickets.ts';

/**
 * Change reads are capped at the oldest running transaction (snapshot xmin),
 * read in the same statement as the rows, so a change that commits later
 * always has a position at or above the cursor handed out now.
 */

/** sealedCode: an imported ticket's sealed code, read only for a manifest that ships codes (`manifest_ticket_codes`). */
export interface ManifestRow {
  ticket: TicketRecord;
  codeKind: 'signed' | 'imported';
  digestHex: string | null;
  sealedCode?: Buffer | null;
}

/**
 * Where a manifest is taken: the horizon (snapshot xmin) and the snapshot
 * itself, which later tell whether a cached copy is still exact, and the
 * event's newest change below that horizon (`lastTx`; null when it has none),
 * which places its cursors (see manifestPosition).
 */
export interface ManifestSnapshot {
  xmin: string;
  snapshot: string;
  lastTx: string | null;
}

/**
 * The event's newest change below the horizon: one backward step of
 * tickets_tx and one of scans_tx (as feedPage reads it), in the statement
 * that takes the snapshot `x.snap`.
 */
const LAST_TX = `greatest(
       (SELECT t.tx FROM tickets t WHERE t.event_id = $1 AND t.tx < pg_snapshot_xmin(x.snap) ORDER BY t.tx DESC LIMIT 1),
       (SELECT s.tx FROM scans s WHERE s.event_id = $1 AND s.tx < pg_snapshot_xmin(x.snap) ORDER BY s.tx DESC LIMIT 1))::text`;

/**
 * Where a manifest's cursor goes on: just after the event's newest change
 * below its horizon (a delta reads `tx >= position`), or from the start when
 * the event has none. Not the horizon itself, which moves with every
 * transaction of the installation, so a cursor there would move with other
 * organisations' activity (and show how busy the installation is); this one
 * moves with the event's own changes only. It is as safe as the horizon:
 * - every change of the event below the horizon is at or before the
 *   position, and was seen by the manifest (committed before the statement
 *   that read `lastTx`, so seen by it and by every later statement);
 * - any change committed later was written by a transaction still running
 *   or not yet begun then, whose tx is at or above the horizon, so above the
 *   position: the next delta (`tx >= position`) finds it;
 * - nothing of the event lies between the position and the horizon (a
 *   transaction below the horizon has finished: what it wrote is there now,
 *   or never will be), so a delta from the position lists just what one from
 *   the horizon would.
 * The manifest's feed cursor goes on after the same change, where a feed page
 * that has read everything puts its own (feedPage's `lastTx`).
 */
export function manifestPosition(snapshot: ManifestSnapshot): string {
  return snapshot.lastTx === null ? '0' : (BigInt(snapshot.lastTx) + 1n).toString();
}

/**
 * The start of a full manifest, whose tickets are then read in pages by later
 * statements. That keeps the cursor safe: a later snapshot sees everything
 * this one saw (maybe more, never less), and what a page misses was written
 * by a transaction still running when the page was read, whose id is at or
 * above that page's xmin — which is at or above this one's, since the oldest
 * running transaction only moves forward. A ticket read newer than the cursor
 * is served again by the next delta, harmlessly.
 */
export async function manifestSnapshot(sql: Sql, eventId: string): Promise<ManifestSnapshot> {
  const [row] = await sql.query<{ xmin: string; snapshot: string; last_tx: string | null }>(
    `SELECT pg_snapshot_xmin(x.snap)::text AS xmin, x.snap::text AS snapshot, ${LAST_TX} AS last_tx
     FROM (SELECT pg_current_snapshot() AS snap) x`,
    [eventId],
  );
  return { xmin: row!.xmin, snapshot: row!.snapshot, lastTx: row!.last_tx };
}

/**
 * The tickets changed since a position (created or re-statused: their own tx;
 * scanned: a scan of theirs has a newer tx — admissions do not restamp the
 * ticket, see migration 002), in serial order. `ids` is null when there are
 * more than `maxShare` of the event's tickets and more than `minTickets`:
 * such a delta is not worth building (the event's tickets are then counted,
 * only then).
 */
export async function manifestChangedTickets(
  sql: Sql,
  eventId: string,
  sinceTx: string,
  limit: { minTickets: number; maxShare: number },
): Promise<ManifestSnapshot & { changed: number; ids: string[] | null }> {
  const [row] = await sql.query<{
    xmin: string;
    snapshot: string;
    last_tx: string | null;
    changed: number;
    ids: string[] | null;
  }>(
    `WITH x AS (SELECT pg_current_snapshot() AS snap),
     changed AS (
       SELECT t.id FROM tickets t, x WHERE t.event_id = $1 AND t.tx >= $2::xid8 AND t.tx < pg_snapshot_xmin(x.snap)
       UNION
       SELECT s.ticket_id FROM scans s, x WHERE s.event_id = $1 AND s.tx >= $2::xid8 AND s.tx < pg_snapshot_xmin(x.snap) AND s.ticket_id IS NOT NULL
     ),
     n AS (SELECT count(*)::int AS changed FROM changed)
     SELECT pg_snapshot_xmin(x.snap)::text AS xmin, x.snap::text AS snapshot, ${LAST_TX} AS last_tx, n.changed,
       CASE WHEN n.changed <= $3::int OR n.changed <= $4::float8 * (SELECT count(*) FROM tickets t WHERE t.event_id = $1)
         THEN (SELECT coalesce(array_agg(t.id::text ORDER BY t.serial), '{}')::text[] FROM tickets t WHERE t.event_id = $1 AND t.id IN (SELECT id FROM changed))
       END AS ids
     FROM x, n`,
    [eventId, sinceTx, limit.minTickets, limit.maxShare],
  );
  return { xmin: row!.xmin, snapshot: row!.snapshot, lastTx: row!.last_tx, changed: row!.changed, ids: row!.ids };
}

/** One page of an event's tickets: the next `limit` after a serial, or the given ids; in serial order. */
export async function manifestTicketPage(
  sql: Sql,
  eventId: string,
  page: { afterSerial: number; limit: number } | { ids: readonly string[] },
  withSealedCodes = false,
): Promise<ManifestRow[]> {
  const where = 'ids' in page ? 't.id = ANY($2::uuid[]) ORDER BY t.serial' : 't.serial > $2 ORDER BY t.serial LIMIT $3';
  const rows = await sql.query<RawTicket & { digest: string | null; sealed_code?: Buffer | null }>(
    // Only imported codes ship a digest: no hex string per signed ticket. Sealed codes only when the manifest ships codes.
    `SELECT ${TICKET_COLUMNS}, CASE WHEN t.code_kind = 'imported' THEN encode(t.code_digest, 'hex') END AS digest${withSealedCodes ? ', t.sealed_code' : ''}
     FROM tickets t WHERE t.event_id = $1 AND ${where}`,
    'ids' in page ? [eventId, page.ids] : [eventId, page.afterSerial, page.limit],
  );
  return rows.map((r) => {
    const row: ManifestRow = { ticket: toTicket(r), codeKind: r.code_kind, digestHex: r.digest };
    if (withSealedCodes) row.sealedCode = r.sealed_code ?? null;
    return row;
  });
}

/**
 * Whether anything a manifest shows has changed since its snapshot: a ticket
 * or a scan of one written by a transaction that snapshot did not see. Both
 * are found through the tx indexes (tickets_tx, scans_tx) from the
 * snapshot's xmin on; rows the snapshot did see are skipped, so a long
 * transaction holding the horizon back does not make every check fail.
 * This asks whether a cached copy is still exact, so it compares with the
 * snapshot, not with the position the copy hands out (manifestPosition):
 * the two agree, since nothing of the event lies between that position and
 * the xmin, and no transaction below the xmin can write anything later; the
 * xmin is just the tighter start for the index scans.
 */
export async function manifestChangedSince(sql: Sql, eventId: string, since: ManifestSnapshot): Promise<boolean> {
  const [row] = await sql.query<{ changed: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM tickets t WHERE t.event_id = $1 AND t.tx >= $2::xid8 AND NOT pg_visible_in_snapshot(t.tx, $3::pg_snapshot))
         OR EXISTS (SELECT 1 FROM scans s WHERE s.event_id = $1 AND s.tx >= $2::xid8 AND NOT pg_visible_in_snapshot(s.tx, $3::pg_snapshot)
                      AND s.ticket_id IS NOT NULL) AS changed`,
    [eventId, since.xmin, since.snapshot],
    { name: 'manifest_changed_since' },
  );
  return row!.changed;
}

export interface FeedScan {
  /** The scanned ticket's state now (admissions change it without a ticket change of its own). */
  ticket: TicketRecord | null;
  tx: string;
  id: string;
  ticketId: string | null;
  deviceId: string;
  seq: number | null;
  scannedAt: number;
  direction: Direction;
  gateId: string | null;
  result: ScanResult;
  reason: string;
  recordStatus: RecordStatus;
  conflictReason: string | null;
  winnerScanId: string | null;
  ambiguous: boolean;
  source: 'online' | 'offline';
  revision: number;
}
export interface FeedTicket {
  tx: string;
  ticket: TicketRecord;
  codeKind: 'signed' | 'imported';
  digestHex: string;
}

/** Scans a double-entries page looks through at most (they are few among many, so a page may hold none). */
export const DOUBLE_ENTRY_WINDOW = 20_000;

/**
 * One page of the feed. With `doubleEntriesOf` (a device's pk), only other
 * devices' scans ruled conflicts on tickets that device admitted, and that
 * device's own scans whose verdict changed after it uploaded them (a scan
 * that lost when an earlier one arrived later): what neither its manifest
 * deltas nor its uploads' answers can show it. They are found through
 * scans_tx like the rest, the others' checked against the device's own
 * scans of their ticket, among at most DOUBLE_ENTRY_WINDOW scans after the
 * cursor: `windowEnd` is the last of them when there were more, where the
 * next page goes on (a device far behind pages through a long history in
 * bounded steps).
 */
export async function feedPage(
  sql: Sql,
  eventId: string,
  opts: {
    ticketsAfter: { tx: string; id: string };
    scansAfter: { tx: string; id: string };
    excludeDevicePk: string | null;
    limit: number;
    doubleEntriesOf?: string | null;
    /** DOUBLE_ENTRY_WINDOW unless given. */
    window?: number;
  },
): Promise<{
  lastTx: string | null;
  tickets: FeedTicket[];
  scans: FeedScan[];
  windowEnd: { tx: string; id: string } | null;
}> {
  // lastTx: the event's newest change below the horizon (one backward step of tickets_tx and of scans_tx). Every
  // change at or below it is committed and read by this page when the page is not full; a change written later
  // is above the horizon, so above it. A cursor there depends on the event's own changes only, where the horizon
  // itself moves with every transaction of the installation, other organisations' included.
  const [x] = await sql.query<{ xmin: string; last_tx: string | null }>(
    `SELECT x.xmin::text AS xmin, greatest(
       (SELECT t.tx FROM tickets t WHERE t.event_id = $1 AND t.tx < x.xmin ORDER BY t.tx DESC LIMIT 1),
       (SELECT s.tx FROM scans s WHERE s.event_id = $1 AND s.tx < x.xmin ORDER BY s.tx DESC LIMIT 1))::text AS last_tx
     FROM (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin) x`,
    [eventId],
  );
  // A second snapshot may see more committed rows, never fewer: reading below the first xmin stays safe.
  const xmin = x!.xmin;
  const doubleEntriesOf = opts.doubleEntriesOf ?? null;
  let windowEnd: { tx: string; id: string } | null = null;
  if (doubleEntriesOf !== null) {
    const [end] = await sql.query<{ tx: string; id: string }>(
      `SELECT s.tx::text AS tx, s.id FROM scans s WHERE s.event_id = $1 AND s.tx < $2::xid8 AND (s.tx, s.id) > ($3::xid8, $4::uuid)
       ORDER BY s.tx, s.id OFFSET $5 LIMIT 1`,
      [eventId, xmin, opts.scansAfter.tx, opts.scansAfter.id, (opts.window ?? DOUBLE_ENTRY_WINDOW) - 1],
    );
    windowEnd = end ?? null;
  }
  const scanFilter =
    doubleEntriesOf === null
      ? '($6::uuid IS NULL OR s.device_pk <> $6::uuid OR s.revision > 0)'
      : `((s.device_pk = $6::uuid AND s.revision > 0)
        OR (s.record_status = 'conflict' AND s.device_pk <> $6::uuid
            AND EXISTS (SELECT 1 FROM scans m WHERE m.event_id = s.event_id AND m.ticket_id = s.ticket_id AND m.device_pk = $6::uuid AND m.admits)))${
              windowEnd ? ' AND (s.tx, s.id) <= ($7::xid8, $8::uuid)' : ''
            }`;
  const [tickets, scans] = await Promise.all([
    doubleEntriesOf !== null
      ? []
      : sql.query<RawTicket & { txt: string; code_kind: 'signed' | 'imported'; digest: string }>(
          `SELECT t.tx::text AS txt, ${TICKET_COLUMNS}, t.code_kind, encode(t.code_digest, 'hex') AS digest FROM tickets t
       WHERE t.event_id = $1 AND t.tx < $2::xid8 AND (t.tx, t.id) > ($3::xid8, $4::uuid)
       ORDER BY t.tx, t.id LIMIT $5`,
          [eventId, xmin, opts.ticketsAfter.tx, opts.ticketsAfter.id, opts.limit],
        ),
    sql.query<
      RawTicket & {
        txt: string;
        scan_id: string;
        scan_ticket_id: string | null;
        scan_device_id: string;
        seq: number | null;
        scanned_at: Date;
        direction: Direction;
        gate_id: string | null;
        result: ScanResult;
        reason: string;
        record_status: RecordStatus;
        conflict_reason: string | null;
        winner_scan_id: string | null;
        ambiguous: boolean;
        source: 'online' | 'offline';
        revision: number;
      }
    >(
      `SELECT s.tx::text AS txt, s.id AS scan_id, s.ticket_id AS scan_ticket_id, s.device_id AS scan_device_id, s.seq::float8 AS seq, s.scanned_at,
         s.direction, s.gate_id, s.result, s.reason, s.record_status, s.conflict_reason, s.winner_scan_id, s.ambiguous, s.source, s.revision, ${TICKET_COLUMNS}
       FROM (SELECT * FROM scans s
             WHERE s.event_id = $1 AND s.tx < $2::xid8 AND (s.tx, s.id) > ($3::xid8, $4::uuid) AND ${scanFilter}
             ORDER BY s.tx, s.id LIMIT $5) s
       LEFT JOIN tickets t ON t.event_id = s.event_id AND t.id = s.ticket_id
       ORDER BY s.tx, s.id`,
      [
        eventId,
        xmin,
        opts.scansAfter.tx,
        opts.scansAfter.id,
        opts.limit,
        doubleEntriesOf ?? opts.excludeDevicePk,
        ...(windowEnd ? [windowEnd.tx, windowEnd.id] : []),
      ],
    ),
  ]);
  return {
    lastTx: x!.last_tx,
    windowEnd,
    tickets: tickets.map((r) => ({ tx: r.txt, ticket: toTicket(r), codeKind: r.code_kind, digestHex: r.digest })),
    scans: scans.map((r) => ({
      ticket: r.id ? toTicket(r) : null,
      tx: r.txt,
      id: r.scan_id,
      ticketId: r.scan_ticket_id,
      deviceId: r.scan_device_id,
      seq: r.seq,
      scannedAt: ms(r.scanned_at)!,
      direction: r.direction,
      gateId: r.gate_id,
      result: r.result,
      reason: r.reason,
      recordStatus: r.record_status,
      conflictReason: r.conflict_reason,
      winnerScanId: r.winner_scan_id,
      ambiguous: r.ambiguous,
      source: r.source,
      revision: r.revision,
    })),
  };
}
