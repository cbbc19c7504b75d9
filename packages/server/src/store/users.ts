import type { Role } from '@entrada/core';
import type { Sql } from '../db/database.ts';
import { ms } from './rows.ts';

/** An organiser's account. `passwordHash` never leaves the server. */
export interface UserRecord {
  id: string;
  organisationId: string;
  email: string;
  name: string;
  role: Role;
  active: boolean;
  passwordHash: string;
  createdAt: number;
  updatedAt: number;
}

const USER_COLUMNS = 'id, organisation_id, email, name, role, active, password_hash, created_at, updated_at';
interface UserRow {
  id: string;
  organisation_id: string;
  email: string;
  name: string;
  role: Role;
  active: boolean;
  password_hash: string;
  created_at: Date;
  updated_at: Date;
}
const userRecord = (r: UserRow): UserRecord => ({
  id: r.id,
  organisationId: r.organisation_id,
  email: r.email,
  name: r.name,
  role: r.role,
  active: r.active,
  passwordHash: r.password_hash,
  createdAt: ms(r.created_at)!,
  updatedAt: ms(r.updated_at)!,
});

/** Throws the database's unique violation (users_email) when the email is taken in any case. */
export async function insertUser(
  sql: Sql,
  u: {
    organisationId: string;
    email: string;
    name: string;
    role: Role;
    passwordHash: string;
    at: number;
  },
): Promise<UserRecord> {
  const [row] = await sql.query<UserRow>(
    `INSERT INTO users (organisation_id, email, name, role, password_hash, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)
     RETURNING ${USER_COLUMNS}`,
    [u.organisationId, u.email, u.name, u.role, u.passwordHash, new Date(u.at)],
  );
  return userRecord(row!);
}

export async function findUserByEmail(sql: Sql, email: string): Promise<UserRecord | null> {
  const [row] = await sql.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE lower(email) = lower($1)`, [email], {
    name: 'user_by_email',
  });
  return row ? userRecord(row) : null;
}

export async function findUser(sql: Sql, organisationId: string, id: string): Promise<UserRecord | null> {
  const [row] = await sql.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE organisation_id = $1 AND id = $2`, [
    organisationId,
    id,
  ]);
  return row ? userRecord(row) : null;
}

export async function listUsers(sql: Sql, organisationId: string): Promise<UserRecord[]> {
  const rows = await sql.query<UserRow>(
    `SELECT ${USER_COLUMNS} FROM users WHERE organisation_id = $1 ORDER BY created_at, id`,
    [organisationId],
  );
  return rows.map(userRecord);
}

export async function countUsers(sql: Sql, organisationId: string): Promise<number> {
  const [row] = await sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM users WHERE organisation_id = $1`, [
    organisationId,
  ]);
  return row?.n ?? 0;
}

/**
 * Locks the organisation's row and counts its active owners: two demotions
 * at once cannot both see another owner and leave none.
 */
export async function lockActiveOwnerCount(sql: Sql, organisationId: string): Promise<number> {
  await sql.query(`SELECT id FROM organisations WHERE id = $1 FOR UPDATE`, [organisationId]);
  const [row] = await sql.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM users WHERE organisation_id = $1 AND active AND role = 'owner'`,
    [organisationId],
  );
  return row?.n ?? 0;
}

/** Changes the given fields; null when the organisation has no such user. */
export async function updateUser(
  sql: Sql,
  organisationId: string,
  id: string,
  change: {
    name?: string | undefined;
    role?: Role | undefined;
    active?: boolean | undefined;
    passwordHash?: string | undefined;
    at: number;
  },
): Promise<UserRecord | null> {
  const [row] = await sql.query<UserRow>(
    `UPDATE users SET name = coalesce($3, name), role = coalesce($4, role), active = coalesce($5, active),
       password_hash = coalesce($6, password_hash), updated_at = $7
     WHERE organisation_id = $1 AND id = $2 RETURNING ${USER_COLUMNS}`,
    [
      organisationId,
      id,
      change.name ?? null,
      change.role ?? null,
      change.active ?? null,
      change.passwordHash ?? null,
      new Date(change.at),
    ],
  );
  return row ? userRecord(row) : null;
}

