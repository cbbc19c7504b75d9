import type {
  ConflictListQuery,
  ConflictPage,
  ConflictView as ConflictAnswer,
  EscalateConflictBody,
  ResolveConflictBody,
} from '@entrada/core';
import type { Database, Sql } from '../../db/database.ts';
import { DomainError, invalid, notFound } from '../errors.ts';
import {
  conflictCounts,
  escalateConflict,
  getConflict,
  getConflicts,
  listConflictPage,
  listConflicts,
  markResolvedMany,
  openQuarantineConflicts,
  reinstateScans,
  type ConflictView,
} from '../../store/conflicts.ts';
import { insertAudits } from '../../store/audit.ts';
import { quarantineDeviceScans } from '../../store/offline-scans.ts';
import { lockTicketsById } from '../../store/ticket-states.ts';
import type { Bus } from '../bus.ts';
import type { EventContexts } from '../event-context.ts';
import { conflictsOpened, notifyNothing, type Notify, type OrganiserNotification } from '../notifications.ts';
import type { DeviceRecord } from '../../store/devices.ts';
import { assertDeviceEvent } from '../device-service.ts';
import { openedConflictIds, reconcileTickets } from './reconciliation.ts';

function decodeCursor(cursor: string): { at: string; id: string } {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [unknown, unknown];
    if (
      typeof at === 'string' &&
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/.test(at) &&
      typeof id === 'string' &&
      /^[0-9a-f-]{36}$/.test(id)
    )
      return { at, id };
  } catch {
    /* answered below */
  }
  throw invalid('cursor is not one this server gave; start again without it');
}

const iso = (v: number | null): string | null => (v === null ? null : new Date(v).toISOString());
const isoAt = (v: number): string => new Date(v).toISOString();

export function conflictView(c: ConflictView, gateName: (id: string | null) => string | null): ConflictAnswer {
  const side = (s: ConflictView['loser']): ConflictAnswer['loser'] => ({
    scan_id: s.scanId,
    device_id: s.deviceId,
    seq: s.seq,
    gate_id: s.gateId,
    gate: gateName(s.gateId),
    scanned_at: isoAt(s.scannedAt),
    source: s.source,
    direction: s.direction,
    flags: s.flags,
    // Issue 13: the inbox shows both scans side by side (who, where, device time against upload time, how far the clock may be off).
    received_at: isoAt(s.receivedAt),
    clock_uncertainty_ms: s.clockUncertaintyMs,
    device_name: s.deviceName,
    staff_id: s.staffId,
    staff_name: s.staffName,
    ambiguous: s.ambiguous,
  });
  return {
    id: c.id,
    event_id: c.eventId,
    ticket: { id: c.ticketId, number: c.ticketNumber },
    reason: c.reason,
    ambiguous: c.ambiguous,
    status: c.status,
    winner: c.winner ? side(c.winner) : null,
    loser: side(c.loser),
    resolution: c.resolution,
    note: c.note,
    resolved_by: c.resolvedBy,
    resolved_at: iso(c.resolvedAt),
    created_at: isoAt(c.createdAt),
    updated_at: isoAt(c.updatedAt),
    // Seed 004's "Escalate": gate staff flagged it for the organisers, with a note.
    escalated: c.escalation !== null,
    escalation: c.escalation
      ? {
          at: isoAt(c.escalation.at),
          note: c.escalation.note,
          device_id: c.escalation.byDevice,
          staff_id: c.escalation.byStaff,
        }
      : null,
  };
}

/**
 * The organisers' conflict inbox (seed 004's resolution workflow). Resolving
 * a conflict as `legitimate` accepts the losing admission (or a quarantined
 * one) and replays the ticket, so occupancy and counts are corrected back in
 * time; `fraud` and `dismissed` close it and keep the admission excluded.
 */
export class ConflictService {
  constructor(
    private readonly db: Database,
    private readonly contexts: EventContexts,
    private readonly bus: Bus,
    private readonly now: () => number = Date.now,
    /** Webhooks: conflict.resolved, after the commit. */
    private readonly notify: Notify = notifyNothing,
  ) {}

  async list(organisationId: string, eventId: string, status: string | null, limit: number): Promise<ConflictAnswer[]> {
    const ctx = await this.contexts.get(eventId);
    if (!ctx || ctx.event.organisationId !== organisationId) throw notFound('Event');
    const gateName = (id: string | null): string | null => (id ? (ctx.gates.get(id)?.name ?? null) : null);
    return (await listConflicts(this.db, eventId, status, limit)).map((c) => conflictView(c, gateName));
  }

