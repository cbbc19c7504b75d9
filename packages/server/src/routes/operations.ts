import { Readable } from 'node:stream';
import { Type } from 'typebox';
import { BulkResolveBody, BulkResolveResponse, ScanExportQuery, ScanLogPage, ScanLogQuery, Uuid } from '@entrada/core';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Services } from '../services/container.ts';

const EventParams = Type.Object({ eventId: Uuid });

/** Live operations (issue 13 §4): the scan log, its CSV export, and resolving conflicts in bulk. */
export const operationsRoutes =
  (s: Services): FastifyPluginAsyncTypebox =>
  async (app) => {
    const tags = ['operations'];

    app.get(
      '/api/v1/events/:eventId/scans',
      {
        config: { auth: 'admin', role: 'viewer' },
        schema: {
          tags,
          params: EventParams,
          querystring: ScanLogQuery,
          response: { 200: ScanLogPage },
          summary:
            'The scan log: every scan, newest first, filtered, in pages (cursor = next_cursor); device time and upload time side by side, no codes',
        },
      },
      async (req) => s.scanLog.page(req.admin.organisationId, req.params.eventId, req.query),
    );

    app.get(
      '/api/v1/events/:eventId/scans.csv',
      {
        config: { auth: 'admin', role: 'viewer' },
        schema: {
          tags,
          params: EventParams,
          querystring: ScanExportQuery,
          summary:
            "The scan log as CSV (same filters), streamed; times in the event's time zone with their offset; cells safe from spreadsheet formulas",
        },
      },
      async (req, reply) => {
        const file = await s.scanLog.export(req.admin.organisationId, req.params.eventId, req.query);
        return reply
          .header('content-type', 'text/csv; charset=utf-8')
          .header('cache-control', 'no-store')
          .header('content-disposition', `attachment; filename="${file.filename}"`)
          .send(Readable.from(file.chunks, { objectMode: false, highWaterMark: 1 }));
      },
    );

    app.post(
      '/api/v1/events/:eventId/conflicts/resolve',
      {
        config: { auth: 'admin', role: 'supervisor' },
        schema: {
          tags,
          params: EventParams,
          body: BulkResolveBody,
          response: { 200: BulkResolveResponse },
          summary:
            'Resolve several conflicts at once, all or none: one id that is not an open conflict of the event refuses the batch (named as conflict_ids/<index>)',
        },
      },
      async (req) => ({
        conflicts: await s.sync.conflicts.resolveMany(
          req.admin.organisationId,
          req.admin.actor,
          req.params.eventId,
          req.body.conflict_ids,
          req.body,
        ),
      }),
    );
  };
