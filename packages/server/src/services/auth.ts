import { timingSafeEqual } from 'node:crypto';
import type { Database } from '../db/database.ts';
import { bearerToken, hashToken } from '../crypto/tokens.ts';
import { DomainError, rateLimited } from './errors.ts';
import { Lru } from '../cache/lru.ts';
import { findAdminByTokenHash, insertLoginLog, touchAdminTokens, type AdminPrincipal } from '../store/organisations.ts';
import { findDeviceByTokenHash, touchDevices, type DeviceRecord } from '../store/devices.ts';
import { findSessionByTokenHash, revokeSession, touchSessions, type SessionRecord } from '../store/users.ts';
import { SESSION_ABSOLUTE_MS, SESSION_IDLE_MS } from './account-service.ts';
import type { Bus } from './bus.ts';
import { FailureLimiter } from './failure-limiter.ts';

export interface RequestInfo {
  authorization: string | undefined;
  ip: string;
  userAgent: string | undefined;
  /** The request's method, its session cookie and its x-csrf-token header (console sessions). */
  method?: string | undefined;
  sessionToken?: string | undefined;
  csrfToken?: string | undefined;
}

/** The console's session cookie. */
export const SESSION_COOKIE = 'entrada_session';
const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);
// Short, so a deactivation or role change reaches every instance within seconds even without Redis.
const SESSION_TTL_MS = 5_000;
/** A session's last-seen time is written at most this often (the idle timeout is 12 h). */
const SESSION_SEEN_EVERY_MS = 60_000;

/** Who a route admits: checked by the app's onRequest hook, before the body is read (http/authentication.ts). */
export type AuthRequirement = 'admin' | 'device' | 'admin-or-device' | 'none';

/** The authenticated caller of a request. */
/** A console session: its id and its CSRF token. */
export interface ConsoleSession {
  id: string;
  csrfToken: string;
}

export type Principal = { admin: AdminPrincipal; session?: ConsoleSession } | { device: DeviceRecord };

const ADMIN_TTL_MS = 10_000;
// Short, so a suspension or revocation reaches every instance within seconds even without Redis.
const DEVICE_TTL_MS = 2_000;
const LAST_SEEN_EVERY_MS = 30_000;

/** Failed authentications are counted over this window. */
export const AUTH_FAILURE_WINDOW_MS = 60_000;
/** Failures of one credential from one address before that credential is answered 429 there (no lookup). */
export const CREDENTIAL_FAILURE_LIMIT = 30;
/**
 * Unknown tokens one address may have looked up per window. Beyond it, a token
 * is looked up only if this instance has seen it valid before; others are
 * answered 429 without a database read (a flood of guesses costs no queries).
 */
export const ADDRESS_LOOKUP_LIMIT = 300;
/** Failed attempts of one address written to login_logs per window (the rest are only counted). */
const LOGGED_FAILURES_PER_ADDRESS = 30;

interface Cached<T> {
  at: number;
  value: T | null;
}

/** Whether `key` is due to be written again (at most once per LAST_SEEN_EVERY_MS); notes it when it is. */
function noteEvery(last: Map<string, number>, key: string, now: number): boolean {
  if (now - (last.get(key) ?? -Infinity) < LAST_SEEN_EVERY_MS) return false;
  last.set(key, now);
  return true;
}

/**
 * Bearer-token authentication for organisers (admin tokens) and scanners
 * (device tokens). Tokens are looked up by SHA-256 digest and cached briefly
 * per instance.
 *
 * A valid token is always looked up and accepted, whatever other clients
 * behind the same address did: at a venue every scanner shares one NAT
 * address. Only tokens that turn out unknown count as failures, per address
 * and presented credential: one credential failing too often from an address
 * is answered 429 there; an address presenting too many unknown tokens gets
 * no further database lookups for tokens this instance has never seen valid.
 * Every 429 carries Retry-After. The counts are per instance: a token is 256
 * random bits, so they damp load and log flooding, they do not stop guessing.
 */
