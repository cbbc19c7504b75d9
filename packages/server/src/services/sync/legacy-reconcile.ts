import { randomUUID } from 'node:crypto';
import { parseEventTime, type ReconcileBody } from '@entrada/core';
import type { Database } from '../../db/database.ts';
import { DomainError } from '../errors.ts';
import type { DeviceRecord } from '../../store/devices.ts';
import { insertLegacyScans } from '../../store/offline-scans.ts';
import { lockTicketsById, ticketEvents } from '../../store/ticket-states.ts';
import type { Bus, LiveScan } from '../bus.ts';
import { conflictsOpened, notifyNothing, type Notify } from '../notifications.ts';
import type { EventContext, EventContexts } from '../event-context.ts';
import { openedConflictIds, reconcileTickets, type ReconciledTicket } from './reconciliation.ts';

const NOT_REGISTERED_FOR_EVENT =
  "This device is not registered for this ticket's event; an organiser can add the event to it (POST /api/v1/devices/{deviceId}/events)";

interface Result {
  ticket_id: string;
  status: 'SUCCESS' | 'DUPLICATE' | 'ERROR';
  message: string;
  conflict?: boolean;
}
interface LegacyRow {
  index: number;
  id: string;
  ticketId: string;
  scannedAt: number;
  admits: boolean;
  localResult: string;
  reason: string;
}

/** The instants a scan time may take here: ISO 8601's four-digit years (PostgreSQL holds more, JavaScript's dates less before year 1). */
const MIN_STORABLE_MS = Date.parse('0001-01-01T00:00:00.000Z');
const MAX_STORABLE_MS = Date.parse('9999-12-31T23:59:59.999Z');
/** A ticket id as the tickets table holds it; anything else is answered per scan (never looked up: the cast would fail the batch). */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Seed 000's `POST /offline/reconcile`, for existing scanner clients, served by
 * the same engine as sync: scans are stored whatever their result, idempotent
 * per device, ticket and scan time, and reconciled first-scan-wins.
 */
export class LegacyReconcileService {
  constructor(
    private readonly db: Database,
    private readonly contexts: EventContexts,
    private readonly bus: Bus,
    private readonly now: () => number = Date.now,
    /** Webhooks: conflict.opened, queued in the call's transaction. */
    private readonly notify: Notify = notifyNothing,
  ) {}

