import { INSTANT_PATTERN, TEXT_PATTERN, UUID_PATTERN } from '@entrada/core';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyBaseLogger, FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DatabaseError } from '../db/database.ts';
import { databaseUnavailable, DomainError, type ErrorCode } from '../services/errors.ts';

/** What the shared patterns of core's protocol/values.ts mean, in words. */
const PATTERN_MEANINGS: Record<string, string> = {
  [TEXT_PATTERN]: 'must not contain U+0000 or an unpaired UTF-16 surrogate',
  [INSTANT_PATTERN]: 'must be an ISO 8601 date-time with a year from 0001 to 9999',
  [UUID_PATTERN]: 'must be a UUID',
};

/** Names the offending field: `/tickets/3/ticket_type_id must be a UUID`. */
function describeValidation(err: FastifyError): string {
  const first = err.validation?.[0];
  if (!first) return err.message;
  const params = first.params as Record<string, unknown> | undefined;
  const missing = typeof params?.missingProperty === 'string' ? `/${params.missingProperty}` : '';
  // A field name from the request: bounded, not echoed whole.
  const unknownField = typeof params?.additionalProperty === 'string' ? params.additionalProperty : undefined;
  const extra =
    unknownField === undefined
      ? ''
      : ` (unknown field "${unknownField.length > 64 ? `${unknownField.slice(0, 64)}…` : unknownField}")`;
  const field = `${first.instancePath || ''}${missing}` || '(body)';
  const where = err.validationContext && err.validationContext !== 'body' ? `${err.validationContext} ` : '';
  const pattern =
    first.keyword === 'pattern' && typeof params?.pattern === 'string' ? PATTERN_MEANINGS[params.pattern] : undefined;
  const message =
    first.keyword === 'required'
      ? 'is required'
      : first.keyword === 'additionalProperties'
        ? 'is not allowed'
        : first.keyword === 'minProperties'
          ? 'must name at least one field to change'
          : (pattern ?? first.message ?? 'is invalid');
  return `${where}${field} ${message}${extra}`.trim();
}

/** A 429 without a wait of its own (a framework or plugin limit) tells the client to come back after this many seconds. */
const DEFAULT_RETRY_AFTER_S = 60;

/**
 * Statuses that Fastify, Node's HTTP parser and plugins (static files) raise
 * by themselves, as our codes. Their own text is never sent: it may quote the
 * request (`'/api/v1/events/%ZZ' is not a valid url component`).
 */
const FRAMEWORK_STATUS: Record<number, { code: ErrorCode; message: string }> = {
  400: { code: 'BAD_REQUEST', message: 'The request could not be read' },
  401: { code: 'UNAUTHORIZED', message: 'Authentication required' },
  403: { code: 'FORBIDDEN', message: 'Forbidden' },
  404: { code: 'NOT_FOUND', message: 'Not found' },
  408: { code: 'REQUEST_TIMEOUT', message: 'The request did not arrive in time' },
  413: { code: 'PAYLOAD_TOO_LARGE', message: 'Request body is too large' },
  414: { code: 'URI_TOO_LONG', message: 'The URL, or a part of it, is too long' },
  415: { code: 'UNSUPPORTED_MEDIA_TYPE', message: 'Send application/json' },
  429: { code: 'RATE_LIMITED', message: 'Too many requests; slow down' },
  431: { code: 'HEADERS_TOO_LARGE', message: 'The request line or headers are too large' },
};

/** Fastify's and plugins' own error codes that need a better answer than their status alone gives. */
const FRAMEWORK_CODES: Record<string, { status: number; code: ErrorCode; message: string }> = {
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'INVALID_BODY', message: 'Malformed JSON body' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'INVALID_BODY', message: 'Malformed JSON body' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    status: 400,
    code: 'INVALID_BODY',
    message: 'Content-Length does not match the body',
  },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'PAYLOAD_TOO_LARGE', message: 'Request body is too large' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', message: 'Send application/json' },
  // gzip-body.ts: a body that says gzip and is not.
  Z_DATA_ERROR: { status: 400, code: 'INVALID_BODY', message: 'The body is not valid gzip' },
  Z_BUF_ERROR: { status: 400, code: 'INVALID_BODY', message: 'The body is not valid gzip' },
  FST_ERR_BAD_URL: { status: 400, code: 'BAD_REQUEST', message: 'The URL is not valid (malformed percent-encoding)' },
  FST_ERR_MAX_PARAM_LENGTH: { status: 414, code: 'URI_TOO_LONG', message: 'A part of the URL is too long' },
  // A path segment longer than a file name can be: no such file.
  FST_STATIC_FORBIDDEN_PATH: { status: 404, code: 'NOT_FOUND', message: 'Not found' },
};

