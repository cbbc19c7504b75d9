import { Type } from 'typebox';
import { Uuid } from '@entrada/core';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Services } from '../services/container.ts';

const EventParams = Type.Object({ eventId: Uuid });

/**
 * The organisers' live stream (Server-Sent Events). The service checks the
 * caller and the stream limit before anything is written (errors are ordinary
 * JSON answers); then the response is handed to it as a sink.
 */
export const liveRoutes =
  (s: Services): FastifyPluginAsyncTypebox =>
  async (app) => {
    // Open streams would hold the server's close until their clients left: they end first.
    app.addHook('preClose', async () => s.live.close());

    app.get(
      '/api/v1/events/:eventId/live',
      {
        config: { auth: 'admin', role: 'viewer' },
        schema: {
          tags: ['live'],
          params: EventParams,
          summary:
            'Live stream of the event (text/event-stream): occupancy, rate, scan, device, conflict and alert messages; send Last-Event-ID to resume',
        },
      },
      async (req, reply) => {
        const lastEventId = req.headers['last-event-id'];
        const live = await s.live.admit(req.admin, req.params.eventId);
        reply.hijack();
        const res = reply.raw;
        res.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-store',
          // nginx and similar proxies must pass each message on at once.
          'x-accel-buffering': 'no',
          'x-content-type-options': 'nosniff',
          // A stream's connection is never reused: when the stream ends (shutdown too) the socket goes with it.
          connection: 'close',
        });
        res.socket?.setNoDelay(true);
        const stop = live.start(
          {
            write: (text) => {
              res.write(text);
            },
            buffered: () => res.writableLength,
            onDrain: (listener) => {
              res.on('drain', listener);
            },
            // Ended (shutdown, a revoked session): the socket goes too, whatever the client does; it reconnects and
            // resumes from its Last-Event-ID, so an unflushed tail is not lost.
            end: () => {
              res.end();
              res.destroy();
            },
          },
          typeof lastEventId === 'string' ? lastEventId : undefined,
        );
        res.on('close', stop);
      },
    );
  };