  /**
   * Gate staff send one of their device's open conflicts to the organisers with a note (seed 004's "Escalate"),
   * naming the device's own scan by seq or scan_id; the inbox shows it flagged. Again: the latest note.
   */
  async escalate(device: DeviceRecord, body: EscalateConflictBody): Promise<ConflictAnswer> {
    if ((body.seq === undefined) === (body.scan_id === undefined))
      throw invalid('Name the scan by seq or by scan_id (one of them)');
    const ctx = await this.contexts.get(body.event_id);
    if (!ctx || ctx.event.organisationId !== device.organisationId) throw notFound('Event');
    assertDeviceEvent(device, ctx.event.id);
    const id = await escalateConflict(
      this.db,
      ctx.event.id,
      device.pk,
      { seq: body.seq ?? null, scanId: body.scan_id ?? null },
      {
        note: body.note,
        deviceId: device.deviceId,
        staffId: body.staff_id ?? null,
        at: this.now(),
      },
    );
    if (!id)
      throw new DomainError(
        'NOT_FOUND',
        "No open conflict of this device's scan: it may be resolved already, or the scan won",
      );
    const gateName = (gid: string | null): string | null => (gid ? (ctx.gates.get(gid)?.name ?? null) : null);
    return conflictView((await getConflict(this.db, id))!, gateName);
  }

  /** One conflict: the bulk path with one id (one way to resolve, audited and published alike). */
  async resolve(
    organisationId: string,
    resolvedBy: string,
    conflictId: string,
    body: ResolveConflictBody,
  ): Promise<ConflictAnswer> {
    const conflict = await getConflict(this.db, conflictId);
    if (!conflict) throw notFound('Conflict');
    const [view] = await this.resolveMany(organisationId, resolvedBy, conflict.eventId, [conflictId], body, false);
    return view!;
  }

  /**
   * The inbox (issue 13): filtered, oldest first, in pages after an opaque
   * cursor; `counts` are the event's totals whatever the filter (the tabs).
   */
  async page(organisationId: string, eventId: string, q: ConflictListQuery): Promise<ConflictPage> {
    const ctx = await this.contexts.get(eventId);
    if (!ctx || ctx.event.organisationId !== organisationId) throw notFound('Event');
    const limit = Number(q.limit ?? 1000);
    if (limit < 1 || limit > 5000) throw invalid('limit must be between 1 and 5000');
    const gateName = (id: string | null): string | null => (id ? (ctx.gates.get(id)?.name ?? null) : null);
    const filter = {
      status: q.status === undefined || q.status === 'all' ? null : q.status,
      ambiguous: q.ambiguous === undefined ? null : q.ambiguous === 'true',
      escalated: q.escalated === undefined ? null : q.escalated === 'true',
      reason: q.reason ?? null,
      deviceId: q.device_id ?? null,
    };
    const [rows, counts] = await Promise.all([
      listConflictPage(this.db, eventId, filter, q.cursor ? decodeCursor(q.cursor) : null, limit + 1),
      conflictCounts(this.db, eventId),
    ]);
    const page = rows.slice(0, limit);
    return {
      conflicts: page.map((c) => conflictView(c, gateName)),
      next_cursor:
        rows.length > limit
          ? Buffer.from(JSON.stringify([page.at(-1)!.position.at, page.at(-1)!.position.id])).toString('base64url')
          : null,
      counts: { open: counts.open, ambiguous_open: counts.ambiguous, resolved: counts.resolved },
    };
  }

