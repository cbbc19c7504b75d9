import { PGlite } from '@electric-sql/pglite';
import type { Database, Sql } from './database.ts';

/**
 * Embedded PostgreSQL (WASM). `dataDir` undefined keeps everything in memory
 * (tests); a folder path persists it. One connection: PGlite serialises
 * statements and transactions itself.
 */
export async function openPglite(dataDir?: string): Promise<Database> {
  const db = dataDir ? new PGlite(dataDir) : new PGlite();
  await db.waitReady;
  const run = async <R>(target: Pick<PGlite, 'query'>, text: string, params?: readonly unknown[]): Promise<R[]> => {
    const result = await target.query<R>(text, params as unknown[] | undefined);
    return result.rows;
  };
  return {
    kind: 'pglite',
    query: (text, params) => run(db, text, params),
    exec: async (text) => { await db.exec(text); },
    transaction: (fn) => db.transaction(async (t) => {
      const tx: Sql = { query: (text, params) => run(t, text, params), exec: async (text) => { await t.exec(text); } };
      return fn(tx);
    }),
    close: () => db.close(),
  };
}
