import type { Sql } from '../db/database.ts';
import { ms } from './rows.ts';

export interface PairingCodeRecord {
  eventId: string;
  id: string;
  organisationId: string;
  name: string | null;
  gateId: string | null;
  createdAt: number;
  expiresAt: number;
  usedAt: number | null;
  deviceId: string | null;
}
interface RawPairingCode {
  event_id: string;
  id: string;
  organisation_id: string;
  name: string | null;
  gate_id: string | null;
  created_at: Date;
  expires_at: Date;
  used_at: Date | null;
  device_id: string | null;
}
const COLUMNS = `event_id, id, organisation_id, name, gate_id, created_at, expires_at, used_at, device_id`;

function toPairingCode(r: RawPairingCode): PairingCodeRecord {
  return {
    eventId: r.event_id,
    id: r.id,
    organisationId: r.organisation_id,
    name: r.name,
    gateId: r.gate_id,
    createdAt: ms(r.created_at)!,
    expiresAt: ms(r.expires_at)!,
    usedAt: ms(r.used_at),
    deviceId: r.device_id,
  };
}

/** `codeHash`: SHA-256 hex of the normalised code. A collision throws a unique violation. */
export async function insertPairingCode(
  sql: Sql,
  c: {
    organisationId: string;
    eventId: string;
    codeHash: string;
    name: string | null;
    gateId: string | null;
    createdAt: number;
    expiresAt: number;
  },
): Promise<PairingCodeRecord> {
  const [row] = await sql.query<RawPairingCode>(
    `INSERT INTO pairing_codes (event_id, organisation_id, code_hash, name, gate_id, created_at, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${COLUMNS}`,
    [c.eventId, c.organisationId, c.codeHash, c.name, c.gateId, new Date(c.createdAt), new Date(c.expiresAt)],
  );
  return toPairingCode(row!);
}

/**
 * Uses the code up, if it is still unused and unexpired at `now`, for the
 * device `deviceId` (inserted later in the same transaction). One statement:
 * of two concurrent redemptions the second waits on the row lock, re-reads
 * `used_at` and gets nothing.
 */
export async function consumePairingCode(
  sql: Sql,
  codeHash: string,
  now: number,
  deviceId: string,
): Promise<PairingCodeRecord | null> {
  const [row] = await sql.query<RawPairingCode>(
    `UPDATE pairing_codes SET used_at = $2, device_id = $3
     WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING ${COLUMNS}`,
    [codeHash, new Date(now), deviceId],
  );
  return row ? toPairingCode(row) : null;
}

export async function findPairingCode(sql: Sql, codeHash: string): Promise<PairingCodeRecord | null> {
  const [row] = await sql.query<RawPairingCode>(`SELECT ${COLUMNS} FROM pairing_codes WHERE code_hash = $1`, [
    codeHash,
  ]);
  return row ? toPairingCode(row) : null;
}
