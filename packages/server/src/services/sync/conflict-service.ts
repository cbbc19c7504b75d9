import type { ResolveConflictBody } from '@entrada/core';
import type { Database } from '../../db/database.ts';
import { DomainError, notFound } from '../errors.ts';
import { getConflict, listConflicts, markResolved, type ConflictView } from '../../store/conflicts.ts';
import { openQuarantineConflicts } from '../../store/conflicts.ts';
import { quarantineDeviceScans, reinstateScan } from '../../store/offline-scans.ts';
import { lockTicketsById } from '../../store/ticket-states.ts';
import type { Bus } from '../bus.ts';
import type { EventContexts } from '../event-context.ts';
import { reconcileTickets } from './reconciliation.ts';

const iso = (v: number | null): string | null => (v === null ? null : new Date(v).toISOString());

export function conflictView(c: ConflictView, gateName: (id: string | null) => string | null): Record<string, unknown> {
  const side = (s: ConflictView['loser']): Record<string, unknown> => ({
    scan_id: s.scanId, device_id: s.deviceId, seq: s.seq, gate_id: s.gateId, gate: gateName(s.gateId), scanned_at: iso(s.scannedAt), source: s.source, direction: s.direction,
    flags: s.flags,
  });
  return {
    id: c.id, event_id: c.eventId, ticket: { id: c.ticketId, number: c.ticketNumber }, reason: c.reason, ambiguous: c.ambiguous, status: c.status,
    winner: c.winner ? side(c.winner) : null, loser: side(c.loser),
    resolution: c.resolution, note: c.note, resolved_by: c.resolvedBy, resolved_at: iso(c.resolvedAt), created_at: iso(c.createdAt), updated_at: iso(c.updatedAt),
  };
}

/**
 * The organisers' conflict inbox (seed 004's resolution workflow). Resolving
 * a conflict as `legitimate` accepts the losing admission (or a quarantined
 * one) and replays the ticket, so occupancy and counts are corrected back in
 * time; `fraud` and `dismissed` close it and keep the admission excluded.
 */
export class ConflictService {
  constructor(private readonly db: Database, private readonly contexts: EventContexts, private readonly bus: Bus, private readonly now: () => number = Date.now) {}

  async list(organisationId: string, eventId: string, status: string | null, limit: number): Promise<Record<string, unknown>[]> {
    const ctx = await this.contexts.get(eventId);
    if (!ctx || ctx.event.organisationId !== organisationId) throw notFound('Event');
    const gateName = (id: string | null): string | null => (id ? ctx.gates.get(id)?.name ?? null : null);
    return (await listConflicts(this.db, eventId, status, limit)).map((c) => conflictView(c, gateName));
  }

  async resolve(organisationId: string, resolvedBy: string, conflictId: string, body: ResolveConflictBody): Promise<Record<string, unknown>> {
    const conflict = await getConflict(this.db, conflictId);
    const ctx = conflict ? await this.contexts.get(conflict.eventId) : null;
    if (!conflict || !ctx || ctx.event.organisationId !== organisationId) throw notFound('Conflict');
    if (conflict.status !== 'open') throw new DomainError('CONFLICT', `This conflict is ${conflict.status}${conflict.resolution ? ` (${conflict.resolution})` : ''}; it cannot be resolved again`);
    const at = this.now();
    const reconciled = await this.db.transaction(async (tx) => {
      await lockTicketsById(tx, ctx.event.id, [conflict.ticketId]);
      if (!(await markResolved(tx, ctx.event.id, conflict.id, { resolution: body.resolution, note: body.note ?? null, by: resolvedBy, at }))) {
        throw new DomainError('CONFLICT', 'This conflict was resolved meanwhile');
      }
      if (body.resolution !== 'legitimate') return null;
      // A quarantined scan comes back under the ordinary rules; a lost first-scan-wins decision is overruled.
      await reinstateScan(tx, ctx.event.id, conflict.loser.scanId, conflict.reason !== 'device_revoked');
      return reconcileTickets(tx, ctx, [conflict.ticketId], new Set(), at);
    });
    for (const r of reconciled?.values() ?? []) {
      if (r.version !== undefined) this.bus.publish({ type: 'ticket_changed', eventId: ctx.event.id, ticketId: r.ticketId, version: r.version });
    }
    // The admissions of record may have changed (a legitimate loser replayed): live dashboards recount.
    this.bus.publish({ type: 'occupancy_changed', eventId: ctx.event.id });
    const after = await getConflict(this.db, conflictId);
    return conflictView(after!, (id) => (id ? ctx.gates.get(id)?.name ?? null : null));
  }

  /** A revoked device's admissions from `effectiveAt` on leave the admissions of record until reviewed. */
  async quarantine(devicePk: string, effectiveAt: number): Promise<number> {
    const at = this.now();
    const quarantined = await this.db.transaction(async (tx) => {
      const scans = await quarantineDeviceScans(tx, devicePk, effectiveAt);
      const byEvent = new Map<string, Array<{ ticketId: string; scanId: string }>>();
      for (const s of scans) byEvent.set(s.eventId, [...(byEvent.get(s.eventId) ?? []), s]);
      for (const [eventId, list] of byEvent) {
        const ctx = await this.contexts.get(eventId);
        if (!ctx) continue;
        await openQuarantineConflicts(tx, eventId, list, at);
        await reconcileTickets(tx, ctx, [...new Set(list.map((s) => s.ticketId))], new Set(), at);
      }
      return scans;
    });
    for (const s of quarantined) this.bus.publish({ type: 'ticket_changed', eventId: s.eventId, ticketId: s.ticketId, version: Number.MAX_SAFE_INTEGER });
    for (const eventId of new Set(quarantined.map((s) => s.eventId))) this.bus.publish({ type: 'occupancy_changed', eventId });
    return quarantined.length;
  }
}
