import type { Database, Sql } from '../db/database.ts';

/** The database answers (the health probe). */
export async function pingDatabase(db: Database): Promise<void> {
  await db.query('SELECT 1', [], { name: 'health' });
}

/** Takes the transaction-scoped advisory lock `key` if no one holds it; false when someone does. */
export async function tryAdvisoryXactLock(tx: Sql, key: number): Promise<boolean> {
  const [got] = await tx.query<{ ok: boolean }>(`SELECT pg_try_advisory_xact_lock($1) AS ok`, [key]);
  return got?.ok ?? false;
}

/** ANALYZE of some columns of a table: `table` and `columns` are trusted names from our own code, never input. */
export async function analyzeColumns(tx: Sql, table: string, columns: string): Promise<void> {
  await tx.exec(`ANALYZE ${table} (${columns})`);
}

/** The planner's row estimate of a table (pg_class.reltuples), 0 when unknown. */
export async function estimatedRows(sql: Sql, table: string): Promise<number> {
  const [row] = await sql.query<{ n: number }>(`SELECT reltuples::float8 AS n FROM pg_class WHERE relname = $1`, [
    table,
  ]);
  return Math.max(0, row?.n ?? 0);
}

/** The database's copy of the master secret: `candidate` is stored unless one already is; the stored one is returned. */
export async function databaseMasterSecret(sql: Sql, candidate: Buffer): Promise<Uint8Array | null> {
  await sql.query(`INSERT INTO server_secrets (name, value) VALUES ('master', $1) ON CONFLICT (name) DO NOTHING`, [
    candidate,
  ]);
  const [row] = await sql.query<{ value: Uint8Array }>(`SELECT value FROM server_secrets WHERE name = 'master'`);
  return row?.value ?? null;
}
