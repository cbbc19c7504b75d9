/**
 * Array literals built by hand (store/pg-arrays.ts) must read back exactly,
 * whatever the text: quotes, backslashes, commas, braces, blanks, NULL.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { booleanArray, byteaHexArray, numberArray, textArray } from '../src/store/pg-arrays.ts';
import { describeEachBackend, type TestDatabase } from './harness.ts';

describeEachBackend('array literals', (backend) => {
  let tdb: TestDatabase;
  beforeAll(async () => {
    tdb = await backend.open();
  });
  afterAll(async () => {
    await tdb?.drop();
  });

  const roundTrip = async <T>(literal: string, type: string): Promise<T> => {
    const [row] = await tdb.db.query<{ a: T }>(`SELECT $1::${type} AS a`, [literal]);
    return row!.a;
  };

  it('reads text back exactly, including characters that are special in array literals', async () => {
    const values = [
      'plain',
      '',
      'with "quotes"',
      'back\\slash',
      'a,b',
      '{braces}',
      ' padded ',
      'NULL',
      'Ünïcödé ✓',
      null,
    ];
    expect(await roundTrip<Array<string | null>>(textArray(values), 'text[]')).toEqual(values);
    expect(await roundTrip<string[]>(textArray(['a', 'b']), 'text[]')).toEqual(['a', 'b']);
    expect(await roundTrip<string[]>(textArray([]), 'text[]')).toEqual([]);
    const ids = ['0190d3f0-0000-7000-8000-000000000001', null];
    expect(await roundTrip<Array<string | null>>(textArray(ids), 'uuid[]')).toEqual(ids);
  });

  it('reads numbers, booleans and bytes back', async () => {
    const ns = [0, -1, 1795249329576, 0.5, null];
    expect(await roundTrip<Array<number | null>>(numberArray(ns), 'float8[]')).toEqual(ns);
    expect(await roundTrip<number[]>(numberArray([1, 2, 2 ** 40]), 'float8[]')).toEqual([1, 2, 2 ** 40]);
    expect(() => numberArray([Number.NaN])).toThrow();
    expect(await roundTrip<Array<boolean | null>>(booleanArray([true, false, null]), 'boolean[]')).toEqual([
      true,
      false,
      null,
    ]);
    const hex = ['00ff10', 'deadbeef', null];
    const bytes = await roundTrip<Array<Uint8Array | null>>(byteaHexArray(hex), 'bytea[]');
    expect(bytes.map((b) => (b ? Buffer.from(b).toString('hex') : null))).toEqual(hex);
    expect(() => byteaHexArray(['zz'])).toThrow();
  });
});
