import { randomBytes } from 'node:crypto';
import {
  roleAtLeast,
  type ChangePasswordBody,
  type CreateUserBody,
  type LoginBody,
  type Role,
  type UpdateUserBody,
} from '@entrada/core';
import { pgErrorCode, PG_UNIQUE_VIOLATION, type Database } from '../db/database.ts';
import { hashPin as hashPassword, verifyPin as verifyPassword } from '../crypto/pin-hash.ts';
import { generateToken, hashToken } from '../crypto/tokens.ts';
import { assertPasswordAllowed } from '../accounts/passwords.ts';
import { DomainError, notFound, rateLimited } from './errors.ts';
import { firstOrganisationId, insertLoginLog, type AdminPrincipal } from '../store/organisations.ts';
import {
  countUsers,
  findUser,
  findUserByEmail,
  insertSession,
  insertUser,
  listUsers,
  lockActiveOwnerCount,
  recentUserLoginFailures,
  revokeSession,
  revokeUserSessions,
  updateUser,
  type UserRecord,
} from '../store/users.ts';
import type { RequestInfo } from './auth.ts';
import type { Bus } from './bus.ts';
import { FailureLimiter, loggedFailuresRetryAfterMs } from './failure-limiter.ts';

/** A session ends after this long without a request… */
export const SESSION_IDLE_MS = 12 * 3_600_000;
/** …and this long after login whatever happens. */
export const SESSION_ABSOLUTE_MS = 7 * 24 * 3_600_000;

export const USER_LOGIN_WINDOW_MS = 15 * 60_000;
/** Failed logins of one account from one address before 429 there; a success clears them. Another address is not affected. */
export const USER_LOGIN_ACCOUNT_FAILURES = 5;
/** Failed logins from one address, whatever the account, before 429. */
export const USER_LOGIN_ADDRESS_FAILURES = 20;

/** The one answer to every failed login, so it does not tell whether the email exists. */
const INVALID_LOGIN_MESSAGE = 'Wrong email or password';

export interface NewSession {
  user: UserRecord;
  token: string;
  csrfToken: string;
  sessionId: string;
}

const loginIdentifier = (email: string): string => `user:${email.trim().toLowerCase().slice(0, 254)}`;

/**
 * Organisers' accounts: users of an organisation with a role and a password,
 * their login (rate-limited per account and address, every attempt logged
 * without the password) and their sessions. Ending a user's sessions reaches
 * every instance through the bus at once, and within the authenticator's
 * session cache time without it.
 */
export class AccountService {
  private readonly accountFailures = new FailureLimiter({
    limit: USER_LOGIN_ACCOUNT_FAILURES,
    windowMs: USER_LOGIN_WINDOW_MS,
  });
  private readonly addressFailures = new FailureLimiter({
    limit: USER_LOGIN_ADDRESS_FAILURES,
    windowMs: USER_LOGIN_WINDOW_MS,
  });
  /** Verified against for unknown emails, so their answer takes as long as a wrong password's. */
  private readonly dummyHash: Promise<string>;

  constructor(
    private readonly db: Database,
    private readonly bus: Bus,
    private readonly now: () => number,
  ) {
    this.dummyHash = hashPassword(randomBytes(16).toString('base64url'));
    // Never an unhandled rejection if the process ends before anything awaits it.
    this.dummyHash.catch(() => undefined);
  }

  list(organisationId: string): Promise<UserRecord[]> {
    return listUsers(this.db, organisationId);
  }

  async get(organisationId: string, id: string): Promise<UserRecord> {
    const user = await findUser(this.db, organisationId, id);
    if (!user) throw notFound('User');
    return user;
  }

