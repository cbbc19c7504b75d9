import { API_ERRORS, PAIRING_ERRORS, type ApiErrorCode, type PairingErrorCode } from '@entrada/core';
import type { FastifyError, FastifyInstance } from 'fastify';

export type ErrorCode = ApiErrorCode | PairingErrorCode;
const STATUS: Record<ErrorCode, number> = { ...API_ERRORS, ...PAIRING_ERRORS };

/** A failure the client can act on; the single error handler turns it into `{error, message}`. */
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

/** 429 with Retry-After (whole seconds, at least 1), also as `retry_after_s` in the body. */
export function rateLimited(message: string, retryAfterMs: number): DomainError {
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  return new DomainError('RATE_LIMITED', message, { retry_after_s: seconds }, { 'retry-after': String(seconds) });
}

/** Names the offending field: `/tickets/3/ticket_type_id must match format "uuid"`. */
function describeValidation(err: FastifyError): string {
  const first = err.validation?.[0];
  if (!first) return err.message;
  const params = first.params as Record<string, unknown> | undefined;
  const missing = typeof params?.missingProperty === 'string' ? `/${params.missingProperty}` : '';
  const extra = typeof params?.additionalProperty === 'string' ? ` (unknown field "${params.additionalProperty}")` : '';
  const field = `${first.instancePath || ''}${missing}` || '(body)';
  const where = err.validationContext && err.validationContext !== 'body' ? `${err.validationContext} ` : '';
  const message = first.keyword === 'required' ? 'is required'
    : first.keyword === 'additionalProperties' ? 'is not allowed'
    : first.keyword === 'minProperties' ? 'must name at least one field to change'
    : first.keyword === 'pattern' && params?.pattern === '^[^\\u0000]*$' ? 'must not contain a NUL character'
    : first.message ?? 'is invalid';
  return `${where}${field} ${message}${extra}`.trim();
}

/** A 429 without a wait of its own (a framework or plugin limit) tells the client to come back after this many seconds. */
const DEFAULT_RETRY_AFTER_S = 60;

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | DomainError, request, reply) => {
    if (err instanceof DomainError) {
      if (err.headers) reply.headers(err.headers);
      // Every 429 says when to come back, or clients retry at once (or never).
      if (err.status === 429 && !reply.hasHeader('retry-after')) reply.header('retry-after', String(DEFAULT_RETRY_AFTER_S));
      return reply.status(err.status).send({ error: err.code, message: err.message, ...(err.details ?? {}) });
    }
    if (err.validation) {
      return reply.status(400).send({ error: 'INVALID_BODY', message: describeValidation(err) });
    }
    switch (err.code) {
      case 'FST_ERR_CTP_INVALID_JSON_BODY':
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
        return reply.status(400).send({ error: 'INVALID_BODY', message: 'Malformed JSON body' });
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return reply.status(413).send({ error: 'PAYLOAD_TOO_LARGE', message: 'Request body is too large' });
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return reply.status(415).send({ error: 'UNSUPPORTED_MEDIA_TYPE', message: 'Send application/json' });
      case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
        return reply.status(400).send({ error: 'INVALID_BODY', message: 'Content-Length does not match the body' });
      default:
        break;
    }
    if (err.statusCode === 429) {
      if (!reply.hasHeader('retry-after')) reply.header('retry-after', String(DEFAULT_RETRY_AFTER_S));
      return reply.status(429).send({ error: 'RATE_LIMITED', message: 'Too many requests; slow down' });
    }
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      return reply.status(err.statusCode).send({ error: 'INVALID_BODY', message: err.message });
    }
    request.log.error({ err }, 'unhandled error');
    return reply.status(500).send({ error: 'INTERNAL', message: 'Internal error; it has been logged' });
  });
  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send({ error: 'NOT_FOUND', message: `No route ${request.method} ${request.url.split('?')[0]}` });
  });
}
