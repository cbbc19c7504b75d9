import type { CreateStaffBody, StaffLoginBody } from '@entrada/core';
import { pgErrorCode, PG_UNIQUE_VIOLATION, type Database } from '../db/database.ts';
import { hashPin, verifyPin } from '../crypto/pin-hash.ts';
import { DomainError, notFound, rateLimited } from './errors.ts';
import type { DeviceRecord } from '../store/devices.ts';
import {
  findStaffByUsername,
  insertEventLoginLog,
  insertStaff,
  listEventLoginLogs,
  listStaff,
  recentLoginFailures,
  setStaffActive,
  type EventLoginLogRecord,
  type StaffRecord,
} from '../store/staff.ts';
import { insertAudit } from '../store/audit.ts';
import type { RequestInfo } from './auth.ts';
import { assertDeviceEvent } from './device-service.ts';
import type { EventContexts } from './event-context.ts';
import type { EventService } from './event-service.ts';
import { FailureLimiter, loggedFailuresRetryAfterMs } from './failure-limiter.ts';

export const LOGIN_WINDOW_MS = 5 * 60_000;
/** Failed logins per (device, event) before 429; a success clears them. */
export const LOGIN_DEVICE_FAILURES = 5;
/** Failed logins per address before 429, whatever the device; a success does not clear them. */
export const LOGIN_IP_FAILURES = 20;

/** The one answer to every failed login, so it does not tell which part was wrong. */
const INVALID_LOGIN_MESSAGE = 'Wrong username or PIN';

export interface StaffLogin {
  staff: StaffRecord;
  eventId: string;
  loggedInAt: number;
}

/**
 * Staff accounts per event (username and PIN) and their login on a paired
 * device. Every attempt is written to event_login_logs, without the PIN.
 */
export class StaffService {
  private readonly deviceFailures = new FailureLimiter({ limit: LOGIN_DEVICE_FAILURES, windowMs: LOGIN_WINDOW_MS });
  private readonly ipFailures = new FailureLimiter({ limit: LOGIN_IP_FAILURES, windowMs: LOGIN_WINDOW_MS });
  /** Verified against for unknown usernames, so their answer takes as long as a wrong PIN's. Made up front. */
  private readonly dummyHash: Promise<string>;

  constructor(
    private readonly db: Database,
    private readonly events: EventService,
    private readonly contexts: EventContexts,
    private readonly now: () => number = Date.now,
  ) {
    this.dummyHash = hashPin('000000');
  }

  /** Audited under `actor`, without the PIN. */
  async create(organisationId: string, eventId: string, body: CreateStaffBody, actor = 'system'): Promise<StaffRecord> {
    await this.events.get(organisationId, eventId);
    const pinHash = await hashPin(body.pin);
    try {
      return await this.db.transaction(async (tx) => {
        const staff = await insertStaff(tx, {
          eventId,
          organisationId,
          username: body.username,
          name: body.name,
          pinHash,
        });
        await insertAudit(tx, {
          organisationId,
          eventId,
          actor,
          action: 'staff.create',
          subjectKind: 'staff',
          subjectId: staff.id,
          before: null,
          after: { id: staff.id, username: staff.username, name: staff.name, active: staff.active },
        });
        return staff;
      });
    } catch (err) {
      if (pgErrorCode(err) === PG_UNIQUE_VIOLATION)
        throw new DomainError('CONFLICT', `The username "${body.username}" is already taken in this event`);
      throw err;
    }
  }

  async list(organisationId: string, eventId: string): Promise<StaffRecord[]> {
    await this.events.get(organisationId, eventId);
    return listStaff(this.db, organisationId, eventId);
  }

  async deactivate(organisationId: string, eventId: string, staffId: string): Promise<StaffRecord> {
    await this.events.get(organisationId, eventId);
    const staff = await setStaffActive(this.db, organisationId, eventId, staffId, false);
    if (!staff) throw notFound('Staff member');
    return staff;
  }

  async logs(organisationId: string, eventId: string, limit: number): Promise<EventLoginLogRecord[]> {
    await this.events.get(organisationId, eventId);
    return listEventLoginLogs(this.db, eventId, limit);
  }

  /**
   * Logs a staff member in on `device` (already authenticated and active).
   * Unknown username, wrong PIN and inactive account answer the same 401
   * after the same work (an unknown username is checked against a dummy hash).
   */
  async login(device: DeviceRecord, eventId: string, body: StaffLoginBody, req: RequestInfo): Promise<StaffLogin> {
    const ctx = await this.contexts.get(eventId);
    if (!ctx || ctx.event.organisationId !== device.organisationId) throw notFound('Event');
    assertDeviceEvent(device, eventId);
    const now = this.now();
    const attempt = {
      eventId,
      identifier: body.username,
      deviceId: device.deviceId,
      ip: req.ip,
      userAgent: req.userAgent ?? null,
      at: now,
    };
    const deviceKey = `${device.pk}:${eventId}`;
    const wait = Math.max(this.deviceFailures.retryAfterMs(deviceKey, now), this.ipFailures.retryAfterMs(req.ip, now));
    if (wait > 0) {
      await insertEventLoginLog(this.db, { ...attempt, staffId: null, success: false, message: 'rate limited' });
      throw rateLimited('Too many failed logins; wait a few minutes and try again', wait);
    }
    // Counted as a failure from here on, in the same synchronous step as the check: a burst of
    // parallel guesses gets no more tries than the limit. A success takes it back.
    this.deviceFailures.record(deviceKey, now);
    this.ipFailures.record(req.ip, now);
    // The same limits across every API instance, from the shared login log (this instance's own
    // counters only see the attempts that came here).
    const shared = await recentLoginFailures(this.db, eventId, device.deviceId, req.ip, now - LOGIN_WINDOW_MS);
    const sharedWait = Math.max(
      loggedFailuresRetryAfterMs(shared.device, LOGIN_DEVICE_FAILURES, LOGIN_WINDOW_MS, now),
      loggedFailuresRetryAfterMs(shared.address, LOGIN_IP_FAILURES, LOGIN_WINDOW_MS, now),
    );
    if (sharedWait > 0) {
      this.deviceFailures.forgive(deviceKey, now);
      this.ipFailures.forgive(req.ip, now);
      await insertEventLoginLog(this.db, { ...attempt, staffId: null, success: false, message: 'rate limited' });
      throw rateLimited('Too many failed logins; wait a few minutes and try again', sharedWait);
    }

    const staff = await findStaffByUsername(this.db, device.organisationId, eventId, body.username);
    const pinOk = await verifyPin(body.pin, staff?.pinHash ?? (await this.dummyHash));
    if (staff && pinOk && staff.active) {
      this.deviceFailures.reset(deviceKey);
      this.ipFailures.forgive(req.ip, now);
      await insertEventLoginLog(this.db, { ...attempt, staffId: staff.id, success: true, message: 'logged in' });
      return { staff, eventId, loggedInAt: now };
    }
    // The log says what went wrong (organisers read it); the answer does not.
    const message = !staff ? 'unknown username' : !pinOk ? 'wrong PIN' : 'staff account inactive';
    await insertEventLoginLog(this.db, { ...attempt, staffId: staff?.id ?? null, success: false, message });
    throw new DomainError('INVALID_LOGIN', INVALID_LOGIN_MESSAGE);
  }
}