/** The answer to an error raised by the framework, a plugin or the HTTP parser; null for a server fault (500). */
export function frameworkError(err: {
  code?: unknown;
  statusCode?: unknown;
}): { status: number; code: ErrorCode; message: string } | null {
  const known = typeof err.code === 'string' ? FRAMEWORK_CODES[err.code] : undefined;
  if (known) return known;
  const status = typeof err.statusCode === 'number' ? err.statusCode : 500;
  if (status < 400 || status >= 500) return null;
  // Any other client error is a request we could not read.
  return { status: FRAMEWORK_STATUS[status] ? status : 400, ...(FRAMEWORK_STATUS[status] ?? FRAMEWORK_STATUS[400]!) };
}

/**
 * Node's HTTP parser refused the request before Fastify saw it (headers too
 * large, a malformed request line or header, a request that never finished
 * arriving): answer in our shape on the raw socket, then close it. Fastify's
 * default answered `{"error":"Bad Request","message":"Client Error","statusCode":400}`.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Duplex, log?: FastifyBaseLogger): void {
  // The client reset the connection: nobody to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const { code, message } = FRAMEWORK_STATUS[status]!;
  const body = JSON.stringify({ error: code, message });
  log?.debug({ err }, 'client error');
  if (socket.writable) {
    const head = `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n`;
    socket.end(head + body, () => socket.destroy());
  } else {
    socket.destroy();
  }
}

/** Longer URLs are refused before anything else (414): ours are under 1,000 characters (a feed cursor is at most 512). */
export const MAX_URL_LENGTH = 2048;

export function installErrorHandling(app: FastifyInstance): void {
  // Before any handler and whatever route took it (the static files take every GET path no API route does).
  app.addHook('onRequest', async (request) => {
    if (request.url.length > MAX_URL_LENGTH)
      throw new DomainError('URI_TOO_LONG', `The URL is longer than ${MAX_URL_LENGTH} characters`);
  });
  app.setErrorHandler((thrown: FastifyError | DomainError | DatabaseError, request, reply) => {
    const err = thrown instanceof DatabaseError && thrown.unavailable ? databaseUnavailable() : thrown;
    if (err instanceof DomainError) {
      if (err.headers) reply.headers(err.headers);
      // Every 429 says when to come back, or clients retry at once (or never).
      if (err.status === 429 && !reply.hasHeader('retry-after'))
        reply.header('retry-after', String(DEFAULT_RETRY_AFTER_S));
      return reply.status(err.status).send({ error: err.code, message: err.message, ...(err.details ?? {}) });
    }
    if (err instanceof DatabaseError) {
      // The logger's `err` serializer keeps only what may be logged (server.ts): never a statement's parameters or values.
      request.log.error({ err, route: request.routeOptions.url }, 'database error');
      return reply.status(500).send({ error: 'INTERNAL', message: 'Internal error; it has been logged' });
    }
    if (err.validation) {
      return reply.status(400).send({ error: 'INVALID_BODY', message: describeValidation(err) });
    }
    const known = frameworkError(err);
    if (known) {
      // A 429 without a wait of its own (a framework or plugin limit) still says when to come back.
      if (known.status === 429 && !reply.hasHeader('retry-after'))
        reply.header('retry-after', String(DEFAULT_RETRY_AFTER_S));
      return reply.status(known.status).send({ error: known.code, message: known.message });
    }
    request.log.error({ err, route: request.routeOptions.url }, 'unhandled error');
    return reply.status(500).send({ error: 'INTERNAL', message: 'Internal error; it has been logged' });
  });
  app.setNotFoundHandler((_request, reply) => {
    reply.status(404).send({ error: 'NOT_FOUND', message: 'No such route; the API is described at /docs' });
  });
}

/** Fastify's `frameworkErrors`: a URL it could not route (bad percent-encoding, a parameter over maxParamLength), in our shape. */
export function frameworkErrors(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const known = frameworkError(err);
  if (!known) request.log.error({ err }, 'framework error');
  const answer = known ?? { status: 500, code: 'INTERNAL', message: 'Internal error; it has been logged' };
  void reply.status(answer.status).send({ error: answer.code, message: answer.message });
}
