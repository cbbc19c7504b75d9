import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Database } from './database.ts';

const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

export interface MigrationReport {
  applied: string[];
  current: string | null;
}

/**
 * Applies pending numbered SQL migrations, each in its own transaction. An
 * advisory lock makes concurrent starts of several instances safe.
 * `before`: only the migrations whose version sorts before it (a test of a
 * migration fills the schema it starts from).
 */
export async function migrate(db: Database, opts: { before?: string } = {}): Promise<MigrationReport> {
  const files = (await readdir(MIGRATIONS_DIR))
    .filter((f) => /^\d+_.+\.sql$/.test(f) && (opts.before === undefined || f < opts.before))
    .sort();
  const applied: string[] = [];
  await db.transaction(async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock(7343011)`);
    await tx.query(
      `CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const done = new Set(
      (await tx.query<{ version: string }>(`SELECT version FROM schema_migrations`)).map((r) => r.version),
    );
    for (const file of files) {
      const version = file.replace(/\.sql$/, '');
      if (done.has(version)) continue;
      const sql = await readFile(MIGRATIONS_DIR + file, 'utf8');
      await tx.exec(sql);
      await tx.query(`INSERT INTO schema_migrations (version) VALUES ($1)`, [version]);
      applied.push(version);
    }
  });
  const last = files.at(-1)?.replace(/\.sql$/, '') ?? null;
  return { applied, current: last };
}