  async reconcile(
    device: DeviceRecord,
    body: ReconcileBody,
  ): Promise<{ success: boolean; reconciled: number; failed: number; results: Result[] }> {
    if (body.device_id !== device.deviceId)
      throw new DomainError('FORBIDDEN', 'device_id does not match the device token');
    const receivedAt = this.now();
    // Read as core reads instants (a time without a zone is UTC here); null outside years 0001..9999.
    const times = body.scans.map((s) => parseEventTime(s.scanned_at, 'UTC') ?? Number.NaN);
    const mayUse = (eventId: string): boolean => device.eventIds === null || device.eventIds.includes(eventId);
    // Ticket ids are compared lower case (as PostgreSQL prints a uuid); a malformed one is never sent to the database.
    const ticketIds = body.scans.map((s) => (UUID.test(s.ticket_id) ? s.ticket_id.toLowerCase() : null));
    const events = await ticketEvents(this.db, device.organisationId, [
      ...new Set(ticketIds.flatMap((id) => (id ? [id] : []))),
    ]);
    const contexts = new Map<string, EventContext>();
    for (const eventId of new Set(events.values())) {
      const ctx = await this.contexts.get(eventId);
      if (ctx) contexts.set(eventId, ctx);
    }
    // Answered per scan, in request order: what can never be stored is said here, and the rest is stored.
    // The same scan (ticket, scan time) twice in one call is stored once: the later ones are DUPLICATE.
    const firstOf = new Set<string>();
    const results: Result[] = body.scans.map((s, i) => {
      const at = times[i]!;
      const id = ticketIds[i] ?? null;
      const error =
        id === null
          ? 'ticket_id is not a ticket id (a UUID)'
          : !Number.isFinite(at)
            ? 'scanned_at is not an ISO 8601 date-time'
            : at < MIN_STORABLE_MS || at > MAX_STORABLE_MS
              ? 'scanned_at must lie between the years 1 and 9999'
              : !events.has(id) || !contexts.has(events.get(id)!)
                ? 'Ticket not found'
                : !mayUse(events.get(id)!)
                  ? NOT_REGISTERED_FOR_EVENT
                  : null;
      if (error) return { ticket_id: s.ticket_id, status: 'ERROR', message: error };
      const key = `${id}|${at}`;
      if (firstOf.has(key))
        return {
          ticket_id: s.ticket_id,
          status: 'DUPLICATE',
          message: 'Already processed (the same scan earlier in this batch)',
        };
      firstOf.add(key);
      return { ticket_id: s.ticket_id, status: 'SUCCESS', message: '' };
    });
    const byEvent = new Map<string, LegacyRow[]>();
    results.forEach((r, i) => {
      if (r.status !== 'SUCCESS') return;
      const s = body.scans[i]!;
      const ticketId = ticketIds[i]!;
      const eventId = events.get(ticketId)!;
      const admits = s.result === 'ALLOW';
      const row: LegacyRow = {
        index: i,
        id: randomUUID(),
        ticketId,
        scannedAt: times[i]!,
        admits,
        localResult: admits ? 'valid' : 'duplicate',
        reason: admits ? 'admitted_offline' : (s.reason ?? 'refused_offline').slice(0, 200),
      };
      const list = byEvent.get(eventId);
      if (list) list.push(row);
      else byEvent.set(eventId, [row]);
    });
    // One transaction for every event the call covers: all of it is stored, or none (a failure in the second event
    // must not leave the first one's scans applied).
    const applied = await this.db.transaction(async (tx) => {
      const out: Array<{
        eventId: string;
        rows: LegacyRow[];
        fresh: Set<string>;
        reconciled: Map<string, ReconciledTicket>;
      }> = [];
      for (const [eventId, rows] of byEvent) {
        const ctx = contexts.get(eventId)!;
        const ticketIds = [...new Set(rows.map((r) => r.ticketId))];
        await lockTicketsById(tx, eventId, ticketIds);
        const fresh = await insertLegacyScans(
          tx,
          { eventId, devicePk: device.pk, deviceId: device.deviceId, receivedAt },
          rows,
        );
        const newRows = rows.filter((r) => fresh.has(`${r.ticketId}|${r.scannedAt}`));
        const reconciled = await reconcileTickets(
          tx,
          ctx,
          [...new Set(newRows.filter((r) => r.admits).map((r) => r.ticketId))],
          new Set(newRows.map((r) => r.id)),
          receivedAt,
        );
        out.push({ eventId, rows, fresh, reconciled });
      }
      // The outbox: the conflicts' webhooks commit with the scans that opened them (one statement for the call).
      await this.notify(
        tx,
        out.flatMap((a) =>
          conflictsOpened(contexts.get(a.eventId)!.event, openedConflictIds(a.reconciled.values()), receivedAt),
        ),
      );
      return out;
    });
    for (const { eventId, rows, fresh, reconciled } of applied) {
      const lost = new Map(
        [...reconciled.values()].flatMap((r) => r.conflicts.map((c) => [c.id, c.conflictReason] as const)),
      );
      for (const r of rows) {
        const res = results[r.index]!;
        if (!fresh.has(`${r.ticketId}|${r.scannedAt}`)) {
          res.status = 'DUPLICATE';
          res.message = 'Already processed';
        } else if (lost.has(r.id)) {
          res.message = 'Scan reconciled — conflict: the ticket was already used (first scan wins)';
          res.conflict = true;
        } else {
          res.message = r.admits ? 'Scan reconciled' : 'Scan reconciled (denied at the gate)';
        }
      }
      for (const r of reconciled.values()) {
        if (r.version !== undefined)
          this.bus.publish({ type: 'ticket_changed', eventId, ticketId: r.ticketId, version: r.version });
      }
      // The live stream: one message per event of the call for its stored scans, one for the conflicts they opened.
      const scans: LiveScan[] = rows
        .filter((r) => fresh.has(`${r.ticketId}|${r.scannedAt}`))
        .map((r) => ({
          scanId: r.id,
          at: r.scannedAt,
          receivedAt,
          gateId: null,
          deviceId: device.deviceId,
          staffId: null,
          direction: 'entry',
          verdict: lost.has(r.id) ? 'conflict' : r.admits ? 'admitted' : 'rejected',
          reason: lost.has(r.id) ? (lost.get(r.id) ?? 'conflict') : r.reason,
          offline: true,
          ticketId: r.ticketId,
        }));
      if (scans.length > 0) this.bus.publish({ type: 'scans_recorded', eventId, scans });
      const opened = openedConflictIds(reconciled.values());
      if (opened.length > 0) {
        this.bus.publish({ type: 'conflicts_changed', eventId, conflictIds: opened, state: 'opened' });
      }
    }
    const reconciled = results.filter((r) => r.status === 'SUCCESS').length;
    return { success: true, reconciled, failed: results.length - reconciled, results };
  }
}
