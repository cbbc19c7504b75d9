import type { FastifyPluginAsync } from 'fastify';
import type { Services } from '../services/container.ts';

/** The client's connectivity probe: cheap, unauthenticated, says whether the database answers. */
export const healthRoutes = (s: Services): FastifyPluginAsync => async (app) => {
  app.get('/api/health', { config: { auth: 'none' }, schema: { tags: ['health'], summary: 'Liveness and database reachability' } }, async (_req, reply) => {
    let db: 'ok' | 'down' = 'ok';
    try {
      await s.db.query('SELECT 1', [], { name: 'health' });
    } catch {
      db = 'down';
    }
    reply.header('cache-control', 'no-store');
    return reply.status(db === 'ok' ? 200 : 503).send({ status: db === 'ok' ? 'ok' : 'degraded', db, version: s.version, time: new Date(s.now()).toISOString() });
  });
};
