import type { AdminTokenOrigin, Role } from '@entrada/core';
import type { Sql } from '../db/database.ts';
import { ms } from './rows.ts';

/**
 * An organiser making a request: a logged-in user (session cookie) or an admin
 * token (bearer), acting for one organisation with one role.
 */
export interface AdminPrincipal {
  organisationId: string;
  role: Role;
  /** The user, when a session cookie authenticated the request. */
  userId: string | null;
  /** The admin token, when a bearer token did. */
  tokenId: string | null;
  /** Who acted, for audit and conflict resolutions: `user:<id>` or `token:<id>`. */
  actor: string;
  /** May create organisations (a platform admin token). */
  platform: boolean;
}

export async function countOrganisations(sql: Sql): Promise<number> {
  const [row] = await sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM organisations`);
  return row?.n ?? 0;
}

export async function insertOrganisation(sql: Sql, name: string): Promise<string> {
  const [row] = await sql.query<{ id: string }>(`INSERT INTO organisations (name) VALUES ($1) RETURNING id`, [name]);
  return row!.id;
}

/** An admin token as organisers see it: never the token or its digest. */
export interface AdminTokenRecord {
  id: string;
  organisationId: string;
  name: string;
  origin: AdminTokenOrigin;
  role: Role;
  platform: boolean;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

const ADMIN_TOKEN_COLUMNS = 'id, organisation_id, name, origin, role, platform, created_at, last_used_at, revoked_at';
interface AdminTokenRow {
  id: string;
  organisation_id: string;
  name: string;
  origin: AdminTokenOrigin;
  role: Role;
  platform: boolean;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}
const adminTokenRecord = (r: AdminTokenRow): AdminTokenRecord => ({
  id: r.id,
  organisationId: r.organisation_id,
  name: r.name,
  origin: r.origin,
  role: r.role,
  platform: r.platform,
  createdAt: ms(r.created_at)!,
  lastUsedAt: ms(r.last_used_at),
  revokedAt: ms(r.revoked_at),
});

/** The new token's record; null when a token with this digest already exists. */
export async function insertAdminToken(
  sql: Sql,
  t: {
    organisationId: string;
    tokenHash: Buffer;
    name: string;
    platform: boolean;
    origin: AdminTokenOrigin;
    role?: Role;
  },
): Promise<AdminTokenRecord | null> {
  const [row] = await sql.query<AdminTokenRow>(
    `INSERT INTO admin_tokens (organisation_id, token_hash, name, platform, origin, role) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (token_hash) DO NOTHING RETURNING ${ADMIN_TOKEN_COLUMNS}`,
    [t.organisationId, t.tokenHash, t.name, t.platform, t.origin, t.role ?? 'owner'],
  );
  return row ? adminTokenRecord(row) : null;
}

/** A token that authenticates: known and not revoked. */
export async function findAdminByTokenHash(sql: Sql, tokenHash: Buffer): Promise<AdminPrincipal | null> {
  const [row] = await sql.query<{ id: string; organisation_id: string; platform: boolean; role: Role }>(
    `SELECT id, organisation_id, platform, role FROM admin_tokens WHERE token_hash = $1 AND revoked_at IS NULL`,
    [tokenHash],
    { name: 'admin_by_token_role' },
  );
  return row
    ? {
        tokenId: row.id,
        userId: null,
        actor: `token:${row.id}`,
        organisationId: row.organisation_id,
        role: row.role,
        platform: row.platform,
      }
    : null;
}

/** A token by digest whether revoked or not (the start-up's environment token). */
export async function findAdminTokenRecordByHash(sql: Sql, tokenHash: Buffer): Promise<AdminTokenRecord | null> {
  const [row] = await sql.query<AdminTokenRow>(
    `SELECT ${ADMIN_TOKEN_COLUMNS} FROM admin_tokens WHERE token_hash = $1`,
    [tokenHash],
  );
  return row ? adminTokenRecord(row) : null;
}

/** The organisation's tokens that authenticate, oldest first. */
export async function listAdminTokens(sql: Sql, organisationId: string): Promise<AdminTokenRecord[]> {
  const rows = await sql.query<AdminTokenRow>(
    `SELECT ${ADMIN_TOKEN_COLUMNS} FROM admin_tokens WHERE organisation_id = $1 AND revoked_at IS NULL ORDER BY created_at, id`,
    [organisationId],
  );
  return rows.map(adminTokenRecord);
}

/**
 * Locks the organisation's row and counts its tokens that authenticate: two
 * revocations at once cannot both see a second token and leave none.
 */
export async function lockActiveAdminTokenCount(sql: Sql, organisationId: string): Promise<number> {
  await sql.query(`SELECT id FROM organisations WHERE id = $1 FOR UPDATE`, [organisationId]);
  const [row] = await sql.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM admin_tokens WHERE organisation_id = $1 AND revoked_at IS NULL`,
    [organisationId],
  );
  return row?.n ?? 0;
}

