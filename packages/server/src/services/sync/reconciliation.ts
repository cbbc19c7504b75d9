import type { TicketScanState } from '@entrada/core';
import type { Sql } from '../../db/database.ts';
import { candidateScans } from '../../store/offline-scans.ts';
import {
  applyReconciliation,
  type Reconciliation,
  type ReconciliationWritten,
} from '../../store/reconciliation-writes.ts';
import { compareAndSetTicketStates, lockTicketsById, type LockedTicket } from '../../store/ticket-states.ts';
import type { EventContext } from '../event-context.ts';
import { reconcileCapacity } from './capacity.ts';
import { reconcileTicket, type CandidateScan, type TicketReconciliation } from './reconcile.ts';

/**
 * The reconcile steps of every path that changes a ticket's candidate
 * admissions: an offline upload (sync-service.ts), an import, a seed-000
 * reconcile (legacy-reconcile.ts), a conflict resolved or a device
 * quarantined (conflict-service.ts). Each replays the tickets through core's
 * rules (reconcile.ts) and writes what changed in one statement.
 */

/** A ticket's replay, with the new version written when its row changed, and the conflicts it opened. */
export type ReconciledTicket = TicketReconciliation & {
  version?: number;
  /** Written by compare-and-set from this version (the cached copy's). */
  casFrom?: number;
  /** Ids of the conflicts this replay opened (scans that lose now and did not before). */
  openedConflicts?: string[];
};

/** The ids of the conflicts a set of replays opened (for one `conflicts_changed` message per batch). */
export function openedConflictIds(reconciled: Iterable<ReconciledTicket>): string[] {
  const out: string[] = [];
  for (const r of reconciled) if (r.openedConflicts) out.push(...r.openedConflicts);
  return out;
}

/** Writes the replays' verdicts, states and conflicts; each replay learns its version and the conflicts it opened. */
async function write(
  tx: Sql,
  eventId: string,
  rs: readonly ReconciledTicket[],
  w: Omit<Reconciliation, 'verdicts' | 'conflicts'>,
  newScanIds: ReadonlySet<string>,
): Promise<ReconciliationWritten> {
  const written = await applyReconciliation(tx, eventId, {
    ...w,
    verdicts: rs.flatMap((r) => r.changes.map((c) => ({ ...c, isNew: newScanIds.has(c.id) }))),
    conflicts: rs.flatMap((r) => r.conflicts.map((c) => ({ ...c, ticketId: r.ticketId }))),
  });
  if (written.conflictByLoser.size > 0) {
    for (const r of rs) {
      if (r.opened.length === 0) continue;
      r.openedConflicts = r.opened.flatMap((loser) => {
        const id = written.conflictByLoser.get(loser);
        return id ? [id] : [];
      });
    }
  }
  return written;
}

/**
 * Reconciles the tickets an upload added candidate admissions to. The usual
 * case, a ticket nobody has admitted yet (version 0, so no candidate stored by
 * another transaction), is replayed from this upload's candidates alone and
 * written with a compare-and-set on version 0, without reading or locking the
 * row first. A ticket whose copy is older than the row, or that someone
 * admitted already, is reconciled under its row lock from all its stored
 * candidates (this transaction's included). Every upload that stores a
 * candidate bumps the ticket's version, so of two uploads racing on one
 * ticket the second one's compare-and-set fails and it replays both.
 */
export async function reconcileNewCandidates(
  tx: Sql,
  ctx: EventContext,
  newCandidates: ReadonlyMap<string, CandidateScan[]>,
  known: ReadonlyMap<string, LockedTicket>,
  newScanIds: ReadonlySet<string>,
  at: number,
  guard: boolean,
): Promise<Map<string, ReconciledTicket>> {
  const out = new Map<string, ReconciledTicket>();
  const fast: ReconciledTicket[] = [];
  const slow: string[] = [];
  for (const [ticketId, scans] of newCandidates) {
    const ticket = known.get(ticketId);
    const type = ticket ? ctx.types.get(ticket.typeId) : undefined;
    if (!ticket || !type || ticket.version !== 0) {
      slow.push(ticketId);
      continue;
    }
    const r: ReconciledTicket = reconcileTicket(ctx, ticket, type, scans);
    r.casFrom = 0;
    fast.push(r);
  }
  const written = await compareAndSetTicketStates(
    tx,
    ctx.event.id,
    fast.map((r) => ({ ticketId: r.ticketId, expectedVersion: 0, state: r.state })),
    guard,
  );
  const settled: ReconciledTicket[] = [];
  for (const r of fast) {
    const version = written.get(r.ticketId);
    if (version === undefined) {
      slow.push(r.ticketId);
      continue;
    }
    r.version = version;
    out.set(r.ticketId, r);
    settled.push(r);
  }
  // Verdicts and conflicts among one upload's own candidates (the same ticket twice in a batch): rare.
  if (settled.some((r) => r.changes.length > 0 || r.conflicts.length > 0))
    await write(tx, ctx.event.id, settled, { states: [], voidLosers: [], at }, newScanIds);
  if (slow.length > 0)
    for (const [id, r] of await reconcileTickets(tx, ctx, slow, newScanIds, at, guard, false)) out.set(id, r);
  if (out.size > 0) await reconcileCapacity(tx, ctx);
  return out;
}

/**
 * Locks the given tickets (id order), replays all their stored candidate
 * admissions and writes what changed: scan verdicts of record, ticket states
 * and conflicts. A ticket that got candidates but no new state is still
 * written, so that "version 0 means no candidate admission stored" stays true
 * (reconcileNewCandidates relies on it).
 */
export async function reconcileTickets(
  tx: Sql,
  ctx: EventContext,
  ticketIds: string[],
  newScanIds: ReadonlySet<string>,
  at: number,
  lock = true,
  capacity = true,
): Promise<Map<string, ReconciledTicket>> {
  const out = new Map<string, ReconciledTicket>();
  if (ticketIds.length === 0) return out;
  const tickets = await lockTicketsById(tx, ctx.event.id, ticketIds, lock);
  const candidates = await candidateScans(
    tx,
    ctx.event.id,
    tickets.map((t) => t.id),
  );
  const byTicket = new Map<string, CandidateScan[]>();
  for (const c of candidates) {
    const list = byTicket.get(c.ticketId);
    if (list) list.push(c);
    else byTicket.set(c.ticketId, [c]);
  }
  const writes: Array<{ ticketId: string; state: TicketScanState }> = [];
  for (const ticket of tickets) {
    const type = ctx.types.get(ticket.typeId);
    if (!type) continue;
    const scans = byTicket.get(ticket.id) ?? [];
    const r: ReconciledTicket = reconcileTicket(ctx, ticket, type, scans);
    out.set(ticket.id, r);
    // Keeps "version 0 means no candidate admission" true when every candidate lost (wrong gate, cancelled…).
    if (r.stateChanged || (ticket.version === 0 && scans.length > 0))
      writes.push({ ticketId: r.ticketId, state: r.state });
  }
  const all = [...out.values()];
  const { versions } = await write(
    tx,
    ctx.event.id,
    all,
    { states: writes, voidLosers: all.flatMap((r) => r.revived), at },
    newScanIds,
  );
  for (const [id, version] of versions) out.get(id)!.version = version;
  // Admissions of record changed: which entries took a zone over its capacity (capacity.ts).
  if (capacity) await reconcileCapacity(tx, ctx);
  return out;
}
