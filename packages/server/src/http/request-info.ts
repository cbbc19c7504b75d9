import type { FastifyRequest } from 'fastify';
import type { RequestInfo } from '../services/auth.ts';

export function requestInfo(req: FastifyRequest): RequestInfo {
  return { authorization: req.headers.authorization, ip: req.ip, userAgent: req.headers['user-agent'] };
}
