import { randomBytes } from 'node:crypto';
import {
  parseEventTime,
  type CreateDeviceBody,
  type DeviceEventsBody,
  type DeviceView,
  type Direction,
} from '@entrada/core';
import type { Database, Sql } from '../db/database.ts';
import { generateToken, hashToken } from '../crypto/tokens.ts';
import { DomainError, invalid, notFound } from './errors.ts';
import {
  addDeviceEvents,
  endSession,
  getDevice,
  getSession,
  insertDevice,
  listDevices,
  listDevicesPage,
  setDeviceStatus,
  startSession,
  type DeviceRecord,
  type DeviceStatus,
  type SessionRecord,
} from '../store/devices.ts';
import { existingEventIds } from '../store/events.ts';
import { sessionScanCount } from '../store/scans.ts';
import type { Bus } from './bus.ts';
import { notifyNothing, type Notify } from './notifications.ts';
import type { EventContexts } from './event-context.ts';
import type { TicketCache } from './ticket-cache.ts';

/** A device as the organisers see it: core's wire type. */
export type { DeviceView };

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function deviceView(d: DeviceRecord): DeviceView {
  return {
    device_id: d.deviceId,
    name: d.name,
    device_type: d.deviceType,
    status: d.status,
    has_public_key: d.publicKey !== null,
    last_seen_at: iso(d.lastSeenAt),
    status_changed_at: iso(d.statusChangedAt),
    status_reason: d.statusReason,
    created_at: iso(d.createdAt)!,
    event_ids: d.eventIds,
    default_event_id: d.defaultEventId ?? null,
    default_gate_id: d.defaultGateId ?? null,
  };
}

/**
 * A device uses only the events it was registered or paired for (or every
 * event of its organisation, when registered without event_ids). Checked
 * after the event is known to be the organisation's, so another
 * organisation's event stays a 404.
 */
export function assertDeviceEvent(device: DeviceRecord, eventId: string): void {
  if (device.eventIds === null || device.eventIds.includes(eventId)) return;
  throw new DomainError(
    'FORBIDDEN',
    `This device is not registered for this event; an organiser can add the event to it (POST /api/v1/devices/${device.deviceId}/events)`,
  );
}

/** A generated device id: `dev_` and 48 random bits. */
export function newDeviceId(): string {
  return `dev_${randomBytes(6).toString('hex')}`;
}

/** Accepts an Ed25519 public key as base64url (43 chars) or hex (64 chars). */
export function parsePublicKey(text: string): Buffer {
  const key = /^[0-9a-fA-F]{64}$/.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64url');
  if (key.length !== 32) throw invalid('/public_key must be a 32-byte Ed25519 public key, base64url or hex');
  return key;
}

export class DeviceService {
  constructor(
    private readonly db: Database,
    private readonly contexts: EventContexts,
    private readonly tickets: TicketCache,
    private readonly bus: Bus,
    private readonly now: () => number = Date.now,
    /**
     * Quarantines a revoked device's admissions from the effective time on, in the revocation's transaction (a crash
     * cannot leave a revoked device's admissions counted); answers what to announce after the commit.
     */
    private readonly onRevoke: (tx: Sql, devicePk: string, effectiveAt: number) => Promise<() => void> = async () =>
      () =>
        undefined,
    /** Webhooks: device.revoked and device.suspended, queued in the status change's transaction. */
    private readonly notify: Notify = notifyNothing,
  ) {}

  /** `sql`: a transaction to register in (pairing consumes its code in the same one). */
  async register(
    organisationId: string,
    body: CreateDeviceBody,
    opts: { sql?: Sql; settings?: Record<string, unknown> } = {},
  ): Promise<{ device: DeviceRecord; token: string }> {
    const token = generateToken('device');
    const deviceId = body.device_id ?? newDeviceId();
    const sql = opts.sql ?? this.db;
    const eventIds = body.event_ids ?? null;
    if (eventIds !== null) await this.requireEvents(sql, organisationId, eventIds);
    const device = await insertDevice(sql, {
      organisationId,
      deviceId,
      name: body.name,
      deviceType: body.device_type ?? 'scanner',
      tokenHash: hashToken(token),
      publicKey: body.public_key ? parsePublicKey(body.public_key) : null,
      settings: opts.settings,
      eventIds,
    });
    if (!device) throw new DomainError('CONFLICT', `device_id "${deviceId}" is already registered`);
    return { device, token };
  }

  list(organisationId: string): Promise<DeviceRecord[]> {
    return listDevices(this.db, organisationId);
  }

