import { API_ERRORS, PAIRING_ERRORS, type ApiErrorCode, type PairingErrorCode } from '@entrada/core';

export type ErrorCode = ApiErrorCode | PairingErrorCode;
const STATUS: Record<ErrorCode, number> = { ...API_ERRORS, ...PAIRING_ERRORS };

/**
 * A failure the client can act on, raised by services (and routes); the HTTP
 * layer's single error handler (http/errors.ts) turns it into `{error, message}`.
 */
export class DomainError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;
  /** Response headers that go with the answer (Retry-After). */
  readonly headers: Record<string, string> | undefined;
  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, headers?: Record<string, string>) {
    super(message);
    this.code = code;
    this.details = details;
    this.headers = headers;
  }
  get status(): number {
    return STATUS[this.code];
  }
}

export const notFound = (what: string): DomainError => new DomainError('NOT_FOUND', `${what} not found`);
export const invalid = (message: string): DomainError => new DomainError('INVALID_BODY', message);

/** Seconds a client is asked to wait while the database is unreachable (a restart takes a few). */
export const DATABASE_RETRY_AFTER_S = 5;

/** 503 while the database is unreachable, with Retry-After (also as `retry_after_s`); the outage itself is logged once, not per request. */
export function databaseUnavailable(): DomainError {
  return new DomainError(
    'DATABASE_UNAVAILABLE',
    'The database is unavailable; nothing was done. Try again after Retry-After seconds',
    { retry_after_s: DATABASE_RETRY_AFTER_S },
    { 'retry-after': String(DATABASE_RETRY_AFTER_S) },
  );
}

/** 429 with Retry-After (whole seconds, at least 1), also as `retry_after_s` in the body. */
export function rateLimited(message: string, retryAfterMs: number): DomainError {
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  return new DomainError('RATE_LIMITED', message, { retry_after_s: seconds }, { 'retry-after': String(seconds) });
}