/** Revokes one of the organisation's tokens; null when it has no such token that still authenticates. */
export async function revokeAdminToken(
  sql: Sql,
  organisationId: string,
  id: string,
  at: number,
): Promise<AdminTokenRecord | null> {
  const [row] = await sql.query<AdminTokenRow>(
    `UPDATE admin_tokens SET revoked_at = $3 WHERE organisation_id = $1 AND id = $2 AND revoked_at IS NULL RETURNING ${ADMIN_TOKEN_COLUMNS}`,
    [organisationId, id, new Date(at)],
  );
  return row ? adminTokenRecord(row) : null;
}

/** The environment token replaces the previous one: marks `id` as it, and revokes every other token that came from the environment. */
export async function replaceEnvAdminToken(sql: Sql, id: string, at: number): Promise<string[]> {
  await sql.query(`UPDATE admin_tokens SET origin = 'env' WHERE id = $1 AND origin <> 'env'`, [id]);
  const rows = await sql.query<{ id: string }>(
    `UPDATE admin_tokens SET revoked_at = $2 WHERE origin = 'env' AND revoked_at IS NULL AND id <> $1 RETURNING id`,
    [id, new Date(at)],
  );
  return rows.map((r) => r.id);
}

/** The installation's first organisation (where the environment's platform token belongs). */
export async function firstOrganisationId(sql: Sql): Promise<string | null> {
  const [row] = await sql.query<{ id: string }>(`SELECT id FROM organisations ORDER BY created_at, id LIMIT 1`);
  return row?.id ?? null;
}

export async function touchAdminTokens(sql: Sql, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await sql.query(`UPDATE admin_tokens SET last_used_at = now() WHERE id = ANY($1::uuid[])`, [ids]);
}

export async function insertLoginLog(
  sql: Sql,
  log: {
    organisationId?: string | null;
    eventId?: string | null;
    identifier: string;
    deviceId?: string | null;
    success: boolean;
    message: string;
    ip: string | null;
    userAgent: string | null;
    /** The service's clock (limits counted from this log compare with it); the database's when absent. */
    at?: number;
  },
): Promise<void> {
  await sql.query(
    `INSERT INTO login_logs (organisation_id, event_id, identifier, device_id, success, message, ip_address, user_agent, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, coalesce($9, now()))`,
    [
      log.organisationId ?? null,
      log.eventId ?? null,
      log.identifier,
      log.deviceId ?? null,
      log.success,
      log.message,
      log.ip,
      log.userAgent?.slice(0, 400) ?? null,
      log.at === undefined ? null : new Date(log.at),
    ],
  );
}

/**
 * Failed pairing attempts from an address since `since`, from the log every
 * API instance writes (rate-limited attempts were not tried: not counted).
 */
export async function recentPairingFailures(
  sql: Sql,
  ip: string,
  since: number,
): Promise<{ count: number; oldest: number | null }> {
  const [row] = await sql.query<{ n: number; oldest: Date | null }>(
    `SELECT count(*)::int AS n, min(created_at) AS oldest FROM login_logs
     WHERE identifier = 'pairing-code' AND NOT success AND ip_address = $1 AND created_at > $2 AND message <> 'rate limited'`,
    [ip, new Date(since)],
  );
  return { count: row?.n ?? 0, oldest: ms(row?.oldest) };
}
