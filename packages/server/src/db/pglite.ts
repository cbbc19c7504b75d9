import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import type { Database, Sql } from './database.ts';

/**
 * Embedded PostgreSQL (WASM). `dataDir` undefined keeps everything in memory
 * (tests); a folder path persists it. One connection: PGlite serialises
 * statements and transactions itself.
 */
export async function openPglite(dataDir?: string): Promise<Database> {
  // pg_trgm: trigram indexes for ticket search by part of a holder's name (migration 011).
  const db = dataDir ? new PGlite(dataDir, { extensions: { pg_trgm } }) : new PGlite({ extensions: { pg_trgm } });
  await db.waitReady;
  const run = async <R>(target: Pick<PGlite, 'query'>, text: string, params?: readonly unknown[]): Promise<R[]> => {
    const result = await target.query<R>(text, params as unknown[] | undefined);
    return result.rows;
  };
  // PGlite reads COPY data from a virtual file, /dev/blob, given with the statement.
  const copy = async (target: Pick<PGlite, 'query'>, table: string, columns: readonly string[], rows: string): Promise<void> => {
    await target.query(`COPY ${table} (${columns.join(', ')}) FROM '/dev/blob'`, [], { blob: new Blob([rows]) });
  };
  return {
    kind: 'pglite',
    query: (text, params) => run(db, text, params),
    exec: async (text) => { await db.exec(text); },
    copyRows: (table, columns, rows) => copy(db, table, columns, rows),
    transaction: (fn) => db.transaction(async (t) => {
      const tx: Sql = {
        query: (text, params) => run(t, text, params),
        exec: async (text) => { await t.exec(text); },
        copyRows: (table, columns, rows) => copy(t, table, columns, rows),
      };
      return fn(tx);
    }),
    close: () => db.close(),
  };
}
