import {
  alertSettingsProblem,
  isValidTimeZone,
  parseEventTime,
  type AlertSettings,
  type DeviceChanged,
  type EventChanged,
  type GateView,
  type StaffChanged,
  type TicketTypeView,
  type ZoneView,
  type UpdateDeviceBody,
  type UpdateEventBody,
  type UpdateGateBody,
  type UpdateStaffBody,
  type UpdateTicketTypeBody,
  type UpdateZoneBody,
} from '@entrada/core';
import { pgErrorCode, PG_UNIQUE_VIOLATION, type Database, type Sql } from '../db/database.ts';
import { hashPin } from '../crypto/pin-hash.ts';
import { DomainError, invalid, notFound } from './errors.ts';
import { insertAudit } from '../store/audit.ts';
import { existingZoneIds } from '../store/events.ts';
import {
  deleteEventSetup,
  deleteGate,
  deleteStaff,
  deleteTicketType,
  deleteZone,
  eventDependants,
  findOrganisationGate,
  gateDependants,
  lockDevice,
  lockEvent,
  lockGate,
  lockStaff,
  lockTicketType,
  lockZone,
  staffDependants,
  ticketTypeDependants,
  updateDevice,
  updateEvent,
  updateGate,
  updateStaff,
  updateTicketType,
  updateZone,
  zoneDependants,
  type DeviceSetupRow,
  type EventSetupRow,
  type GateSetupRow,
  type StaffSetupRow,
  type TypeSetupRow,
  type ZoneSetupRow,
} from '../store/setup.ts';
import type { Caller } from './audit.ts';
import type { DeviceDirectory } from './device-directory.ts';
import type { EventService } from './event-service.ts';

const iso = (v: number | null): string | null => (v === null ? null : new Date(v).toISOString());

/** What an update's change returned: never null (only a deletion's change has no `after`). */
function changed<T>(after: T | null): T {
  if (after === null) throw new Error('an update answered no row');
  return after;
}
const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

// What the audit log and the API show of each row: never PIN hashes, tokens or codes.
export const eventShown = (e: EventSetupRow) => ({
  name: e.name,
  starts_at: new Date(e.startsAt).toISOString(),
  ends_at: new Date(e.endsAt).toISOString(),
  timezone: e.timezone,
  settings: e.settings,
});
export const zoneShown = (z: ZoneSetupRow) => ({
  id: z.id,
  name: z.name,
  capacity: z.capacity,
  capacity_mode: z.capacityMode,
});
export const gateShown = (g: GateSetupRow) => ({
  id: g.id,
  name: g.name,
  zone_ids: g.zoneIds,
  closed: g.closedAt !== null,
  closed_at: iso(g.closedAt),
});
export const typeShown = (t: TypeSetupRow) => ({
  id: t.id,
  name: t.name,
  zone_ids: t.zoneIds,
  max_scans: t.maxScans,
  allow_reentry: t.allowReentry,
  valid_from: iso(t.validFrom),
  valid_until: iso(t.validUntil),
});
const staffShown = (s: StaffSetupRow) => ({ id: s.id, username: s.username, name: s.name, active: s.active });
const deviceShown = (d: DeviceSetupRow) => ({
  device_id: d.deviceId,
  name: d.name,
  default_event_id: d.defaultEventId,
  default_gate_id: d.defaultGateId,
});

/** Only the fields that changed, before and after (an entry says what changed, not the whole row). */
function changes(
  before: Record<string, unknown>,
  after: Record<string, unknown>,
): { before: Record<string, unknown>; after: Record<string, unknown> } | null {
  const b: Record<string, unknown> = {};
  const a: Record<string, unknown> = {};
  for (const k of Object.keys(after)) {
    if (JSON.stringify(before[k]) === JSON.stringify(after[k])) continue;
    b[k] = before[k];
    a[k] = after[k];
  }
  return Object.keys(a).length === 0 ? null : { before: b, after: a };
}

/**
 * Changes and deletions of an event's set-up. Each change is one transaction:
 * the row is read under lock, checked, written, and its audit entry written
 * with it; nothing is partly applied. A change to what scanning decides by
 * (event, zones, gates, types) then invalidates the event's cached context on
 * every instance, so the next manifest (full or delta) carries the new rules.
 */
export class SetupService {
  constructor(
    private readonly db: Database,
    private readonly events: EventService,
    private readonly directory?: DeviceDirectory,
  ) {}

