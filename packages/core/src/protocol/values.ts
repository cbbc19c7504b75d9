/**
 * The values a request may carry, as schema builders that say what
 * PostgreSQL can hold. Every request schema — bodies, path parameters and
 * query strings of every route — is built from these, so input the database
 * would refuse is a 400 naming the field at the boundary, never a 500 from a
 * statement (issue #10, item 3).
 *
 * - Text: PostgreSQL's text cannot hold U+0000, and a UTF-16 half without
 *   its pair is not a character at all (the driver would silently store
 *   U+FFFD). Every string has a maximum length.
 * - Integers: an `integer` column holds −2³¹..2³¹−1; a `bigint` one more
 *   than JSON numbers carry exactly, so 2⁵³−1 bounds those.
 * - Instants: a timestamptz holds 4713 BC to 294276 AD, but the ISO 8601
 *   text we read and write (and COPY) has four-digit years: 0001 to 9999.
 *   Device clocks are epoch milliseconds: 1970 to 9999. An old-but-possible
 *   device time is stored and flagged by the sync, never refused here.
 */
import { Type, type TInteger, type TNumber, type TString } from 'typebox';

/** No U+0000 and no unpaired surrogate; JSON Schema patterns are matched with the `u` flag (Ajv, TypeBox). */
export const TEXT_PATTERN = '^[^\\u0000\\uD800-\\uDFFF]*$';

export interface TextOptions {
  minLength?: number;
  maxLength: number;
  /** A stricter pattern of the field's own (it must refuse U+0000 too; core's schema test checks every one). */
  pattern?: string;
  description?: string;
}

/** A string PostgreSQL's text can hold, of bounded length. */
export function Text(options: TextOptions): TString {
  return Type.String({ ...options, pattern: options.pattern ?? TEXT_PATTERN });
}

export const INT32_MAX = 2_147_483_647;
export const INT32_MIN = -2_147_483_648;

/** An integer an `integer` column holds; tighter bounds of the field's own stay within them. */
export function Int32(options: { minimum?: number; maximum?: number; description?: string } = {}): TInteger {
  const minimum = options.minimum ?? INT32_MIN;
  const maximum = options.maximum ?? INT32_MAX;
  if (minimum < INT32_MIN || maximum > INT32_MAX) throw new RangeError('Int32 bounds must lie within −2³¹..2³¹−1');
  return Type.Integer({ ...options, minimum, maximum });
}

/** A count: 0..2³¹−1, or from `minimum`. */
export function Count(options: { minimum?: number; maximum?: number; description?: string } = {}): TInteger {
  return Int32({ minimum: 0, ...options });
}

/** A fraction 0..1 (a battery level): the one non-integer a request carries; a `real` column holds it (to 7 digits). */
export function Fraction(options: { description?: string } = {}): TNumber {
  return Type.Number({ ...options, minimum: 0, maximum: 1 });
}

/** An integer of a `bigint` column, as far as JSON numbers are exact (2⁵³−1). */
export function Int53(options: { minimum: number; description?: string }): TInteger {
  return Type.Integer({ ...options, maximum: Number.MAX_SAFE_INTEGER });
}

/** 0001-01-01T00:00:00.000Z: the first instant with a four-digit year. */
export const MIN_INSTANT_MS = -62_135_596_800_000;
/** 9999-12-31T23:59:59.999Z: the last instant with a four-digit year. */
export const MAX_INSTANT_MS = 253_402_300_799_999;

/** Milliseconds since 1970 from a device's clock, up to the end of year 9999. */
export function EpochMs(options: { description?: string } = {}): TInteger {
  return Type.Integer({ ...options, minimum: 0, maximum: MAX_INSTANT_MS });
}

/**
 * ISO 8601 with a zone (`Z`, `+02:00`), or a local date-time read in the
 * event's time zone; years 0001 to 9999. core's `parseEventTime` reads it
 * and refuses the few texts whose instant falls outside those years once the
 * offset is applied (`0001-01-01T00:30+01:00`).
 */
export const INSTANT_PATTERN =
  '^(?!0000)[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\\.[0-9]{1,9})?)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})?$';

export const Instant = Type.String({
  minLength: 16,
  maxLength: 40,
  pattern: INSTANT_PATTERN,
  description: 'ISO 8601 instant (with zone), or a local date-time read in the event time zone; years 0001 to 9999',
});

export const UUID_PATTERN = '^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$';

/** A UUID as PostgreSQL's uuid type reads it (the `uuid` format alone also admits a `urn:uuid:` prefix, which it does not). */
export function UuidString(options: { description?: string } = {}): TString {
  return Type.String({ ...options, format: 'uuid', minLength: 36, maxLength: 36, pattern: UUID_PATTERN });
}

export const Uuid = UuidString();