  async create(organisationId: string, body: CreateUserBody): Promise<UserRecord> {
    assertPasswordAllowed(body.password);
    const passwordHash = await hashPassword(body.password);
    try {
      return await insertUser(this.db, {
        organisationId,
        email: body.email.trim(),
        name: body.name,
        role: body.role,
        passwordHash,
        at: this.now(),
      });
    } catch (err) {
      if (pgErrorCode(err) === PG_UNIQUE_VIOLATION)
        throw new DomainError('CONFLICT', `There is already an account with the email ${body.email}`);
      throw err;
    }
  }

  /**
   * Changes a user's name, role or state. The last active owner can be neither
   * demoted nor deactivated (409): nobody could manage users any more. A
   * deactivated user's sessions end at once, on every instance.
   */
  async update(actor: AdminPrincipal, id: string, change: UpdateUserBody): Promise<UserRecord> {
    const at = this.now();
    const user = await this.db.transaction(async (tx) => {
      const owners = await lockActiveOwnerCount(tx, actor.organisationId);
      const before = await findUser(tx, actor.organisationId, id);
      if (!before) throw notFound('User');
      const losesOwner =
        before.active &&
        before.role === 'owner' &&
        ((change.role !== undefined && change.role !== 'owner') || change.active === false);
      if (losesOwner && owners <= 1) {
        throw new DomainError(
          'CONFLICT',
          "This is the organisation's last active owner: make another user owner first",
        );
      }
      const after = await updateUser(tx, actor.organisationId, id, { ...change, at });
      if (change.active === false) await revokeUserSessions(tx, id, at);
      return after!;
    });
    this.bus.publish({ type: 'user_sessions_changed', userId: id });
    return user;
  }

  /** An owner sets a user's password; the user's sessions end. */
  async resetPassword(organisationId: string, id: string, password: string): Promise<UserRecord> {
    assertPasswordAllowed(password);
    const passwordHash = await hashPassword(password);
    const at = this.now();
    const user = await this.db.transaction(async (tx) => {
      const updated = await updateUser(tx, organisationId, id, { passwordHash, at });
      if (!updated) throw notFound('User');
      await revokeUserSessions(tx, id, at);
      return updated;
    });
    this.bus.publish({ type: 'user_sessions_changed', userId: id });
    return user;
  }

  /** The user's own password; their other sessions end, this one stays. */
  async changeOwnPassword(who: AdminPrincipal, sessionId: string | null, body: ChangePasswordBody): Promise<void> {
    if (!who.userId)
      throw new DomainError(
        'FORBIDDEN',
        'Only a logged-in user has a password: admin tokens are rotated instead (POST /api/v1/tokens)',
      );
    const user = await this.get(who.organisationId, who.userId);
    if (!(await verifyPassword(body.current_password, user.passwordHash))) {
      throw new DomainError('FORBIDDEN', '/current_password is not your current password');
    }
    assertPasswordAllowed(body.new_password, 'new_password');
    const passwordHash = await hashPassword(body.new_password);
    const at = this.now();
    await this.db.transaction(async (tx) => {
      await updateUser(tx, who.organisationId, user.id, { passwordHash, at });
      await revokeUserSessions(tx, user.id, at, sessionId);
    });
    this.bus.publish({ type: 'user_sessions_changed', userId: user.id });
  }

