import type { FastifyRequest } from 'fastify';
import { SESSION_COOKIE, type RequestInfo } from '../services/auth.ts';

export function requestInfo(req: FastifyRequest): RequestInfo {
  const csrf = req.headers['x-csrf-token'];
  return {
    authorization: req.headers.authorization,
    ip: req.ip,
    userAgent: req.headers['user-agent'],
    method: req.method,
    sessionToken: cookieValue(req.headers.cookie, SESSION_COOKIE),
    csrfToken: Array.isArray(csrf) ? csrf[0] : csrf,
  };
}

/** One cookie's value from a Cookie header (the first of that name), or undefined. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== name) continue;
    const value = part.slice(eq + 1).trim();
    return value === '' ? undefined : value;
  }
  return undefined;
}
