import { ApiErrorBody, HealthResponse } from '@entrada/core';
import { Type } from 'typebox';
import type { FastifyPluginAsync } from 'fastify';
import { databaseUnavailable } from '../services/errors.ts';
import type { Services } from '../services/container.ts';

/**
 * The client's connectivity probe: cheap, unauthenticated, says whether the
 * database answers. While it does not: 503 with Retry-After, in the error
 * shape (`DATABASE_UNAVAILABLE`) besides the status fields.
 */
export const healthRoutes =
  (s: Services): FastifyPluginAsync =>
  async (app) => {
    app.get(
      '/api/health',
      {
        config: { auth: 'none' },
        schema: {
          tags: ['health'],
          summary: 'Liveness and database reachability',
          response: { 200: HealthResponse, 503: Type.Intersect([HealthResponse, ApiErrorBody]) },
        },
      },
      async (_req, reply) => {
        let up = true;
        try {
          await s.ping();
        } catch {
          up = false;
        }
        reply.header('cache-control', 'no-store');
        const status: HealthResponse = {
          status: up ? 'ok' : 'degraded',
          db: up ? 'ok' : 'down',
          version: s.version,
          time: new Date(s.now()).toISOString(),
        };
        if (up) return reply.status(200).send(status);
        const down = databaseUnavailable();
        // DATABASE_UNAVAILABLE is a 503 (the status this route declares).
        return reply
          .status(503)
          .headers(down.headers ?? {})
          .send({ ...status, error: down.code, message: down.message, ...down.details });
      },
    );
  };
