import type { Sql } from '../db/database.ts';
import { ms } from './rows.ts';

export interface AdminPrincipal { tokenId: string; organisationId: string; platform: boolean }

export async function countOrganisations(sql: Sql): Promise<number> {
  const [row] = await sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM organisations`);
  return row?.n ?? 0;
}

export async function insertOrganisation(sql: Sql, name: string): Promise<string> {
  const [row] = await sql.query<{ id: string }>(`INSERT INTO organisations (name) VALUES ($1) RETURNING id`, [name]);
  return row!.id;
}

export async function insertAdminToken(sql: Sql, t: { organisationId: string; tokenHash: Buffer; name: string; platform: boolean }): Promise<void> {
  await sql.query(
    `INSERT INTO admin_tokens (organisation_id, token_hash, name, platform) VALUES ($1, $2, $3, $4)
     ON CONFLICT (token_hash) DO NOTHING`,
    [t.organisationId, t.tokenHash, t.name, t.platform],
  );
}

export async function findAdminByTokenHash(sql: Sql, tokenHash: Buffer): Promise<AdminPrincipal | null> {
  const [row] = await sql.query<{ id: string; organisation_id: string; platform: boolean }>(
    `SELECT id, organisation_id, platform FROM admin_tokens WHERE token_hash = $1`, [tokenHash], { name: 'admin_by_token' },
  );
  return row ? { tokenId: row.id, organisationId: row.organisation_id, platform: row.platform } : null;
}

export async function insertLoginLog(sql: Sql, log: {
  organisationId?: string | null; eventId?: string | null; identifier: string; deviceId?: string | null;
  success: boolean; message: string; ip: string | null; userAgent: string | null;
  /** The service's clock (limits counted from this log compare with it); the database's when absent. */
  at?: number;
}): Promise<void> {
  await sql.query(
    `INSERT INTO login_logs (organisation_id, event_id, identifier, device_id, success, message, ip_address, user_agent, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, coalesce($9, now()))`,
    [log.organisationId ?? null, log.eventId ?? null, log.identifier, log.deviceId ?? null, log.success, log.message, log.ip,
      log.userAgent?.slice(0, 400) ?? null, log.at === undefined ? null : new Date(log.at)],
  );
}

/**
 * Failed pairing attempts from an address since `since`, from the log every
 * API instance writes (rate-limited attempts were not tried: not counted).
 */
export async function recentPairingFailures(sql: Sql, ip: string, since: number): Promise<{ count: number; oldest: number | null }> {
  const [row] = await sql.query<{ n: number; oldest: Date | null }>(
    `SELECT count(*)::int AS n, min(created_at) AS oldest FROM login_logs
     WHERE identifier = 'pairing-code' AND NOT success AND ip_address = $1 AND created_at > $2 AND message <> 'rate limited'`,
    [ip, new Date(since)]);
  return { count: row?.n ?? 0, oldest: ms(row?.oldest) };
}
