import { Type, type Static } from 'typebox';

export const Uuid = Type.String({ format: 'uuid' });
export const Instant = Type.String({ minLength: 10, maxLength: 40, description: 'ISO 8601 instant (with zone), or a local date-time read in the event time zone' });
export const DirectionSchema = Type.Union([Type.Literal('entry'), Type.Literal('exit')]);

export const ErrorBody = Type.Object({
  error: Type.String({ description: 'Stable machine-readable code' }),
  message: Type.String({ description: 'Human explanation' }),
});
export type ErrorBody = Static<typeof ErrorBody>;

export const IdBody = Type.Object({ id: Uuid });

/** Every error code the API can answer with, and its HTTP status. Never reuse a retired code. */
export const API_ERRORS = {
  INVALID_BODY: 400,
  MISSING_DEVICE_ID: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  /** A POST, PUT, PATCH or DELETE authenticated by the session cookie without the session's x-csrf-token header. */
  CSRF_TOKEN_INVALID: 403,
  DEVICE_REVOKED: 403,
  DEVICE_SUSPENDED: 403,
  NOT_FOUND: 404,
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
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  UNAVAILABLE: 503,
  /** Too much work waiting on this instance (manifest builds): retry after Retry-After seconds. */
  BUSY: 503,
} as const;
export type ApiErrorCode = keyof typeof API_ERRORS;
