import { randomBytes } from 'node:crypto';
import {
  alertSettingsProblem,
  ed25519,
  isValidTimeZone,
  parseEventTime,
  type CreateEventBody,
  type CreateGateBody,
  type CreateTicketTypeBody,
  type CreateZoneBody,
} from '@entrada/core';
import type { Database, Sql } from '../db/database.ts';
import { pgErrorCode, PG_UNIQUE_VIOLATION } from '../db/database.ts';
import { deriveKey, seal } from '../crypto/seal.ts';
import { DomainError, invalid, notFound } from './errors.ts';
import {
  existingZoneIds,
  insertEvent,
  insertEventKey,
  insertGate,
  insertTicketType,
  insertZone,
  listEvents,
  type EventRow,
  type GateRow,
  type TicketTypeRow,
  type ZoneRow,
} from '../store/events.ts';
import { insertAudit } from '../store/audit.ts';
import type { Bus } from './bus.ts';
import type { EventContext, EventContexts } from './event-context.ts';
import { resolveSettings } from './event-context.ts';

/** Organiser set-up of events, zones, gates and ticket types. */
export class EventService {
  private readonly keySealKey: Buffer;
  constructor(
    private readonly db: Database,
    private readonly contexts: EventContexts,
    private readonly bus: Bus,
    serverSecret: Buffer,
  ) {
    this.keySealKey = deriveKey(serverSecret, 'event-keys');
  }

  /** `actor` names who did it in the audit log (`user:<id>` or `token:<id>`; 'system' for the demo). */
  async create(organisationId: string, body: CreateEventBody, actor = 'system'): Promise<EventRow> {
    const timezone = body.timezone ?? 'UTC';
    if (!isValidTimeZone(timezone))
      throw invalid(`/timezone "${timezone}" is not an IANA time zone (e.g. Europe/Amsterdam)`);
    const startsAt = parseEventTime(body.starts_at, timezone);
    const endsAt = parseEventTime(body.ends_at, timezone);
    if (startsAt === null) throw invalid('/starts_at must be an ISO 8601 date-time');
    if (endsAt === null) throw invalid('/ends_at must be an ISO 8601 date-time');
    if (endsAt <= startsAt) throw invalid('/ends_at must be after /starts_at');
    const settings = { ...resolveSettings({}), ...body.settings };
    const normalized = {
      duplicate_window_s: settings.duplicate_window_s ?? 300,
      default_allow_reentry: settings.default_allow_reentry ?? false,
      offline_holder_names: settings.offline_holder_names ?? false,
      manifest_ticket_codes: settings.manifest_ticket_codes ?? false,
      ...(settings.alerts ? { alerts: settings.alerts } : {}),
    };
    const alertProblem = alertSettingsProblem(settings.alerts);
    if (alertProblem) throw invalid(alertProblem);
    const keys = ed25519.generateKeyPair((n) => new Uint8Array(randomBytes(n)));
    const event = await this.db.transaction(async (tx) => {
      const event = await insertEvent(tx, {
        organisationId,
        name: body.name,
        startsAt,
        endsAt,
        timezone,
        settings: normalized,
        codeKey: randomBytes(32),
      });
      await insertEventKey(tx, {
        eventId: event.id,
        keyId: 1,
        publicKey: keys.publicKey,
        sealedSecret: seal(this.keySealKey, keys.secretKey),
      });
      await insertAudit(tx, {
        organisationId,
        eventId: event.id,
        actor,
        action: 'event.create',
        subjectKind: 'event',
        subjectId: event.id,
        before: null,
        after: {
          name: event.name,
          starts_at: new Date(event.startsAt).toISOString(),
          ends_at: new Date(event.endsAt).toISOString(),
          timezone: event.timezone,
          settings: event.settings,
        },
      });
      return event;
    });
    // The organisation's other events now classify this one's codes as `wrong_event` (and ship its public key).
    this.contexts.invalidateOrganisation(organisationId);
    this.bus.publish({ type: 'organisation_events_changed', organisationId });
    return event;
  }

  list(organisationId: string): Promise<EventRow[]> {
    return listEvents(this.db, organisationId);
  }

  /** The event with everything configured on it, or 404 — also for another organisation's event. */
  async get(organisationId: string, eventId: string): Promise<EventContext> {
    const ctx = await this.contexts.get(eventId);
    if (!ctx || ctx.event.organisationId !== organisationId) throw notFound('Event');
    return ctx;
  }

