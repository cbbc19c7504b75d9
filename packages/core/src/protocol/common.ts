import { Type, type Static, type TSchema, type TUnsafe } from 'typebox';
import { Uuid } from './values.ts';

export const DirectionSchema = Type.Union([Type.Literal('entry'), Type.Literal('exit')]);

export const ErrorBody = Type.Object({
  error: Type.String({ description: 'Stable machine-readable code' }),
  message: Type.String({ description: 'Human explanation' }),
});
export type ErrorBody = Static<typeof ErrorBody>;

export const IdBody = Type.Object({ id: Uuid });

/**
 * Every error answer (4xx and 5xx): a code of the closed list below and words for people. Some codes carry more
 * (`retry_after_s` with BUSY, the field or the conflicting ids with a 409): the schema lets them through, since
 * Fastify's serializer drops what a schema does not name. `error` is a string here, not the closed union, so
 * that an error answer never fails to serialise; a server test checks every code against the list.
 */
export const ApiErrorBody = Type.Object(
  {
    error: Type.String({ description: 'Stable machine-readable code (docs/errors.md)' }),
    message: Type.String({ description: 'Human explanation' }),
  },
  { additionalProperties: true, description: 'An error: `{error, message}` and, for some codes, details' },
);
export type ApiErrorBody = Static<typeof ApiErrorBody>;

/** An instant as the API writes it: ISO 8601, UTC, milliseconds. */
export const Timestamp = Type.String({ description: 'ISO 8601 instant (UTC)' });
export const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

/**
 * A closed set of strings, as JSON Schema's `enum` (what OpenAPI shows) with the exact union as its type. Not a
 * union of literals: Fastify's serializer checks each branch of an `anyOf` in turn, and an enum it writes as a string.
 */
export function StringEnum<const T extends string>(
  values: readonly T[],
  options: { description?: string } = {},
): TUnsafe<T> {
  return Type.Unsafe<T>({ type: 'string', enum: [...values], ...options });
}

/** Seq ranges `[first, last]` a device still owes (gaps in what it uploaded). */
export const SeqRanges = Type.Unsafe<Array<[number, number]>>(
  Type.Array(Type.Array(Type.Integer(), { minItems: 2, maxItems: 2 }), {
    description: 'Inclusive ranges [first, last]',
  }),
);

/**
 * Every error code the API can answer with, and its HTTP status (with
 * PAIRING_ERRORS: the closed list). docs/errors.md says what each means and
 * what a client should do; a server test fails when a code is answered that
 * is not here, or one here is not documented there. Never reuse a retired code.
 */
export const API_ERRORS = {
  /** A field of the body, path or query string is missing, malformed or out of range; the message names it. */
  INVALID_BODY: 400,
  MISSING_DEVICE_ID: 400,
  /** The request itself could not be read: a malformed URL, request line or header. */
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  /** A POST, PUT, PATCH or DELETE authenticated by the session cookie without the session's x-csrf-token header. */
  CSRF_TOKEN_INVALID: 403,
  DEVICE_REVOKED: 403,
  DEVICE_SUSPENDED: 403,
  NOT_FOUND: 404,
  /** The request did not arrive in time (Node's request timeout). */
  REQUEST_TIMEOUT: 408,
  CONFLICT: 409,
  DUPLICATE_CODE: 409,
  DUPLICATE_NUMBER: 409,
  SESSION_ENDED: 409,
  /**
   * A scan's scan_id (its retry key) sent again with another device, code, gate or direction: only a retry of
   * the same request gets the stored verdict. A new scan needs a new scan_id.
   */
  SCAN_ID_REUSED: 409,
  PAYLOAD_TOO_LARGE: 413,
  /** The URL, or one of its path parameters, is too long. */
  URI_TOO_LONG: 414,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  /** The request line and headers are larger than the server reads (16 KiB). */
  HEADERS_TOO_LARGE: 431,
  INTERNAL: 500,
  UNAVAILABLE: 503,
  /** Too much work waiting on this instance (manifest builds): retry after Retry-After seconds. */
  BUSY: 503,
  /** The database cannot be reached (restarting, down, out of connections): nothing was done; retry after Retry-After seconds (a scanner decides offline meanwhile). */
  DATABASE_UNAVAILABLE: 503,
} as const;
export type ApiErrorCode = keyof typeof API_ERRORS;
