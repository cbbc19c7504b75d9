import { describe, expect, it } from 'vitest';
import { Compile } from 'typebox/compile';
import type { TSchema } from 'typebox';
import * as protocol from '../src/protocol/index.ts';
import {
  Count,
  EpochMs,
  Instant,
  Int32,
  Int53,
  INT32_MAX,
  MAX_INSTANT_MS,
  MIN_INSTANT_MS,
  Text,
  Uuid,
} from '../src/protocol/values.ts';
import { unsafeSchemaValues } from '../src/testing/schema-limits.ts';
import { parseEventTime } from '../src/time/zoned.ts';

const accepts = (schema: TSchema, value: unknown): boolean => Compile(schema).Check(value);

describe('the values a request may carry (what PostgreSQL can hold)', () => {
  it('Text refuses U+0000 and unpaired surrogates, and keeps every real character', () => {
    const name = Text({ minLength: 1, maxLength: 10 });
    for (const bad of ['a\u0000b', '\u0000', 'x\uD800', '\uDC00y', '', 'elevenchars'])
      expect(accepts(name, bad), JSON.stringify(bad)).toBe(false);
    for (const good of ['a', 'Fête', '🎟️ 𝄞', 'tab\there', '\u00A0']) expect(accepts(name, good), good).toBe(true);
    // A field's own pattern replaces the default; it must refuse U+0000 itself (the schema check below makes sure).
    expect(accepts(Text({ maxLength: 4, pattern: '^[0-9]+$' }), '12\u00003')).toBe(false);
  });

  it('Int32 and Count stay within an integer column', () => {
    expect(accepts(Count(), INT32_MAX)).toBe(true);
    expect(accepts(Count(), INT32_MAX + 1)).toBe(false);
    expect(accepts(Count(), -1)).toBe(false);
    expect(accepts(Count({ minimum: 1, maximum: 10 }), 11)).toBe(false);
    expect(accepts(Int32(), -(2 ** 31))).toBe(true);
    expect(accepts(Int32(), -(2 ** 31) - 1)).toBe(false);
    expect(() => Int32({ maximum: 2 ** 31 })).toThrow(RangeError);
    expect(accepts(Int53({ minimum: 1 }), Number.MAX_SAFE_INTEGER)).toBe(true);
    expect(accepts(Int53({ minimum: 1 }), 2 ** 53)).toBe(false);
  });

  it('EpochMs holds device times from 1970 to the end of 9999, old ones included', () => {
    for (const good of [0, Date.UTC(2000, 0, 1), MAX_INSTANT_MS]) expect(accepts(EpochMs(), good)).toBe(true);
    for (const bad of [-1, MAX_INSTANT_MS + 1, 8.64e15, 1e21, 1.5])
      expect(accepts(EpochMs(), bad), String(bad)).toBe(false);
  });

  it('Instant admits ISO 8601 with four-digit years 0001 to 9999, with or without a zone', () => {
    for (const good of [
      '2026-08-01T19:00',
      '2026-08-01 19:00:05',
      '2026-08-01T19:00Z',
      '2026-08-01t19:00:00.123456789+02:00',
      '0001-01-01T00:00:00Z',
      '9999-12-31T23:59:59.999Z',
    ]) {
      expect(accepts(Instant, good), good).toBe(true);
    }
    for (const bad of [
      '0000-01-01T00:00:00Z',
      '-200000-01-01T00:00:00Z',
      '+010000-01-01T00:00:00Z',
      'tomorrow',
      '2026-08-01',
      '2026-08-01T19:00Z\u0000',
    ]) {
      expect(accepts(Instant, bad), bad).toBe(false);
    }
  });

  it('parseEventTime reads years below 100 as themselves and refuses instants outside 0001..9999 after the offset', () => {
    expect(parseEventTime('0050-06-01T12:00', 'UTC')).toBe(Date.parse('0050-06-01T12:00:00Z'));
    expect(parseEventTime('0001-01-01T00:00:00Z', 'UTC')).toBe(MIN_INSTANT_MS);
    expect(parseEventTime('9999-12-31T23:59:59.999Z', 'UTC')).toBe(MAX_INSTANT_MS);
    expect(parseEventTime('0001-01-01T00:30:00+01:00', 'UTC')).toBeNull();
    expect(parseEventTime('9999-12-31T23:30:00-01:00', 'UTC')).toBeNull();
    expect(parseEventTime('2026-08-01T19:00', 'Europe/Amsterdam')).toBe(Date.parse('2026-08-01T17:00:00Z'));
  });

  it("Uuid is what PostgreSQL's uuid reads (no urn:uuid: prefix)", () => {
    expect(accepts(Uuid, '6f1c1e0e-0000-4000-8000-000000000000')).toBe(true);
    expect(accepts(Uuid, 'urn:uuid:6f1c1e0e-0000-4000-8000-000000000000')).toBe(false);
  });

  it('every request schema of the protocol is built from these: no unbounded or NUL-admitting string, no integer beyond its column', () => {
    // Answers whose names end like a request's (the server writes them; nothing reads them from a client).
    const responses = new Set(['ErrorBody', 'ApiErrorBody', 'StagedImport', 'CommittedImport']);
    const requests = Object.entries(protocol).filter(
      ([name]) => /(Body|Query|Import)$/.test(name) && !responses.has(name),
    );
    expect(requests.map(([name]) => name)).toEqual(
      expect.arrayContaining(['CreateEventBody', 'SyncBody', 'DeviceLogImport', 'LoginLogsQuery', 'StaffLoginBody']),
    );
    // Scanned strings are matched by keyed digest and never stored as text: any string is a verdict, not an error.
    const loose = new Set(['/code', '/scans/*/qrcode']);
    const problems = requests.flatMap(([name, schema]) =>
      unsafeSchemaValues(
        schema,
        '',
        name === 'ScanBody' || name === 'SyncBody' || name === 'DeviceLogImport' ? loose : new Set(),
      ).map((p) => `${name}${p}`),
    );
    expect(problems).toEqual([]);
  });

  it('the schema check finds what the builders prevent', () => {
    expect(
      unsafeSchemaValues({
        type: 'object',
        properties: {
          a: { type: 'string', maxLength: 5 },
          b: { type: 'integer', minimum: 0 },
          c: { type: 'array', items: { type: 'integer', minimum: 0, maximum: 2 ** 31 } },
        },
      }),
    ).toEqual([
      '/a: a string without a pattern refusing U+0000',
      '/b: a number without minimum and maximum',
      '/c/*: an integer outside −2³¹..2³¹−1',
    ]);
    expect(unsafeSchemaValues({ type: 'string', maxLength: 3, pattern: '^.*$' })).toEqual([
      '(root): a pattern admitting "\\u0000"',
    ]);
  });
});