  /**
   * Logs a user in: a new session (its token for the cookie, its CSRF token).
   * Unknown email, wrong password and inactive account answer the same 401
   * after the same work. Failures count per account and address, and per
   * address; the right password from another address is never refused for
   * someone else's failures.
   */
  async login(body: LoginBody, req: RequestInfo): Promise<NewSession> {
    const now = this.now();
    const identifier = loginIdentifier(body.email);
    const accountKey = `${identifier} ${req.ip}`;
    const attempt = { identifier, ip: req.ip, userAgent: req.userAgent ?? null, at: now };
    const wait = Math.max(
      this.accountFailures.retryAfterMs(accountKey, now),
      this.addressFailures.retryAfterMs(req.ip, now),
    );
    if (wait > 0) {
      await insertLoginLog(this.db, { ...attempt, success: false, message: 'rate limited' });
      throw rateLimited('Too many failed logins; wait a few minutes and try again', wait);
    }
    // Counted as a failure from here on, in the same synchronous step as the check (parallel guesses
    // get no more tries than the limit); a success takes it back.
    this.accountFailures.record(accountKey, now);
    this.addressFailures.record(req.ip, now);
    // The same limits across every API instance, from the shared login log.
    const shared = await recentUserLoginFailures(this.db, identifier, req.ip, now - USER_LOGIN_WINDOW_MS);
    const sharedWait = Math.max(
      loggedFailuresRetryAfterMs(shared.account, USER_LOGIN_ACCOUNT_FAILURES, USER_LOGIN_WINDOW_MS, now),
      loggedFailuresRetryAfterMs(shared.address, USER_LOGIN_ADDRESS_FAILURES, USER_LOGIN_WINDOW_MS, now),
    );
    if (sharedWait > 0) {
      this.accountFailures.forgive(accountKey, now);
      this.addressFailures.forgive(req.ip, now);
      await insertLoginLog(this.db, { ...attempt, success: false, message: 'rate limited' });
      throw rateLimited('Too many failed logins; wait a few minutes and try again', sharedWait);
    }

    const user = await findUserByEmail(this.db, body.email.trim());
    const ok = await verifyPassword(body.password, user?.passwordHash ?? (await this.dummyHash));
    if (user && ok && user.active) {
      this.accountFailures.reset(accountKey);
      this.addressFailures.forgive(req.ip, now);
      await insertLoginLog(this.db, {
        ...attempt,
        organisationId: user.organisationId,
        success: true,
        message: 'logged in',
      });
      const token = generateToken('session');
      const csrfToken = randomBytes(32).toString('base64url');
      const sessionId = await insertSession(this.db, {
        userId: user.id,
        tokenHash: hashToken(token),
        csrfToken,
        at: now,
        expiresAt: now + SESSION_ABSOLUTE_MS,
        ip: req.ip,
        userAgent: req.userAgent ?? null,
      });
      return { user, token, csrfToken, sessionId };
    }
    // The log says what went wrong (never the password); the answer does not.
    const message = !user ? 'unknown email' : !ok ? 'wrong password' : 'user inactive';
    await insertLoginLog(this.db, {
      ...attempt,
      organisationId: user?.organisationId ?? null,
      success: false,
      message,
    });
    throw new DomainError('UNAUTHORIZED', INVALID_LOGIN_MESSAGE);
  }

  async logout(userId: string, sessionId: string): Promise<void> {
    await revokeSession(this.db, sessionId, this.now());
    this.bus.publish({ type: 'user_sessions_changed', userId });
  }

  /**
   * The first owner from ENTRADA_OWNER_EMAIL / ENTRADA_OWNER_PASSWORD, or a
   * generated one, when the first organisation has no user. Null when it has one.
   */
  async ensureFirstOwner(
    owner: { email: string; password: string } | null,
    generate: boolean,
  ): Promise<{ email: string; password: string | null } | null> {
    const organisationId = await firstOrganisationId(this.db);
    if (!organisationId || (await countUsers(this.db, organisationId)) > 0) return null;
    if (!owner && !generate) return null;
    const email = owner?.email ?? 'owner@entrada.local';
    const password = owner?.password ?? randomBytes(12).toString('base64url');
    try {
      await this.create(organisationId, { email, name: 'Owner', role: 'owner', password });
    } catch (err) {
      // Another instance starting at the same moment made it.
      if (err instanceof DomainError && err.code === 'CONFLICT') return null;
      throw err;
    }
    return { email, password: owner ? null : password };
  }
}

/** Whether `actor` may give `role` (nobody gives more than they hold). */
export function mayGrant(actor: AdminPrincipal, role: Role): boolean {
  return roleAtLeast(actor.role, role);
}