  async addZone(organisationId: string, eventId: string, body: CreateZoneBody, actor = 'system'): Promise<ZoneRow> {
    await this.get(organisationId, eventId);
    const zone = await this.unique(
      () =>
        this.db.transaction(async (tx) => {
          const z = await insertZone(tx, {
            eventId,
            name: body.name,
            capacity: body.capacity ?? null,
            capacityMode: body.capacity_mode ?? 'off',
          });
          await this.audit(tx, organisationId, eventId, actor, 'zone', z.id, {
            id: z.id,
            name: z.name,
            capacity: z.capacity,
            capacity_mode: z.capacityMode,
          });
          return z;
        }),
      'zone',
    );
    this.announce(eventId);
    return zone;
  }

  async addGate(organisationId: string, eventId: string, body: CreateGateBody, actor = 'system'): Promise<GateRow> {
    await this.get(organisationId, eventId);
    const gate = await this.unique(
      () =>
        this.db.transaction(async (tx) => {
          await this.checkZones(tx, eventId, body.zone_ids);
          const g = await insertGate(tx, { eventId, name: body.name, zoneIds: body.zone_ids });
          await this.audit(tx, organisationId, eventId, actor, 'gate', g.id, {
            id: g.id,
            name: g.name,
            zone_ids: g.zoneIds,
          });
          return g;
        }),
      'gate',
    );
    this.announce(eventId);
    return gate;
  }

  async addTicketType(
    organisationId: string,
    eventId: string,
    body: CreateTicketTypeBody,
    actor = 'system',
  ): Promise<TicketTypeRow> {
    const ctx = await this.get(organisationId, eventId);
    const time = (field: string, v: string | null | undefined): number | null => {
      if (v === undefined || v === null) return null;
      const t = parseEventTime(v, ctx.event.timezone);
      if (t === null)
        throw invalid(`/${field} must be an ISO 8601 date-time (local times are read in ${ctx.event.timezone})`);
      return t;
    };
    const validFrom = time('valid_from', body.valid_from);
    const validUntil = time('valid_until', body.valid_until);
    if (validFrom !== null && validUntil !== null && validUntil <= validFrom)
      throw invalid('/valid_until must be after /valid_from');
    const type = await this.unique(
      () =>
        this.db.transaction(async (tx) => {
          await this.checkZones(tx, eventId, body.zone_ids);
          const t = await insertTicketType(tx, {
            eventId,
            name: body.name,
            zoneIds: body.zone_ids,
            maxScans: body.max_scans ?? 1,
            allowReentry: body.allow_reentry ?? ctx.settings.defaultAllowReentry,
            validFrom,
            validUntil,
          });
          await this.audit(tx, organisationId, eventId, actor, 'ticket_type', t.id, {
            id: t.id,
            name: t.name,
            zone_ids: t.zoneIds,
            max_scans: t.maxScans,
            allow_reentry: t.allowReentry,
            valid_from: validFrom === null ? null : new Date(validFrom).toISOString(),
            valid_until: validUntil === null ? null : new Date(validUntil).toISOString(),
          });
          return t;
        }),
      'ticket type',
    );
    this.announce(eventId);
    return type;
  }

  private async audit(
    tx: Sql,
    organisationId: string,
    eventId: string,
    actor: string,
    kind: string,
    id: string,
    after: Record<string, unknown>,
  ): Promise<void> {
    await insertAudit(tx, {
      organisationId,
      eventId,
      actor,
      action: `${kind}.create`,
      subjectKind: kind,
      subjectId: id,
      before: null,
      after,
    });
  }

  private async checkZones(tx: Sql, eventId: string, zoneIds: string[]): Promise<void> {
    const known = await existingZoneIds(tx, eventId, zoneIds);
    const unknown = zoneIds.filter((z) => !known.has(z));
    if (unknown.length > 0) throw invalid(`/zone_ids: unknown zone ${unknown.join(', ')} for this event`);
  }

  private async unique<T>(fn: () => Promise<T>, what: string): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (pgErrorCode(err) === PG_UNIQUE_VIOLATION)
        throw new DomainError('CONFLICT', `A ${what} with this name already exists in the event`);
      throw err;
    }
  }

  /** The event's configuration changed: every instance reloads its context, and the next manifest carries the change. */
  announce(eventId: string): void {
    this.contexts.invalidate(eventId);
    this.bus.publish({ type: 'event_changed', eventId });
  }
}
