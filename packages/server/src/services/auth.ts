import type { Database } from '../db/database.ts';
import { bearerToken, hashToken } from '../crypto/tokens.ts';
import { DomainError } from '../http/errors.ts';
import { Lru } from '../cache/lru.ts';
import { findAdminByTokenHash, insertLoginLog, type AdminPrincipal } from '../store/organisations.ts';
import { findDeviceByTokenHash, touchDevices, type DeviceRecord } from '../store/devices.ts';
import type { Bus } from './bus.ts';
import { FailureLimiter } from './failure-limiter.ts';

export interface RequestInfo { authorization: string | undefined; ip: string; userAgent: string | undefined }

/** Who a route admits: checked by the app's onRequest hook, before the body is read (http/authentication.ts). */
export type AuthRequirement = 'admin' | 'device' | 'admin-or-device' | 'none';

/** The authenticated caller of a request. */
export type Principal = { admin: AdminPrincipal } | { device: DeviceRecord };

const ADMIN_TTL_MS = 10_000;
// Short, so a suspension or revocation reaches every instance within seconds even without Redis.
const DEVICE_TTL_MS = 2_000;
const LAST_SEEN_EVERY_MS = 30_000;

/**
 * Bearer-token authentication for organisers (admin tokens) and scanners
 * (device tokens). Tokens are looked up by SHA-256 digest, cached briefly per
 * instance, and repeated failures from one address are rate-limited.
 */
export class Authenticator {
  private readonly admins = new Lru<string, { at: number; principal: AdminPrincipal | null }>(10_000);
  private readonly devices = new Lru<string, { at: number; device: DeviceRecord | null }>(50_000);
  private readonly failures = new FailureLimiter({ limit: 30, windowMs: 60_000 });
  private readonly seen = new Map<string, number>();
  private readonly pendingSeen = new Set<string>();
  private readonly flushTimer: NodeJS.Timeout;

  constructor(private readonly db: Database, bus: Bus, private readonly now: () => number = Date.now) {
    bus.subscribe((m) => {
      if (m.type === 'device_changed') this.devices.clear();
    });
    // last_seen_at is written in one set-based statement per interval, never per request.
    this.flushTimer = setInterval(() => void this.flushLastSeen(), 5_000);
    this.flushTimer.unref();
  }

  /** The caller a route's requirement admits, or a DomainError (401, 403, 429). */
  async authenticate(requirement: Exclude<AuthRequirement, 'none'>, req: RequestInfo): Promise<Principal> {
    if (requirement === 'admin') return { admin: await this.admin(req) };
    if (requirement === 'device') return { device: await this.device(req) };
    return this.adminOrDevice(req);
  }

  async admin(req: RequestInfo): Promise<AdminPrincipal> {
    const token = this.token(req);
    const key = hashToken(token);
    const cacheKey = key.toString('base64');
    const hit = this.admins.get(cacheKey);
    let principal = hit && this.now() - hit.at < ADMIN_TTL_MS ? hit.principal : undefined;
    if (principal === undefined) {
      principal = await findAdminByTokenHash(this.db, key);
      this.admins.set(cacheKey, { at: this.now(), principal });
    }
    if (!principal) return this.fail(req, 'admin');
    return principal;
  }

  async device(req: RequestInfo): Promise<DeviceRecord> {
    const token = this.token(req);
    const key = hashToken(token);
    const cacheKey = key.toString('base64');
    const hit = this.devices.get(cacheKey);
    let device = hit && this.now() - hit.at < DEVICE_TTL_MS ? hit.device : undefined;
    if (device === undefined) {
      device = await findDeviceByTokenHash(this.db, key);
      this.devices.set(cacheKey, { at: this.now(), device });
    }
    if (!device) return this.fail(req, 'device');
    if (device.status === 'revoked') throw new DomainError('DEVICE_REVOKED', 'This device has been revoked; ask an organiser to register it again');
    if (device.status === 'suspended') throw new DomainError('DEVICE_SUSPENDED', 'This device is suspended; ask an organiser to reactivate it');
    this.markSeen(device.pk);
    return device;
  }

  /** Admin or the device itself, for resources both may read. */
  async adminOrDevice(req: RequestInfo): Promise<Principal> {
    const token = bearerToken(req.authorization);
    if (token?.startsWith('edt_')) return { device: await this.device(req) };
    return { admin: await this.admin(req) };
  }

  close(): void {
    clearInterval(this.flushTimer);
  }

  async flushLastSeen(): Promise<void> {
    if (this.pendingSeen.size === 0) return;
    const pks = [...this.pendingSeen];
    this.pendingSeen.clear();
    await touchDevices(this.db, pks).catch(() => undefined);
  }

  private markSeen(pk: string): void {
    const last = this.seen.get(pk) ?? 0;
    if (this.now() - last < LAST_SEEN_EVERY_MS) return;
    this.seen.set(pk, this.now());
    this.pendingSeen.add(pk);
  }

  private token(req: RequestInfo): string {
    if (this.failures.blocked(req.ip, this.now())) {
      throw new DomainError('RATE_LIMITED', 'Too many failed authentication attempts; wait a minute');
    }
    const token = bearerToken(req.authorization);
    if (!token) throw new DomainError('UNAUTHORIZED', 'Missing bearer token (Authorization: Bearer <token>)');
    return token;
  }

  private fail(req: RequestInfo, kind: 'admin' | 'device'): never {
    this.failures.record(req.ip, this.now());
    // The attempt is logged without the token: only what kind of token and from where.
    void insertLoginLog(this.db, {
      identifier: `${kind}-token`, success: false, message: 'unknown token', ip: req.ip, userAgent: req.userAgent ?? null,
    }).catch(() => undefined);
    throw new DomainError('UNAUTHORIZED', kind === 'admin' ? 'Invalid admin token' : 'Invalid device token');
  }
}