  async updateEvent(c: Caller, eventId: string, body: UpdateEventBody): Promise<EventChanged> {
    const shown = await this.inEvent(c, eventId, 'event.update', 'event', eventId, async (tx) => {
      const before = await lockEvent(tx, c.organisationId, eventId);
      if (!before) throw notFound('Event');
      const timezone = body.timezone ?? before.timezone;
      if (!isValidTimeZone(timezone))
        throw invalid(`/timezone "${timezone}" is not a time zone name such as Europe/Amsterdam`);
      const time = (field: string, v: string | undefined, current: number): number => {
        if (v === undefined) return current;
        const t = parseEventTime(v, timezone);
        if (t === null)
          throw invalid(`/${field} must be a date and time such as 2026-08-01T19:00 (read in ${timezone})`);
        return t;
      };
      const after: EventSetupRow = {
        ...before,
        name: body.name ?? before.name,
        timezone,
        startsAt: time('starts_at', body.starts_at, before.startsAt),
        endsAt: time('ends_at', body.ends_at, before.endsAt),
        settings: body.settings ? { ...before.settings, ...body.settings } : before.settings,
      };
      if (after.endsAt <= after.startsAt) throw invalid('/ends_at must be after /starts_at');
      const alertProblem = alertSettingsProblem(after.settings.alerts as AlertSettings | undefined);
      if (alertProblem) throw invalid(alertProblem);
      await updateEvent(tx, after);
      return { before: eventShown(before), after: eventShown(after) };
    });
    return { id: eventId, ...changed(shown) };
  }

  async deleteEvent(c: Caller, eventId: string): Promise<void> {
    await this.inEvent(c, eventId, 'event.delete', 'event', eventId, async (tx) => {
      const before = await lockEvent(tx, c.organisationId, eventId);
      if (!before) throw notFound('Event');
      const d = await eventDependants(tx, eventId);
      const what = [
        d.tickets && plural(d.tickets, 'ticket'),
        d.scans && plural(d.scans, 'scan'),
        d.pairingCodes && plural(d.pairingCodes, 'pairing code'),
        d.deviceLogs && plural(d.deviceLogs, 'device upload log'),
      ].filter(Boolean);
      if (what.length > 0)
        throw new DomainError(
          'CONFLICT',
          `The event cannot be deleted: ${what.join(', ')} belong to it. An event that has sold or scanned tickets is kept; change its dates or name instead`,
        );
      await deleteEventSetup(tx, eventId);
      return { before: eventShown(before), after: null };
    });
  }

  async updateZone(c: Caller, eventId: string, zoneId: string, body: UpdateZoneBody): Promise<ZoneView> {
    return changed(
      await this.inEvent(c, eventId, 'zone.update', 'zone', zoneId, async (tx) => {
        const before = await lockZone(tx, eventId, zoneId);
        if (!before) throw notFound('Zone');
        const after = {
          ...before,
          name: body.name ?? before.name,
          capacity: body.capacity !== undefined ? body.capacity : before.capacity,
          capacityMode: body.capacity_mode ?? before.capacityMode,
        };
        await this.unique(() => updateZone(tx, eventId, after), 'zone');
        return { before: zoneShown(before), after: zoneShown(after) };
      }),
    );
  }

  async deleteZone(c: Caller, eventId: string, zoneId: string): Promise<void> {
    await this.inEvent(c, eventId, 'zone.delete', 'zone', zoneId, async (tx) => {
      const before = await lockZone(tx, eventId, zoneId);
      if (!before) throw notFound('Zone');
      const d = await zoneDependants(tx, eventId, zoneId);
      const what = [
        d.gates && `${plural(d.gates, 'gate')} admit${d.gates === 1 ? 's' : ''} to this zone`,
        d.types && `${plural(d.types, 'ticket type')} grant${d.types === 1 ? 's' : ''} it`,
      ].filter(Boolean);
      if (what.length > 0)
        throw new DomainError('CONFLICT', `The zone cannot be deleted: ${what.join(' and ')}; take it off them first`);
      await deleteZone(tx, eventId, zoneId);
      return { before: zoneShown(before), after: null };
    });
  }

  async updateGate(c: Caller, eventId: string, gateId: string, body: UpdateGateBody, now: number): Promise<GateView> {
    return changed(
      await this.inEvent(c, eventId, 'gate.update', 'gate', gateId, async (tx) => {
        const before = await lockGate(tx, eventId, gateId);
        if (!before) throw notFound('Gate');
        if (body.zone_ids) await this.checkZones(tx, eventId, body.zone_ids);
        const closedAt = body.closed === undefined ? before.closedAt : body.closed ? (before.closedAt ?? now) : null;
        const after = { ...before, name: body.name ?? before.name, zoneIds: body.zone_ids ?? before.zoneIds, closedAt };
        await this.unique(() => updateGate(tx, eventId, after), 'gate');
        return { before: gateShown(before), after: gateShown(after) };
      }),
    );
  }

