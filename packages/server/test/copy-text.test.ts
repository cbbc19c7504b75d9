/**
 * Rows bulk-loaded with COPY (Sql.copyRows, fields from store/copy-text.ts)
 * must read back exactly, whatever the text: tabs, newlines, backslashes,
 * NULL, far-future times; and a COPY inside a transaction that rolls back
 * leaves nothing.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  COPY_NULL,
  CopyLines,
  copyBoolean,
  copyByteaHex,
  copyNumber,
  copyText,
  copyTimestamp,
  copyWords,
} from '../src/store/copy-text.ts';
import { pgConstraint, pgErrorCode, PG_UNIQUE_VIOLATION } from '../src/db/database.ts';
import { textArray } from '../src/store/pg-arrays.ts';
import { describeEachBackend, type TestDatabase } from './harness.ts';

const COLUMNS = ['t', 'n', 'b', 'h', 'at', 'tags'] as const;

interface Row {
  t: string | null;
  n: number | null;
  b: boolean | null;
  h: string | null;
  at: number | null;
  tags: string[];
}

function line(r: Row): string {
  return `${[copyText(r.t), copyNumber(r.n), copyBoolean(r.b), copyByteaHex(r.h), copyTimestamp(r.at), copyText(textArray(r.tags))].join('\t')}\n`;
}

describeEachBackend('COPY rows', (backend) => {
  let tdb: TestDatabase;
  beforeAll(async () => {
    tdb = await backend.open();
    await tdb.db.exec(
      'CREATE TABLE copy_probe (k serial PRIMARY KEY, t text, n float8, b boolean, h bytea, at timestamptz, tags text[] NOT NULL)',
    );
  });
  afterAll(async () => {
    await tdb?.drop();
  });

  const readBack = async (): Promise<Row[]> => {
    const rows = await tdb.db.query<{
      t: string | null;
      n: number | null;
      b: boolean | null;
      h: string | null;
      at: number | null;
      tags: string[];
    }>(
      `SELECT t, n, b, encode(h, 'hex') AS h, (extract(epoch FROM at) * 1000)::float8 AS at, tags FROM copy_probe ORDER BY k`,
    );
    return rows.map((r) => ({ ...r, at: r.at === null ? null : Math.round(r.at) }));
  };

  it('reads every field back exactly, including the characters COPY treats specially', async () => {
    const rows: Row[] = [
      { t: 'plain', n: 1, b: true, h: '00ff10', at: 1_795_249_329_576, tags: [] },
      { t: 'tab\there', n: -0.5, b: false, h: 'deadbeef', at: 0, tags: ['future', 'clock_skew'] },
      {
        t: 'line\nbreak\r\nand back\\slash \\N \\t',
        n: 2 ** 40,
        b: null,
        h: '',
        at: 8_640_000_000_000_000,
        tags: ['with "quote"', 'a,b'],
      },
      { t: '', n: null, b: true, h: null, at: null, tags: ['Ünïcödé ✓'] },
      { t: null, n: 0, b: false, h: 'ab', at: 253_402_300_800_000, tags: [] },
    ];
    await tdb.db.copyRows('copy_probe', COLUMNS, rows.map(line).join(''));
    expect(await readBack()).toEqual(rows);
  });

  it('reads back the same rows written as bytes line by line, the buffer growing past its first guess', async () => {
    await tdb.db.exec('TRUNCATE copy_probe');
    const rows: Row[] = Array.from({ length: 60 }, (_, i) => ({
      t: i % 3 === 0 ? `Ünïcödé ✓ 🎫 tab\there ${i}` : `row ${i}\\`,
      n: i,
      b: i % 2 === 0,
      h: i % 5 === 0 ? null : 'c0ffee',
      at: 1_795_249_329_576 + i,
      tags: i % 4 === 0 ? ['future'] : [],
    }));
    const out = new CopyLines(10);
    for (const r of rows) out.push(line(r));
    expect(out.bytes().equals(Buffer.from(rows.map(line).join('')))).toBe(true);
    await tdb.db.copyRows('copy_probe', COLUMNS, out.bytes());
    expect(await readBack()).toEqual(rows);
  });

  it('applies nothing when the transaction around it fails', async () => {
    await tdb.db.exec('TRUNCATE copy_probe');
    await expect(
      tdb.db.transaction(async (tx) => {
        await tx.copyRows('copy_probe', COLUMNS, line({ t: 'kept?', n: 1, b: true, h: null, at: 1, tags: [] }));
        throw new Error('later statement failed');
      }),
    ).rejects.toThrow('later statement failed');
    expect(await readBack()).toEqual([]);
  });

  it('rejects a malformed row with the database error, storing none of the batch', async () => {
    await tdb.db.exec('TRUNCATE copy_probe');
    const good = line({ t: 'a', n: 1, b: true, h: null, at: 1, tags: [] });
    await expect(
      tdb.db.transaction((tx) => tx.copyRows('copy_probe', COLUMNS, `${good}not-a-row\n`)),
    ).rejects.toThrow();
    expect(await readBack()).toEqual([]);
  });

  it('reports a unique violation with its code and constraint, as the sync needs to tell a lost race from a bug', async () => {
    await tdb.db.exec('TRUNCATE copy_probe; CREATE UNIQUE INDEX copy_probe_t ON copy_probe (t)');
    const row = line({ t: 'once', n: 1, b: true, h: null, at: 1, tags: [] });
    await tdb.db.copyRows('copy_probe', COLUMNS, row);
    const err: unknown = await tdb.db
      .transaction((tx) => tx.copyRows('copy_probe', COLUMNS, row))
      .catch((e: unknown) => e);
    expect(pgErrorCode(err)).toBe(PG_UNIQUE_VIOLATION);
    expect(pgConstraint(err)).toBe('copy_probe_t');
    await tdb.db.exec('DROP INDEX copy_probe_t');
  });

  it('writes flag words as an array', async () => {
    await tdb.db.exec('TRUNCATE copy_probe');
    const cells = [copyText('w'), COPY_NULL, COPY_NULL, COPY_NULL, COPY_NULL];
    await tdb.db.copyRows(
      'copy_probe',
      COLUMNS,
      `${[...cells, copyWords(['future', 'clock_skew'])].join('\t')}\n${[...cells, copyWords([])].join('\t')}\n`,
    );
    expect((await readBack()).map((r) => r.tags)).toEqual([['future', 'clock_skew'], []]);
  });

  it('leaves bytes that are not hex to the database, which refuses them', async () => {
    const cells = [copyText('h'), COPY_NULL, COPY_NULL, copyByteaHex('zz'), COPY_NULL, copyWords([])];
    await expect(
      tdb.db.transaction((tx) => tx.copyRows('copy_probe', COLUMNS, `${cells.join('\t')}\n`)),
    ).rejects.toThrow();
  });

  it('refuses values it cannot encode before anything is sent', () => {
    expect(() => copyWords(['two words'])).toThrow();
    expect(() => copyWords(['a,b'])).toThrow();
    expect(() => copyNumber(Number.NaN)).toThrow();
    expect(() => copyByteaHex('ab\tcd')).toThrow();
    expect(() => copyByteaHex('ab\\')).toThrow();
  });
});

describe('COPY timestamps', () => {
  it('spell every millisecond JavaScript can hold as toISOString does, without the sign of years past 9999', () => {
    const iso = (ms: number): string => new Date(ms).toISOString().replace(/^\+/, '');
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 8_640_000_000_000_000 }), (ms) => {
        expect(copyTimestamp(ms)).toBe(iso(ms));
      }),
      { numRuns: 5_000 },
    );
    // Consecutive calls within one day and across its edges (the remembered date must follow).
    const day = 86_400_000;
    for (const ms of [
      0,
      day - 1,
      day,
      1_795_249_329_576,
      1_795_249_329_576 + 1,
      20 * day + 999,
      20 * day - 1,
      253_402_300_799_999,
      253_402_300_800_000,
    ]) {
      expect(copyTimestamp(ms)).toBe(iso(ms));
    }
    expect(copyTimestamp(null)).toBe(COPY_NULL);
  });
});
