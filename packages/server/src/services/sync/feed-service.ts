import { isInside, type FeedEvent, type FeedPage, type FeedTicketState } from '@entrada/core';
import type { Database } from '../../db/database.ts';
import { invalid } from '../errors.ts';
import { DOUBLE_ENTRY_WINDOW, feedPage } from '../../store/changes.ts';
import type { TicketRecord } from '../../store/tickets.ts';
import type { EventContext } from '../event-context.ts';
import { MAX_UUID, NIL_UUID, type Cursors, type Position } from './cursor.ts';
import { MANIFEST_DIGEST_BYTES } from './manifest-service.ts';
import { statusHistoryJson } from './manifest-document.ts';

const iso = (v: number | null | undefined): string | null => (v == null ? null : new Date(v).toISOString());
const isoAt = (v: number): string => new Date(v).toISOString();

/**
 * The download phase (seed 004): everything that changed at an event since a
 * cursor — new tickets and status changes, other devices' scans whatever
 * their verdict (each with its ticket's state now), and verdict changes — in
 * commit order, in pages. Within one transaction, tickets come before scans,
 * each in id order.
 */
export class FeedService {
  constructor(
    private readonly db: Database,
    private readonly cursors: Cursors,
    /** Scans a double-entries page looks through at most (smaller in tests). */
    private readonly doubleEntryWindow = DOUBLE_ENTRY_WINDOW,
  ) {}

  /**
   * `doubleEntries` (a device's own view): only other devices' scans ruled
   * conflicts on tickets this device admitted, and this device's own scans
   * whose verdict changed after upload (the losing side of a double entry
   * whose earlier scan arrived later learns it here). A scanner takes every
   * ticket's state from its manifest deltas and reads only these here, so a
   * device far behind never pages through every scan made meanwhile.
   */
  async page(
    ctx: EventContext,
    opts: { since: string | undefined; limit: number; excludeDevicePk: string | null; doubleEntries?: boolean },
  ): Promise<FeedPage> {
    if (opts.doubleEntries && opts.excludeDevicePk === null)
      throw invalid("only=double_entries is a scanner device's view: call it with a device token");
    let from: Position = { tx: '0', kind: 0, id: NIL_UUID };
    if (opts.since) {
      const decoded = this.cursors.decode('feed', ctx.event.id, opts.since);
      if (!decoded) throw invalid("since is not a cursor of this event's feed; start without one");
      from = decoded;
    }
    // Items at the cursor's transaction: tickets after the cursor's id (or none, when the cursor sits on a scan), scans after it.
    const ticketsAfter = from.kind === 0 ? { tx: from.tx, id: from.id } : { tx: from.tx, id: MAX_UUID };
    const scansAfter = from.kind === 1 ? { tx: from.tx, id: from.id } : { tx: from.tx, id: NIL_UUID };
    const { lastTx, tickets, scans, windowEnd } = await feedPage(this.db, ctx.event.id, {
      ticketsAfter,
      scansAfter,
      excludeDevicePk: opts.excludeDevicePk,
      limit: opts.limit + 1,
      doubleEntriesOf: opts.doubleEntries ? opts.excludeDevicePk : null,
      window: this.doubleEntryWindow,
    });
    type Item = { pos: Position; body: FeedEvent };
    const ticketState = (t: TicketRecord): FeedTicketState => ({
      ticket_id: t.id,
      serial: t.serial,
      number: t.number,
      type_id: t.typeId,
      status: t.status,
      status_changed_at: iso(t.statusChangedAt),
      current_scans: t.state.entries,
      inside: isInside(t.state),
      version: t.version,
      ...(t.statusHistory.length > 0 ? { status_history: statusHistoryJson(t.statusHistory) } : {}),
      first_scan: t.state.first
        ? { at: isoAt(t.state.first.at), device_id: t.state.first.deviceId, gate_id: t.state.first.gateId }
        : null,
      last_scan: t.state.last
        ? {
            at: isoAt(t.state.last.at),
            direction: t.state.last.direction,
            device_id: t.state.last.deviceId,
            gate_id: t.state.last.gateId,
          }
        : null,
    });
    const items: Item[] = [
      ...tickets.map(({ tx, ticket: t, codeKind, digestHex }): Item => ({
        pos: { tx, kind: 0, id: t.id },
        body: {
          kind: 'ticket',
          ...ticketState(t),
          // A ticket created after the device's manifest is usable offline at once: imported codes need their digest.
          ...(codeKind === 'imported'
            ? { code_digest: Buffer.from(digestHex, 'hex').subarray(0, MANIFEST_DIGEST_BYTES).toString('base64url') }
            : {}),
        },
      })),
      ...scans.map((s): Item => ({
        pos: { tx: s.tx, kind: 1, id: s.id },
        body: {
          kind: 'scan',
          scan_id: s.id,
          ticket_id: s.ticketId,
          device_id: s.deviceId,
          seq: s.seq,
          scanned_at: iso(s.scannedAt),
          direction: s.direction,
          gate_id: s.gateId,
          result: s.result,
          reason: s.reason,
          verdict: s.recordStatus,
          conflict_reason: s.conflictReason,
          winner_scan_id: s.winnerScanId,
          ambiguous: s.ambiguous,
          source: s.source,
          revision: s.revision,
          ticket: s.ticket ? ticketState(s.ticket) : null,
        },
      })),
    ].sort(
      (a, b) =>
        compareTx(a.pos.tx, b.pos.tx) ||
        a.pos.kind - b.pos.kind ||
        (a.pos.id < b.pos.id ? -1 : a.pos.id > b.pos.id ? 1 : 0),
    );
    const page = items.slice(0, opts.limit);
    const full = items.length > opts.limit;
    const hasMore = full || windowEnd !== null;
    // Without more to read, every change of the event up to its newest one below the horizon has been seen (served,
    // or not for this reader): go on after it, so the next call skips nothing and repeats nothing, and a cursor moves
    // only with the event's own changes. A double-entries page that looked through its whole window of scans goes on
    // after the window.
    const next: Position = full
      ? page.at(-1)!.pos
      : windowEnd
        ? { tx: windowEnd.tx, kind: 1, id: windowEnd.id }
        : maxPosition(page.at(-1)?.pos ?? from, lastTx === null ? from : { tx: lastTx, kind: 1, id: MAX_UUID });
    return {
      event_id: ctx.event.id,
      events: page.map((i) => i.body),
      next_cursor: this.cursors.encode('feed', ctx.event.id, next),
      has_more: hasMore,
    };
  }
}

function compareTx(a: string, b: string): number {
  return a.length !== b.length ? a.length - b.length : a < b ? -1 : a > b ? 1 : 0;
}

function maxPosition(a: Position, b: Position): Position {
  const c = compareTx(a.tx, b.tx) || a.kind - b.kind || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  return c >= 0 ? a : b;
}