  async deleteGate(c: Caller, eventId: string, gateId: string): Promise<void> {
    await this.inEvent(c, eventId, 'gate.delete', 'gate', gateId, async (tx) => {
      const before = await lockGate(tx, eventId, gateId);
      if (!before) throw notFound('Gate');
      const d = await gateDependants(tx, eventId, gateId);
      const what = [
        d.scans && `${plural(d.scans, 'scan')} were made at it`,
        d.sessions && `${plural(d.sessions, 'scan session')} used it`,
        d.pairingCodes && `${plural(d.pairingCodes, 'pairing code')} name it`,
        d.devices && `${plural(d.devices, 'device')} have it as default gate`,
      ].filter(Boolean);
      if (what.length > 0)
        throw new DomainError(
          'CONFLICT',
          `The gate cannot be deleted: ${what.join(', ')}. Close it instead (closed: true)`,
        );
      await deleteGate(tx, eventId, gateId);
      return { before: gateShown(before), after: null };
    });
  }

  async updateTicketType(
    c: Caller,
    eventId: string,
    typeId: string,
    body: UpdateTicketTypeBody,
  ): Promise<TicketTypeView> {
    const ctx = await this.events.get(c.organisationId, eventId);
    const tz = ctx.event.timezone;
    const time = (field: string, v: string | null | undefined, current: number | null): number | null => {
      if (v === undefined) return current;
      if (v === null) return null;
      const t = parseEventTime(v, tz);
      if (t === null) throw invalid(`/${field} must be a date and time such as 2026-08-01T19:00 (read in ${tz})`);
      return t;
    };
    return changed(
      await this.inEvent(c, eventId, 'ticket_type.update', 'ticket_type', typeId, async (tx) => {
        const before = await lockTicketType(tx, eventId, typeId);
        if (!before) throw notFound('Ticket type');
        if (body.zone_ids) await this.checkZones(tx, eventId, body.zone_ids);
        const after: TypeSetupRow = {
          ...before,
          name: body.name ?? before.name,
          zoneIds: body.zone_ids ?? before.zoneIds,
          maxScans: body.max_scans ?? before.maxScans,
          allowReentry: body.allow_reentry ?? before.allowReentry,
          validFrom: time('valid_from', body.valid_from, before.validFrom),
          validUntil: time('valid_until', body.valid_until, before.validUntil),
        };
        if (after.validFrom !== null && after.validUntil !== null && after.validUntil <= after.validFrom)
          throw invalid('/valid_until must be after /valid_from');
        await this.unique(() => updateTicketType(tx, eventId, after), 'ticket type');
        return { before: typeShown(before), after: typeShown(after) };
      }),
    );
  }

  async deleteTicketType(c: Caller, eventId: string, typeId: string): Promise<void> {
    await this.inEvent(c, eventId, 'ticket_type.delete', 'ticket_type', typeId, async (tx) => {
      const before = await lockTicketType(tx, eventId, typeId);
      if (!before) throw notFound('Ticket type');
      const { tickets } = await ticketTypeDependants(tx, eventId, typeId);
      if (tickets > 0)
        throw new DomainError(
          'CONFLICT',
          `The ticket type cannot be deleted: ${plural(tickets, 'ticket')} of this type exist${tickets === 1 ? 's' : ''}; cancel or move them first`,
        );
      await deleteTicketType(tx, eventId, typeId);
      return { before: typeShown(before), after: null };
    });
  }

  async updateStaff(c: Caller, eventId: string, staffId: string, body: UpdateStaffBody): Promise<StaffChanged> {
    const pinHash = body.pin === undefined ? null : await hashPin(body.pin);
    return changed(
      await this.inEvent(
        c,
        eventId,
        'staff.update',
        'staff',
        staffId,
        async (tx) => {
          const before = await lockStaff(tx, c.organisationId, eventId, staffId);
          if (!before) throw notFound('Staff member');
          const after = {
            ...before,
            name: body.name ?? before.name,
            active: body.active ?? before.active,
            pinHash: pinHash ?? before.pinHash,
          };
          await updateStaff(tx, eventId, after);
          // The PIN itself never reaches the log: only that it changed.
          return {
            before: staffShown(before),
            after: staffShown(after),
            extra: pinHash ? { pin_changed: true } : undefined,
          };
        },
        false,
      ),
    );
  }