/** A session as the authenticator needs it: its user's current role and state come with it. */
export interface SessionRecord {
  id: string;
  userId: string;
  organisationId: string;
  role: Role;
  userActive: boolean;
  csrfToken: string;
  createdAt: number;
  lastSeenAt: number;
  expiresAt: number;
  revokedAt: number | null;
}

export async function insertSession(
  sql: Sql,
  s: {
    userId: string;
    tokenHash: Buffer;
    csrfToken: string;
    at: number;
    expiresAt: number;
    ip: string | null;
    userAgent: string | null;
  },
): Promise<string> {
  const [row] = await sql.query<{ id: string }>(
    `INSERT INTO user_sessions (user_id, token_hash, csrf_token, created_at, last_seen_at, expires_at, ip_address, user_agent)
     VALUES ($1, $2, $3, $4, $4, $5, $6, $7) RETURNING id`,
    [
      s.userId,
      s.tokenHash,
      s.csrfToken,
      new Date(s.at),
      new Date(s.expiresAt),
      s.ip,
      s.userAgent?.slice(0, 400) ?? null,
    ],
  );
  return row!.id;
}

export async function findSessionByTokenHash(sql: Sql, tokenHash: Buffer): Promise<SessionRecord | null> {
  const [row] = await sql.query<{
    id: string;
    user_id: string;
    organisation_id: string;
    role: Role;
    active: boolean;
    csrf_token: string;
    created_at: Date;
    last_seen_at: Date;
    expires_at: Date;
    revoked_at: Date | null;
  }>(
    `SELECT s.id, s.user_id, u.organisation_id, u.role, u.active, s.csrf_token, s.created_at, s.last_seen_at, s.expires_at, s.revoked_at
     FROM user_sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1`,
    [tokenHash],
    { name: 'session_by_token' },
  );
  return row
    ? {
        id: row.id,
        userId: row.user_id,
        organisationId: row.organisation_id,
        role: row.role,
        userActive: row.active,
        csrfToken: row.csrf_token,
        createdAt: ms(row.created_at)!,
        lastSeenAt: ms(row.last_seen_at)!,
        expiresAt: ms(row.expires_at)!,
        revokedAt: ms(row.revoked_at),
      }
    : null;
}

/** Ends one session (logout, or found expired). */
export async function revokeSession(sql: Sql, id: string, at: number): Promise<void> {
  await sql.query(`UPDATE user_sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL`, [id, new Date(at)]);
}

/** Ends every session of a user, but `keep` (a password change keeps the session that made it). */
export async function revokeUserSessions(
  sql: Sql,
  userId: string,
  at: number,
  keep: string | null = null,
): Promise<void> {
  await sql.query(
    `UPDATE user_sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL AND ($3::uuid IS NULL OR id <> $3::uuid)`,
    [userId, new Date(at), keep],
  );
}

/** Last-seen times of many sessions in one statement (never earlier than what is stored). */
export async function touchSessions(sql: Sql, seen: Array<{ id: string; at: number }>): Promise<void> {
  if (seen.length === 0) return;
  await sql.query(
    `UPDATE user_sessions s SET last_seen_at = greatest(s.last_seen_at, v.at)
     FROM unnest($1::uuid[], $2::timestamptz[]) AS v(id, at) WHERE s.id = v.id`,
    [seen.map((x) => x.id), seen.map((x) => new Date(x.at).toISOString())],
  );
}

/**
 * Failed console logins since `since` for an account from an address, and for
 * the address whatever the account, from the log every instance writes.
 */
export async function recentUserLoginFailures(
  sql: Sql,
  identifier: string,
  ip: string,
  since: number,
): Promise<{
  account: { count: number; oldest: number | null };
  address: { count: number; oldest: number | null };
}> {
  const [row] = await sql.query<{ a: number; a_oldest: Date | null; i: number; i_oldest: Date | null }>(
    `SELECT count(*) FILTER (WHERE identifier = $1)::int AS a, min(created_at) FILTER (WHERE identifier = $1) AS a_oldest,
            count(*)::int AS i, min(created_at) AS i_oldest
     FROM login_logs
     WHERE NOT success AND identifier LIKE 'user:%' AND ip_address = $2 AND created_at > $3 AND message <> 'rate limited'`,
    [identifier, ip, new Date(since)],
  );
  return {
    account: { count: row?.a ?? 0, oldest: ms(row?.a_oldest) },
    address: { count: row?.i ?? 0, oldest: ms(row?.i_oldest) },
  };
}
