import { PGlite } from '@electric-sql/pglite';
import type { Database, Sql } from './database.ts';

const TIMESTAMPTZ_OID = 1184;
const PG_TIMESTAMPTZ = /^(\d{4,})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?([+-])(\d{2})(?::(\d{2}))?(?::(\d{2}))?( BC)?$/;

/**
 * timestamptz as PostgreSQL writes it (`0050-06-01 12:00:00.5+00`). PGlite's
 * own parser is `new Date(text)`, which reads years 0 to 99 as 1900 to 1999;
 * node-postgres reads them right, and both must agree on every year the
 * protocol admits (0001 to 9999).
 */
export function parseTimestamptz(text: string): Date | number {
  if (text === 'infinity') return Infinity;
  if (text === '-infinity') return -Infinity;
  const m = PG_TIMESTAMPTZ.exec(text);
  if (!m) return new Date(text);
  const [, y, mo, d, h, mi, s, frac, sign, oh, om, os, bc] = m;
  const t = new Date(0);
  t.setUTCFullYear(bc ? 1 - Number(y) : Number(y), Number(mo) - 1, Number(d));
  t.setUTCHours(Number(h), Number(mi), Number(s), Number((frac ?? '0').padEnd(3, '0').slice(0, 3)));
  const offsetS = (Number(oh) * 3600 + Number(om ?? 0) * 60 + Number(os ?? 0)) * (sign === '-' ? -1 : 1);
  return new Date(t.getTime() - offsetS * 1000);
}

/**
 * Embedded PostgreSQL (WASM). `dataDir` undefined keeps everything in memory
 * (tests); a folder path persists it. One connection: PGlite serialises
 * statements and transactions itself.
 */
export async function openPglite(dataDir?: string): Promise<Database> {
  const options = { parsers: { [TIMESTAMPTZ_OID]: parseTimestamptz } };
  const db = dataDir ? new PGlite(dataDir, options) : new PGlite(options);
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
