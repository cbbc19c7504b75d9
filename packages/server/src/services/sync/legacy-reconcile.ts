import { randomUUID } from 'node:crypto';
import { parseEventTime, type ReconcileBody } from '@entrada/core';
import type { Database } from '../../db/database.ts';
import { DomainError } from '../../http/errors.ts';
import type { DeviceRecord } from '../../store/devices.ts';
import { insertLegacyScans, lockTicketsById, ticketEvents } from '../../store/offline.ts';
import type { Bus } from '../bus.ts';
import type { EventContexts } from '../event-context.ts';
import { reconcileTickets } from './sync-service.ts';

interface Result { ticket_id: string; status: 'SUCCESS' | 'DUPLICATE' | 'ERROR'; message: string; conflict?: boolean }

/**
 * Seed 000's `POST /offline/reconcile`, for existing scanner clients, served by
 * the same engine as sync: scans are stored whatever their result, idempotent
 * per device, ticket and scan time, and reconciled first-scan-wins.
 */
export class LegacyReconcileService {
  constructor(private readonly db: Database, private readonly contexts: EventContexts, private readonly bus: Bus, private readonly now: () => number = Date.now) {}

  async reconcile(device: DeviceRecord, body: ReconcileBody): Promise<{ success: boolean; reconciled: number; failed: number; results: Result[] }> {
    if (body.device_id !== device.deviceId) throw new DomainError('FORBIDDEN', 'device_id does not match the device token');
    const receivedAt = this.now();
    // Read as core reads instants (a time without a zone is UTC here); null outside years 0001..9999.
    const times = body.scans.map((s) => parseEventTime(s.scanned_at, 'UTC') ?? Number.NaN);
    const events = await ticketEvents(this.db, device.organisationId, [...new Set(body.scans.map((s) => s.ticket_id))]);
    const results: Result[] = body.scans.map((s, i) => (
      !Number.isFinite(times[i]) ? { ticket_id: s.ticket_id, status: 'ERROR', message: 'scanned_at is not an ISO 8601 date-time' }
        : !events.has(s.ticket_id) ? { ticket_id: s.ticket_id, status: 'ERROR', message: 'Ticket not found' }
          : { ticket_id: s.ticket_id, status: 'SUCCESS', message: '' }));
    const byEvent = new Map<string, number[]>();
    results.forEach((r, i) => {
      if (r.status === 'SUCCESS') byEvent.set(events.get(r.ticket_id)!, [...(byEvent.get(events.get(r.ticket_id)!) ?? []), i]);
    });
    for (const [eventId, indexes] of byEvent) {
      const ctx = await this.contexts.get(eventId);
      if (!ctx) continue;
      const rows = indexes.map((i) => {
        const s = body.scans[i]!;
        const admits = s.result === 'ALLOW';
        return { index: i, id: randomUUID(), ticketId: s.ticket_id, scannedAt: times[i]!, admits, localResult: admits ? 'valid' : 'duplicate', reason: admits ? 'admitted_offline' : (s.reason ?? 'refused_offline').slice(0, 200) };
      });
      const reconciled = await this.db.transaction(async (tx) => {
        const ticketIds = [...new Set(rows.map((r) => r.ticketId))];
        await lockTicketsById(tx, eventId, ticketIds);
        const fresh = await insertLegacyScans(tx, { eventId, devicePk: device.pk, deviceId: device.deviceId, receivedAt }, rows);
        const newRows = rows.filter((r) => fresh.has(`${r.ticketId}|${r.scannedAt}`));
        const out = await reconcileTickets(tx, ctx, [...new Set(newRows.filter((r) => r.admits).map((r) => r.ticketId))], new Set(newRows.map((r) => r.id)), receivedAt);
        return { out, fresh };
      });
      const lost = new Set([...reconciled.out.values()].flatMap((r) => r.conflicts.map((c) => c.id)));
      for (const r of rows) {
        const res = results[r.index]!;
        if (!reconciled.fresh.has(`${r.ticketId}|${r.scannedAt}`)) {
          res.status = 'DUPLICATE';
          res.message = 'Already processed';
        } else if (lost.has(r.id)) {
          res.message = 'Scan reconciled — conflict: the ticket was already used (first scan wins)';
          res.conflict = true;
        } else {
          res.message = r.admits ? 'Scan reconciled' : 'Scan reconciled (denied at the gate)';
        }
      }
      for (const r of reconciled.out.values()) {
        if (r.version !== undefined) this.bus.publish({ type: 'ticket_changed', eventId, ticketId: r.ticketId, version: r.version });
      }
    }
    const reconciled = results.filter((r) => r.status === 'SUCCESS').length;
    return { success: true, reconciled, failed: results.length - reconciled, results };
  }
}