  /** A page of devices (of one event, with `eventId`); the cursor is opaque to clients. */
  async page(
    organisationId: string,
    eventId: string | null,
    cursor: string | undefined,
    limit: number,
  ): Promise<{ devices: DeviceRecord[]; nextCursor: string | null }> {
    let after: { createdAt: string; deviceId: string } | null = null;
    if (cursor !== undefined) {
      try {
        const [createdAt, deviceId] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [
          unknown,
          unknown,
        ];
        if (
          typeof createdAt === 'string' &&
          /^[0-9: .+-]{10,40}$/.test(createdAt) &&
          typeof deviceId === 'string' &&
          deviceId.length <= 64
        )
          after = { createdAt, deviceId };
      } catch {
        /* answered below */
      }
      if (after === null) throw invalid('cursor is not one this server gave; start again without it');
    }
    const rows = await listDevicesPage(this.db, organisationId, eventId, after, limit + 1);
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      devices: page.map((r) => r.device),
      nextCursor:
        rows.length > limit && last
          ? Buffer.from(JSON.stringify([last.key.createdAt, last.key.deviceId])).toString('base64url')
          : null,
    };
  }

  /** Lets a device use more events; one of every event keeps every event. */
  async addEvents(organisationId: string, deviceId: string, body: DeviceEventsBody): Promise<DeviceRecord> {
    await this.requireEvents(this.db, organisationId, body.event_ids);
    const updated = await addDeviceEvents(this.db, organisationId, deviceId, body.event_ids);
    if (!updated) throw notFound('Device');
    // Every instance drops its cached copy of the device, which holds its events.
    this.bus.publish({ type: 'device_changed', deviceId });
    return updated;
  }

  private async requireEvents(sql: Sql, organisationId: string, eventIds: string[]): Promise<void> {
    const found = await existingEventIds(sql, organisationId, eventIds);
    const unknown = eventIds.filter((id) => !found.has(id));
    if (unknown.length > 0) throw notFound(`Event ${unknown[0]}`);
  }

  async setStatus(
    organisationId: string,
    deviceId: string,
    status: DeviceStatus,
    reason: string | null,
    effectiveAt?: string,
  ): Promise<DeviceRecord> {
    const existing = await getDevice(this.db, organisationId, deviceId);
    if (!existing) throw notFound('Device');
    if (existing.status === 'revoked') throw new DomainError('CONFLICT', 'This device is revoked; register a new one');
    let at = this.now();
    if (effectiveAt !== undefined) {
      const parsed = parseEventTime(effectiveAt, 'UTC');
      if (parsed === null) throw invalid('/effective_at must be an ISO 8601 date-time');
      at = parsed;
    }
    const { updated, announce } = await this.db.transaction(async (tx) => {
      const changed = await setDeviceStatus(tx, organisationId, deviceId, status, reason, at);
      if (!changed) throw notFound('Device');
      const quarantined = status === 'revoked' ? await this.onRevoke(tx, changed.pk, at) : null;
      if (status === 'revoked' || status === 'suspended') {
        // The outbox, in the status change's transaction. Organisation-wide (a device may serve several events):
        // webhooks of every event receive it.
        await this.notify(tx, [
          {
            type: status === 'revoked' ? 'device.revoked' : 'device.suspended',
            organisationId,
            eventId: null,
            occurredAt: at,
            data: {
              device_id: changed.deviceId,
              name: changed.name,
              status,
              reason,
              effective_at: new Date(at).toISOString(),
            },
          },
        ]);
      }
      return { updated: changed, announce: quarantined };
    });
    this.bus.publish({ type: 'device_changed', deviceId });
    announce?.();
    return updated;
  }

  async startSession(
    device: DeviceRecord,
    body: { event_id: string; gate_id: string; direction?: Direction | undefined },
  ): Promise<{ session: SessionRecord; endedSessionId: string | null }> {
    let ctx = await this.contexts.get(body.event_id);
    if (!ctx || ctx.event.organisationId !== device.organisationId) throw notFound('Event');
    assertDeviceEvent(device, body.event_id);
    if (!ctx.gates.has(body.gate_id)) ctx = (await this.contexts.refresh(body.event_id))!;
    if (!ctx.gates.has(body.gate_id)) throw notFound('Gate');
    const result = await this.db.transaction((tx) =>
      startSession(tx, {
        devicePk: device.pk,
        eventId: body.event_id,
        gateId: body.gate_id,
        direction: body.direction ?? 'entry',
      }),
    );
    if (result.endedSessionId) this.bus.publish({ type: 'session_ended', sessionId: result.endedSessionId });
    // Doors are opening: load the event's tickets so first scans cost one round trip.
    void this.tickets.warm(body.event_id).catch(() => undefined);
    return result;
  }

  async getSession(device: DeviceRecord, sessionId: string): Promise<{ session: SessionRecord; scanCount: number }> {
    const session = await getSession(this.db, sessionId);
    if (!session || session.devicePk !== device.pk) throw notFound('Scan session');
    return { session, scanCount: await sessionScanCount(this.db, session.eventId, session.id) };
  }

  async endSession(device: DeviceRecord, sessionId: string): Promise<{ session: SessionRecord; scanCount: number }> {
    const session = await getSession(this.db, sessionId);
    if (!session || session.devicePk !== device.pk) throw notFound('Scan session');
    const ended = await this.db.transaction((tx) => endSession(tx, session.eventId, session.id, device.pk));
    if (!ended) throw notFound('Scan session');
    this.bus.publish({ type: 'session_ended', sessionId: session.id });
    return { session: ended, scanCount: await sessionScanCount(this.db, session.eventId, session.id) };
  }
}