export class Authenticator {
  private readonly admins = new Lru<string, Cached<AdminPrincipal>>(10_000);
  private readonly devices = new Lru<string, Cached<DeviceRecord>>(50_000);
  /** Digests of tokens found in the database on this instance: never refused for others' failures. */
  private readonly known = new Lru<string, true>(100_000);
  private readonly credentialFailures = new FailureLimiter({
    limit: CREDENTIAL_FAILURE_LIMIT,
    windowMs: AUTH_FAILURE_WINDOW_MS,
  });
  private readonly addressMisses = new FailureLimiter({
    limit: ADDRESS_LOOKUP_LIMIT,
    windowMs: AUTH_FAILURE_WINDOW_MS,
  });
  private readonly addressLogged = new FailureLimiter({
    limit: LOGGED_FAILURES_PER_ADDRESS,
    windowMs: AUTH_FAILURE_WINDOW_MS,
  });
  private readonly seen = new Map<string, number>();
  private readonly pendingSeen = new Set<string>();
  private readonly used = new Map<string, number>();
  private readonly pendingUsed = new Set<string>();
  private readonly sessions = new Lru<string, Cached<SessionRecord>>(10_000);
  /** Latest request per session on this instance (the idle timeout reads it with the stored time). */
  private readonly sessionSeen = new Map<string, number>();
  private readonly sessionWritten = new Map<string, number>();
  private readonly pendingSessions = new Map<string, number>();
  private readonly flushTimer: NodeJS.Timeout;

  constructor(
    private readonly db: Database,
    bus: Bus,
    private readonly now: () => number = Date.now,
  ) {
    bus.subscribe((m) => {
      if (m.type === 'device_changed') this.devices.clear();
      if (m.type === 'admin_tokens_changed') this.admins.clear();
      if (m.type === 'user_sessions_changed') this.sessions.clear();
    });
    // last_seen_at is written in one set-based statement per interval, never per request.
    this.flushTimer = setInterval(() => void this.flushLastSeen(), 5_000);
    this.flushTimer.unref();
  }

  /** The caller a route's requirement admits, or a DomainError (401, 403, 429). */
  async authenticate(requirement: Exclude<AuthRequirement, 'none'>, req: RequestInfo): Promise<Principal> {
    if (requirement === 'admin') return this.organiser(req);
    if (requirement === 'device') return { device: await this.device(req) };
    return this.adminOrDevice(req);
  }

  async admin(req: RequestInfo): Promise<AdminPrincipal> {
    return (await this.organiser(req)).admin;
  }

  /**
   * An organiser: a bearer admin token, or else the console's session cookie
   * (whose state-changing requests must carry the session's CSRF token).
   */
  async organiser(req: RequestInfo): Promise<{ admin: AdminPrincipal; session?: ConsoleSession }> {
    if (req.authorization === undefined && req.sessionToken !== undefined) return this.session(req);
    const admin = await this.resolve(req, 'admin', this.admins, ADMIN_TTL_MS, findAdminByTokenHash);
    if (admin.tokenId) this.markUsed(admin.tokenId);
    return { admin };
  }

  private async session(req: RequestInfo): Promise<{ admin: AdminPrincipal; session: ConsoleSession }> {
    const token = req.sessionToken!;
    const session = await this.resolve(
      { ...req, authorization: `Bearer ${token}` },
      'session',
      this.sessions,
      SESSION_TTL_MS,
      findSessionByTokenHash,
    );
    const now = this.now();
    const lastSeen = Math.max(session.lastSeenAt, this.sessionSeen.get(session.id) ?? -Infinity);
    const ended =
      session.revokedAt !== null
        ? 'ended'
        : !session.userActive
          ? 'ended: the account is deactivated'
          : now >= session.expiresAt || now - session.createdAt >= SESSION_ABSOLUTE_MS
            ? 'expired (7 days after login)'
            : now - lastSeen >= SESSION_IDLE_MS
              ? 'expired (12 hours without use)'
              : null;
    if (ended !== null) {
      if (session.revokedAt === null) {
        this.sessions.clear();
        void revokeSession(this.db, session.id, now).catch(() => undefined);
      }
      throw new DomainError('UNAUTHORIZED', `Your session has ${ended}: log in again`);
    }
    if (!SAFE_METHODS.has((req.method ?? 'GET').toUpperCase()) && !sameSecret(req.csrfToken, session.csrfToken)) {
      throw new DomainError(
        'CSRF_TOKEN_INVALID',
        'This request needs the x-csrf-token header of your session (from POST /api/v1/auth/login or GET /api/v1/auth/me)',
      );
    }
    this.sessionSeen.set(session.id, now);
    if (now - (this.sessionWritten.get(session.id) ?? -Infinity) >= SESSION_SEEN_EVERY_MS) {
      this.sessionWritten.set(session.id, now);
      this.pendingSessions.set(session.id, now);
    }
    if (this.sessionSeen.size > 100_000) this.sessionSeen.clear();
    if (this.sessionWritten.size > 100_000) this.sessionWritten.clear();
    return {
      admin: {
        organisationId: session.organisationId,
        role: session.role,
        userId: session.userId,
        tokenId: null,
        actor: `user:${session.userId}`,
        platform: false,
      },
      session: { id: session.id, csrfToken: session.csrfToken },
    };
  }