  /**
   * Resolves conflicts of one event, all or none: every id must be an open
   * conflict of the event, or nothing is resolved and the answer names the
   * first that is not (`conflict_ids/<index>`, with `conflict_id`). One
   * transaction, set-based: the tickets locked once, the conflicts marked in
   * one statement, the accepted scans reinstated in one, the tickets replayed
   * together, one audit entry per conflict written in one statement.
   */
  async resolveMany(
    organisationId: string,
    resolvedBy: string,
    eventId: string,
    ids: readonly string[],
    body: ResolveConflictBody,
    bulk = true,
  ): Promise<ConflictAnswer[]> {
    const ctx = await this.contexts.get(eventId);
    if (!ctx || ctx.event.organisationId !== organisationId) throw notFound(bulk ? 'Event' : 'Conflict');
    const field = (i: number): string => (bulk ? `conflict_ids/${i}: ` : '');
    const byId = new Map((await getConflicts(this.db, eventId, ids)).map((c) => [c.id, c]));
    ids.forEach((id, i) => {
      const c = byId.get(id);
      if (!c)
        throw new DomainError(
          'NOT_FOUND',
          `${field(i)}Conflict not found${bulk ? ' at this event; nothing was resolved' : ''}`,
          bulk ? { conflict_id: id } : undefined,
        );
      if (c.status !== 'open') {
        throw new DomainError(
          'CONFLICT',
          `${field(i)}This conflict is ${c.status}${c.resolution ? ` (${c.resolution})` : ''}; it cannot be resolved again${bulk ? '; nothing was resolved' : ''}`,
          bulk ? { conflict_id: id } : undefined,
        );
      }
    });
    const conflicts = ids.map((id) => byId.get(id)!);
    const ticketIds = [...new Set(conflicts.map((c) => c.ticketId))];
    const at = this.now();
    const reconciled = await this.db.transaction(async (tx) => {
      await lockTicketsById(tx, eventId, ticketIds);
      const changed = new Set(
        await markResolvedMany(tx, eventId, ids, {
          resolution: body.resolution,
          note: body.note ?? null,
          by: resolvedBy,
          at,
        }),
      );
      const lost = ids.findIndex((id) => !changed.has(id));
      if (lost >= 0)
        throw new DomainError(
          'CONFLICT',
          `${field(lost)}This conflict was resolved meanwhile${bulk ? '; nothing was resolved' : ''}`,
          bulk ? { conflict_id: ids[lost] } : undefined,
        );
      await insertAudits(
        tx,
        conflicts.map((c) => ({
          organisationId,
          eventId,
          actor: resolvedBy,
          action: 'conflict.resolve',
          subjectKind: 'conflict',
          subjectId: c.id,
          before: { status: c.status },
          after: { status: 'resolved', resolution: body.resolution, note: body.note ?? null, ticket_id: c.ticketId },
        })),
      );
      // The outbox: the webhooks' rows commit with the resolution, or neither does.
      await this.notify(
        tx,
        conflicts.map((c) => ({
          type: 'conflict.resolved' as const,
          organisationId,
          eventId,
          occurredAt: at,
          data: {
            event_id: eventId,
            event_name: ctx.event.name,
            conflict_id: c.id,
            ticket_id: c.ticketId,
            reason: c.reason,
            resolution: body.resolution,
          },
        })),
      );
      if (body.resolution !== 'legitimate') return null;
      // A quarantined scan comes back under the ordinary rules; a lost first-scan-wins decision is overruled.
      await reinstateScans(
        tx,
        eventId,
        conflicts.map((c) => ({ scanId: c.loser.scanId, forced: c.reason !== 'device_revoked' })),
      );
      return reconcileTickets(tx, ctx, ticketIds, new Set(), at);
    });
    const changedTickets = [...(reconciled?.values() ?? [])].filter((r) => r.version !== undefined);
    if (changedTickets.length > 0) {
      this.bus.publish({
        type: 'tickets_changed',
        eventId,
        ticketIds: changedTickets.map((r) => r.ticketId),
        versions: changedTickets.map((r) => r.version!),
      });
    }
    this.bus.publish({ type: 'conflicts_changed', eventId, conflictIds: [...ids], state: 'resolved' });
    if (body.resolution === 'legitimate') this.bus.publish({ type: 'occupancy_changed', eventId });
    const gateName = (id: string | null): string | null => (id ? (ctx.gates.get(id)?.name ?? null) : null);
    const after = new Map((await getConflicts(this.db, eventId, ids)).map((c) => [c.id, c]));
    return ids.map((id) => conflictView(after.get(id)!, gateName));
  }

  /**
   * A revoked device's admissions from `effectiveAt` on leave the admissions of record until reviewed: each becomes
   * an open conflict, and their `conflict.opened` webhooks are queued, all in `tx` (the revocation's own
   * transaction). Answers what tells the other instances and the dashboards, to call after the commit.
   */
  async quarantineIn(tx: Sql, devicePk: string, effectiveAt: number): Promise<() => void> {
    const at = this.now();
    const scans = await quarantineDeviceScans(tx, devicePk, effectiveAt);
    const byEvent = new Map<string, Array<{ ticketId: string; scanId: string }>>();
    for (const s of scans) byEvent.set(s.eventId, [...(byEvent.get(s.eventId) ?? []), s]);
    const opened = new Map<string, string[]>();
    const notifications: OrganiserNotification[] = [];
    for (const [eventId, list] of byEvent) {
      const ctx = await this.contexts.get(eventId);
      if (!ctx) continue;
      const ids = await openQuarantineConflicts(tx, eventId, list, at);
      const reconciled = await reconcileTickets(tx, ctx, [...new Set(list.map((s) => s.ticketId))], new Set(), at);
      const all = [...new Set([...ids, ...openedConflictIds(reconciled.values())])];
      opened.set(eventId, all);
      notifications.push(...conflictsOpened(ctx.event, all, at));
    }
    // The outbox: one statement for every event's conflicts.
    await this.notify(tx, notifications);
    return () => {
      for (const s of scans)
        this.bus.publish({
          type: 'ticket_changed',
          eventId: s.eventId,
          ticketId: s.ticketId,
          version: Number.MAX_SAFE_INTEGER,
        });
      for (const eventId of byEvent.keys()) this.bus.publish({ type: 'occupancy_changed', eventId });
      for (const [eventId, conflictIds] of opened)
        if (conflictIds.length > 0)
          this.bus.publish({ type: 'conflicts_changed', eventId, conflictIds, state: 'opened' });
    };
  }
}
