import { API_ERRORS, type ApiErrorCode } from './common.ts';
import { PAIRING_ERRORS, type PairingErrorCode } from './pairing.ts';

/** A code from the closed list, or `HTTP_<status>` when the answer was not ours (a proxy's error page, say). */
export type ApiFailureCode = ApiErrorCode | PairingErrorCode | `HTTP_${number}`;

/** An error answer as every client reads it: one reading for the client engine, the CLI, the scanner app and the console. */
export interface ApiFailure {
  status: number;
  code: ApiFailureCode;
  /** The server's words, meant for people; `HTTP <status>` when it gave none. */
  message: string;
  /** From Retry-After (seconds or an HTTP date) or the body's `retry_after_s`; null when the server did not say. */
  retryAfterMs: number | null;
  /** The body's other fields (e.g. `retry_after_s`, `success`), for callers that know a code's details. */
  details: Record<string, unknown>;
}

const KNOWN = new Set<string>([...Object.keys(API_ERRORS), ...Object.keys(PAIRING_ERRORS)]);

export function isKnownErrorCode(code: string): code is ApiErrorCode | PairingErrorCode {
  return KNOWN.has(code);
}

/**
 * Reads a non-2xx answer. `body` is the parsed JSON (or the raw text when it
 * was not JSON); `now` resolves an HTTP-date Retry-After. Never throws. A code
 * outside the closed list (an older client reading a newer server's code, or
 * a proxy's body) becomes `HTTP_<status>`, with what was sent kept in
 * `details.unrecognised_code`.
 */
export function parseApiError(status: number, body: unknown, retryAfter: string | null, now: number): ApiFailure {
  const fields =
    typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
  const { error, message, ...details } = fields;
  let code: ApiFailureCode = `HTTP_${status}`;
  if (typeof error === 'string') {
    if (isKnownErrorCode(error)) code = error;
    else details.unrecognised_code = error.slice(0, 64);
  }
  const text = typeof message === 'string' && message !== '' ? message : `HTTP ${status}`;
  const fromBody =
    typeof details.retry_after_s === 'number' && details.retry_after_s >= 0 ? details.retry_after_s * 1000 : null;
  return { status, code, message: text, retryAfterMs: parseRetryAfter(retryAfter, now) ?? fromBody, details };
}

/** Retry-After in milliseconds: whole seconds or an HTTP date (relative to `now`); null when absent or unreadable. */
export function parseRetryAfter(value: string | null, now: number): number | null {
  if (!value) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}