  async device(req: RequestInfo): Promise<DeviceRecord> {
    const device = await this.resolve(req, 'device', this.devices, DEVICE_TTL_MS, findDeviceByTokenHash);
    if (device.status === 'revoked')
      throw new DomainError('DEVICE_REVOKED', 'This device has been revoked; ask an organiser to register it again');
    if (device.status === 'suspended')
      throw new DomainError('DEVICE_SUSPENDED', 'This device is suspended; ask an organiser to reactivate it');
    this.markSeen(device.pk);
    return device;
  }

  /** Admin or the device itself, for resources both may read. */
  async adminOrDevice(req: RequestInfo): Promise<Principal> {
    const token = bearerToken(req.authorization);
    if (token?.startsWith('edt_')) return { device: await this.device(req) };
    return this.organiser(req);
  }

  close(): void {
    clearInterval(this.flushTimer);
  }

  /** Devices' last_seen_at and admin tokens' last_used_at, one statement each. */
  async flushLastSeen(): Promise<void> {
    const pks = [...this.pendingSeen];
    const tokenIds = [...this.pendingUsed];
    const sessions = [...this.pendingSessions].map(([id, at]) => ({ id, at }));
    this.pendingSeen.clear();
    this.pendingUsed.clear();
    this.pendingSessions.clear();
    if (pks.length > 0) await touchDevices(this.db, pks).catch(() => undefined);
    if (tokenIds.length > 0) await touchAdminTokens(this.db, tokenIds).catch(() => undefined);
    if (sessions.length > 0) await touchSessions(this.db, sessions).catch(() => undefined);
  }

  private markSeen(pk: string): void {
    if (noteEvery(this.seen, pk, this.now())) this.pendingSeen.add(pk);
  }

  private markUsed(tokenId: string): void {
    if (noteEvery(this.used, tokenId, this.now())) this.pendingUsed.add(tokenId);
  }

  /** The token's record (cache, then database), or a 401/429 that counts against this address and credential only. */
  private async resolve<T>(
    req: RequestInfo,
    kind: 'admin' | 'device' | 'session',
    cache: Lru<string, Cached<T>>,
    ttlMs: number,
    find: (db: Database, tokenHash: Buffer) => Promise<T | null>,
  ): Promise<T> {
    const token = bearerToken(req.authorization);
    if (!token) {
      throw new DomainError(
        'UNAUTHORIZED',
        kind === 'admin'
          ? 'Log in (POST /api/v1/auth/login) or send an admin token (Authorization: Bearer <token>)'
          : 'Missing bearer token (Authorization: Bearer <token>)',
      );
    }
    const key = hashToken(token);
    const id = key.toString('base64');
    const credential = `${req.ip} ${id}`;
    const now = this.now();
    if (this.credentialFailures.blocked(credential, now)) {
      throw rateLimited(
        'Too many failed attempts with this token from this address',
        this.credentialFailures.retryAfterMs(credential, now),
      );
    }
    const hit = cache.get(id);
    let value = hit && now - hit.at < ttlMs ? hit.value : undefined;
    if (value === undefined) {
      if (this.known.peek(id) === undefined && this.addressMisses.blocked(req.ip, now)) {
        throw rateLimited('Too many unknown tokens from this address', this.addressMisses.retryAfterMs(req.ip, now));
      }
      value = await find(this.db, key);
      cache.set(id, { at: this.now(), value });
      if (value) this.known.set(id, true);
      else this.addressMisses.record(req.ip, this.now());
    }
    if (value === null) return this.fail(req, kind, credential);
    return value;
  }

  private fail(req: RequestInfo, kind: 'admin' | 'device' | 'session', credential: string): never {
    const now = this.now();
    this.credentialFailures.record(credential, now);
    if (!this.addressLogged.blocked(req.ip, now)) {
      this.addressLogged.record(req.ip, now);
      // The attempt is logged without the token: only what kind of token and from where.
      void insertLoginLog(this.db, {
        identifier: `${kind}-token`,
        success: false,
        message: 'unknown token',
        ip: req.ip,
        userAgent: req.userAgent ?? null,
      }).catch(() => undefined);
    }
    throw new DomainError(
      'UNAUTHORIZED',
      kind === 'admin'
        ? 'Invalid admin token'
        : kind === 'session'
          ? 'Your session has ended: log in again'
          : 'Invalid device token',
    );
  }
}

/** Constant-time comparison of a presented secret with the expected one. */
function sameSecret(presented: string | undefined, expected: string): boolean {
  if (presented === undefined) return false;
  const a = Buffer.from(presented, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}