  async deleteStaff(c: Caller, eventId: string, staffId: string): Promise<void> {
    await this.inEvent(
      c,
      eventId,
      'staff.delete',
      'staff',
      staffId,
      async (tx) => {
        const before = await lockStaff(tx, c.organisationId, eventId, staffId);
        if (!before) throw notFound('Staff member');
        const { logins } = await staffDependants(tx, eventId, staffId);
        if (logins > 0)
          throw new DomainError(
            'CONFLICT',
            `The staff member cannot be deleted: ${plural(logins, 'login')} by them ${logins === 1 ? 'is' : 'are'} recorded; deactivate them instead (active: false)`,
          );
        await deleteStaff(tx, eventId, staffId);
        return { before: staffShown(before), after: null };
      },
      false,
    );
  }

  /** Name and default gate of a device: an organisation-level change (the audit entry names the gate's event, if any). */
  async updateDevice(c: Caller, deviceId: string, body: UpdateDeviceBody): Promise<DeviceChanged> {
    const result = await this.db.transaction(async (tx) => {
      const before = await lockDevice(tx, c.organisationId, deviceId);
      if (!before) throw notFound('Device');
      let defaultEventId = before.defaultEventId;
      let defaultGateId = before.defaultGateId;
      if (body.default_gate_id !== undefined) {
        if (body.default_gate_id === null) {
          defaultEventId = null;
          defaultGateId = null;
        } else {
          const gate = await findOrganisationGate(tx, c.organisationId, body.default_gate_id);
          if (!gate) throw invalid('/default_gate_id is not a gate of any of your events');
          if (before.eventIds !== null && !before.eventIds.includes(gate.eventId))
            throw invalid(
              '/default_gate_id is a gate of an event this device may not use; add the event to the device first',
            );
          defaultEventId = gate.eventId;
          defaultGateId = body.default_gate_id;
        }
      }
      const after = { ...before, name: body.name ?? before.name, defaultEventId, defaultGateId };
      await updateDevice(tx, after);
      const diff = changes(deviceShown(before), deviceShown(after));
      if (diff) {
        await insertAudit(tx, {
          organisationId: c.organisationId,
          eventId: after.defaultEventId ?? before.defaultEventId,
          actor: c.actor,
          action: 'device.update',
          subjectKind: 'device',
          subjectId: deviceId,
          ...diff,
        });
      }
      return after;
    });
    this.directory?.forget(c.organisationId, deviceId);
    return deviceShown(result);
  }

  /**
   * Runs `change` in one transaction with its audit entry; then, when the
   * change is one scanning decides by, tells every instance (and so every
   * device's next manifest).
   */
  private async inEvent<T extends Record<string, unknown>>(
    c: Caller,
    eventId: string,
    action: string,
    subjectKind: string,
    subjectId: string,
    change: (
      tx: Sql,
    ) => Promise<{ before: Record<string, unknown>; after: T | null; extra?: Record<string, unknown> | undefined }>,
    rules = true,
  ): Promise<T | null> {
    await this.events.get(c.organisationId, eventId);
    const after = await this.db.transaction(async (tx) => {
      const r = await change(tx);
      const diff = r.after === null ? { before: r.before, after: null } : changes(r.before, r.after);
      if (diff || r.extra) {
        await insertAudit(tx, {
          organisationId: c.organisationId,
          eventId,
          actor: c.actor,
          action,
          subjectKind,
          subjectId,
          before: diff?.before ?? {},
          after: diff?.after === null ? null : { ...(diff?.after ?? {}), ...r.extra },
        });
      }
      return r.after;
    });
    if (rules) this.events.announce(eventId);
    return after;
  }

  private async checkZones(tx: Sql, eventId: string, zoneIds: string[]): Promise<void> {
    const known = await existingZoneIds(tx, eventId, zoneIds);
    const unknown = zoneIds.filter((z) => !known.has(z));
    if (unknown.length > 0) throw invalid(`/zone_ids: unknown zone ${unknown.join(', ')} for this event`);
  }

  private async unique(fn: () => Promise<void>, what: string): Promise<void> {
    try {
      await fn();
    } catch (err) {
      if (pgErrorCode(err) === PG_UNIQUE_VIOLATION)
        throw new DomainError('CONFLICT', `Another ${what} of this event already has this name; choose another name`);
      throw err;
    }
  }
}
