import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { Availability, databaseError, type Database, type Sql } from './database.ts';

const TIMESTAMPTZ_OID = 1184;
const PG_TIMESTAMPTZ =
  /^(\d{4,})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?([+-])(\d{2})(?::(\d{2}))?(?::(\d{2}))?( BC)?$/;

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
  // pg_trgm: trigram indexes for ticket search by part of a holder's name (migration 011).
  const options = { parsers: { [TIMESTAMPTZ_OID]: parseTimestamptz }, extensions: { pg_trgm } };
  const db = dataDir ? new PGlite(dataDir, options) : new PGlite(options);
  await db.waitReady;
  const availability = new Availability();
  // PGlite's errors carry the statement and its parameters (`query`, `params`): only a DatabaseError leaves here.
  const safely = async <T>(statement: () => Promise<T>): Promise<T> => {
    try {
      const result = await statement();
      availability.answered();
      return result;
    } catch (err) {
      throw availability.failed(databaseError(err));
    }
  };
  const run = async <R>(target: Pick<PGlite, 'query'>, text: string, params?: readonly unknown[]): Promise<R[]> =>
    (await safely(() => target.query<R>(text, params as unknown[] | undefined))).rows;
  const exec = async (target: Pick<PGlite, 'exec'>, text: string): Promise<void> => {
    await safely(() => target.exec(text));
  };
  // PGlite reads COPY data from a virtual file, /dev/blob, given with the statement.
  const copy = async (
    target: Pick<PGlite, 'query'>,
    table: string,
    columns: readonly string[],
    rows: string | Uint8Array,
  ): Promise<void> => {
    // The bytes come from Buffers (never a SharedArrayBuffer), which the DOM's Blob typing asks to be told.
    const part = rows as string | Uint8Array<ArrayBuffer>;
    await safely(() =>
      target.query(`COPY ${table} (${columns.join(', ')}) FROM '/dev/blob'`, [], { blob: new Blob([part]) }),
    );
  };
  return {
    kind: 'pglite',
    availability,
    query: (text, params) => run(db, text, params),
    exec: (text) => exec(db, text),
    copyRows: (table, columns, rows) => copy(db, table, columns, rows),
    async transaction(fn) {
      // What `fn` throws passes through as it is; what PGlite throws around it (BEGIN, COMMIT) is made safe.
      let thrownByFn: unknown;
      try {
        return await db.transaction(async (t) => {
          const tx: Sql = {
            query: (text, params) => run(t, text, params),
            exec: (text) => exec(t, text),
            copyRows: (table, columns, rows) => copy(t, table, columns, rows),
          };
          try {
            return await fn(tx);
          } catch (err) {
            thrownByFn = err;
            throw err;
          }
        });
      } catch (err) {
        throw err === thrownByFn ? err : availability.failed(databaseError(err));
      }
    },
    close: () => db.close(),
  };
}
