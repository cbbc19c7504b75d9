import { createGunzip, gzip } from 'node:zlib';
import { promisify } from 'node:util';
import { Type } from 'typebox';
import {
  ConflictListQuery,
  ConflictPage,
  ConflictView,
  DeviceLogImport,
  DeviceLogImportResponse,
  EscalateConflictBody,
  FeedPage,
  ManifestResponse,
  MAX_IMPORT_SCANS,
  MAX_SYNC_BYTES,
  OfflineHealthResponse,
  ReconcileBody,
  ReconcileResponse,
  ResolveConflictBody,
  SyncBody,
  SyncResponse,
  SyncStatusResponse,
  Text,
  Uuid,
} from '@entrada/core';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DomainError, invalid, notFound } from '../services/errors.ts';
import { gunzipRequestBody } from '../http/gzip-body.ts';
import type { Services } from '../services/container.ts';
import { assertDeviceEvent } from '../services/device-service.ts';
import type { EventContext } from '../services/event-context.ts';
import { ManifestNotWantedError } from '../services/sync/manifest-service.ts';
import type { DeviceRecord } from '../store/devices.ts';

const gzipAsync = promisify(gzip);
const EventParams = Type.Object({ eventId: Uuid });
/** Query strings are not coerced: a number is 1 to `n` digits (the handler checks its range). */
const Digits = (n: number) => Text({ maxLength: n, pattern: `^[0-9]{1,${n}}$` });

/** Large read-only answers (manifest, feed) are gzipped when the client accepts it. */
async function sendJson(request: FastifyRequest, reply: FastifyReply, body: FeedPage): Promise<FastifyReply> {
  const json = JSON.stringify(body);
  reply
    .header('content-type', 'application/json; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('vary', 'accept-encoding');
  if (json.length > 1024 && acceptsGzip(request)) {
    return reply.header('content-encoding', 'gzip').send(await gzipAsync(json, { level: 6 }));
  }
  return reply.send(json);
}

const acceptsGzip = (request: FastifyRequest): boolean =>
  /\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''));

/** A body kept gzipped (the manifest), sent as is or, to the rare client that does not take gzip, unzipped on the way out. */
function sendGzipped(request: FastifyRequest, reply: FastifyReply, body: Buffer): FastifyReply {
  reply
    .header('content-type', 'application/json; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('vary', 'accept-encoding');
  if (acceptsGzip(request)) return reply.header('content-encoding', 'gzip').send(body);
  // Streamed: a second, unzipped copy (~45 times larger) is never held.
  return reply.send(createGunzip().end(body));
}

const BusyBody = Type.Object(
  {
    error: Type.Literal('BUSY'),
    message: Type.String(),
    retry_after_s: Type.Optional(Type.Integer({ description: 'As Retry-After' })),
  },
  {
    description:
      'BUSY: too many manifest builds are waiting on this instance. Come back after Retry-After (whole seconds, jittered ' +
      'so devices turned away together do not return together); a cached manifest is still served while builds queue.',
    headers: { 'retry-after': { type: 'integer', description: 'Seconds to wait before asking again' } },
  },
);

export const offlineRoutes =
  (s: Services): FastifyPluginAsyncTypebox =>
  async (app) => {
    const tags = ['offline'];
    const eventFor = async (organisationId: string, eventId: string): Promise<EventContext> => {
      const ctx = await s.contexts.get(eventId);
      if (!ctx || ctx.event.organisationId !== organisationId) throw notFound('Event');
      return ctx;
    };
    /** An event of the caller's organisation that, for a device, is one of the events it may use. */
    const eventOf = async (
      who: { admin: { organisationId: string } } | { device: DeviceRecord },
      eventId: string,
    ): Promise<EventContext> => {
      if ('admin' in who) return eventFor(who.admin.organisationId, eventId);
      const ctx = await eventFor(who.device.organisationId, eventId);
      assertDeviceEvent(who.device, eventId);
      return ctx;
    };

    app.get(
      '/api/v1/offline/manifest/:eventId',
      {
        config: { auth: 'device' },
        schema: {
          tags,
          summary: 'Everything a device needs to decide offline; with since=CURSOR only what changed',
          description:
            'With `since`, only the tickets changed since that cursor (`full: false`) — unless that is more than a quarter of the ' +
            "event's tickets (and over 1,000): then the full manifest (`full: true`), which replaces the device's copy. " +
            '503 `BUSY` with Retry-After when too many manifest builds are waiting.',
          params: EventParams,
          querystring: Type.Object({
            device_id: Type.Optional(Text({ maxLength: 64 })),
            since: Type.Optional(Text({ maxLength: 512 })),
          }),
          // Documentation and types: the body is sent as prepared (gzipped) bytes, never through a serializer.
          response: { 200: ManifestResponse, 503: BusyBody },
        },
      },
      async (req, reply) => {
        const device = req.device;
        if (!req.query.device_id)
          throw new DomainError('MISSING_DEVICE_ID', 'device_id query parameter is required', { success: false });
        if (req.query.device_id !== device.deviceId)
          throw new DomainError('FORBIDDEN', 'device_id does not match the device token');
        const ctx = await eventOf({ device }, req.params.eventId);
        // While it waits for a build slot: has the device given up (its request budget ran out)? Then it is not built for it.
        const stillWaiting = (): boolean => !(req.raw.destroyed || req.raw.socket?.destroyed);
        try {
          return sendGzipped(req, reply, (await s.sync.manifest.answer(ctx, req.query.since, stillWaiting)).gzip);
        } catch (err) {
          if (err instanceof ManifestNotWantedError) {
            // The device gave up waiting (its request budget ran out) and closed the request: there is nobody to answer.
            reply.hijack();
            reply.raw.destroy();
            return reply;
          }
          throw err;
        }
      },
    );

    app.post(
      '/api/v1/offline/sync',
      {
        config: { auth: 'device' },
        bodyLimit: MAX_SYNC_BYTES,
        preParsing: gunzipRequestBody,
        schema: {
          tags,
          summary:
            'Upload offline scans (idempotent per device and seq, or per device, qrcode and scanned_at without one); every scan is stored whatever its verdict',
          description:
            "Seed 001's shape: `seq` may be left out by a device registered without a public key. The summary keeps seed 001's arithmetic " +
            '(successful + duplicates + failed = total_uploaded; conflicts are counted in failed and broken down in `conflicts`). A failed upload ' +
            'is recorded as a `failed` sync session with its error message.',
          body: SyncBody,
          response: { 200: SyncResponse },
        },
      },
      async (req) => {
        const device = req.device;
        try {
          return await s.sync.uploads.upload({ device, body: req.body });
        } catch (err) {
          // Every failed upload becomes a `failed` sync session with its message (seed 001); best effort.
          await s.sync.recordUploadFailure(device, req.body, err).catch(() => undefined);
          throw err;
        }
      },
    );

    app.post(
      '/api/v1/offline/reconcile',
      {
        config: { auth: 'device' },
        bodyLimit: MAX_SYNC_BYTES,
        preParsing: gunzipRequestBody,
        schema: {
          tags,
          summary: 'Seed 000 reconciliation for existing scanner clients (same engine as sync)',
          description:
            "Answered per scan, in request order: an unknown or malformed ticket_id, or an unusable scanned_at, is that scan's `ERROR`; " +
            'the same scan (ticket, scan time) twice in one call is `DUPLICATE` the second time.',
          body: ReconcileBody,
          response: { 200: ReconcileResponse },
        },
      },
      async (req) => {
        const device = req.device;
        if (req.body.scans.length > 5000)
          throw new DomainError('PAYLOAD_TOO_LARGE', 'At most 5000 scans per call; nothing was applied');
        return s.sync.legacy.reconcile(device, req.body);
      },
    );

    app.post(
      '/api/v1/offline/import',
      {
        config: { auth: 'admin', role: 'supervisor' },
        // 100,000 scans with long signed codes.
        bodyLimit: 64 * 1024 * 1024,
        preParsing: gunzipRequestBody,
        schema: {
          tags,
          summary: 'Import the exported scan log of a device that never reconnected (organisers; idempotent)',
          body: DeviceLogImport,
          response: { 200: DeviceLogImportResponse },
        },
      },
      async (req) => {
        const admin = req.admin;
        if (req.body.scans.length > MAX_IMPORT_SCANS)
          throw new DomainError('PAYLOAD_TOO_LARGE', `At most ${MAX_IMPORT_SCANS} scans per file; nothing was applied`);
        return s.sync.imports.importLog(admin.organisationId, req.body);
      },
    );

    app.get(
      '/api/v1/offline/sync/status/:eventId/:deviceId',
      {
        config: { auth: 'admin-or-device', role: 'viewer' },
        schema: {
          tags,
          summary:
            'Sync state of one device at one event (the device itself, or organisers); last_sync null before its first sync',
          params: Type.Object({ eventId: Uuid, deviceId: Text({ maxLength: 64 }) }),
          response: { 200: SyncStatusResponse },
        },
      },
      async (req) => {
        const who = req.principal;
        if ('device' in who && who.device.deviceId !== req.params.deviceId)
          throw new DomainError('FORBIDDEN', 'A device may read only its own sync status');
        const ctx = await eventOf(who, req.params.eventId);
        const [health] = await s.sync.deviceHealth(ctx, req.params.deviceId);
        if (!health) throw notFound('Device sync state');
        return s.sync.status(ctx, health);
      },
    );

    app.get(
      '/api/v1/offline/events',
      {
        config: { auth: 'admin-or-device', role: 'viewer' },
        schema: {
          tags,
          summary: 'Download feed: changes at an event since a cursor, commit-ordered, in pages',
          querystring: Type.Object({
            event_id: Uuid,
            since: Type.Optional(Text({ maxLength: 512 })),
            limit: Type.Optional(Digits(5)),
            only: Type.Optional(
              Type.Literal('double_entries', {
                description:
                  "Scanner devices: only other devices' scans ruled conflicts on tickets this device admitted, and this device's own scans " +
                  'whose verdict changed after upload (a scan that lost when an earlier scan arrived later; ticket states come with manifest deltas)',
              }),
            ),
          }),
          // Documentation and types: the page is sent as prepared JSON text (gzipped when large), never through a serializer.
          response: { 200: FeedPage },
        },
      },
      async (req, reply) => {
        const who = req.principal;
        const limit = Number(req.query.limit ?? 1000);
        if (limit < 1 || limit > 5000) throw invalid('limit must be between 1 and 5000');
        const ctx = await eventOf(who, req.query.event_id);
        return sendJson(
          req,
          reply,
          await s.sync.feed.page(ctx, {
            since: req.query.since,
            limit,
            excludeDevicePk: 'device' in who ? who.device.pk : null,
            doubleEntries: req.query.only === 'double_entries',
          }),
        );
      },
    );

    app.get(
      '/api/v1/events/:eventId/conflicts',
      {
        config: { auth: 'admin', role: 'viewer' },
        schema: {
          tags,
          summary:
            'Conflicts: double entries and quarantined scans awaiting review (filtered, in pages: cursor = next_cursor)',
          params: EventParams,
          querystring: ConflictListQuery,
          response: { 200: ConflictPage },
        },
      },
      async (req) => s.sync.conflicts.page(req.admin.organisationId, req.params.eventId, req.query),
    );

    app.post(
      '/api/v1/offline/conflicts/escalate',
      {
        config: { auth: 'device' },
        schema: {
          tags,
          summary:
            "Gate staff escalate one of this device's open conflicts to the organisers, with a note (flagged in the conflicts list)",
          body: EscalateConflictBody,
          response: { 200: ConflictView },
        },
      },
      async (req) => s.sync.conflicts.escalate(req.device, req.body),
    );

    app.post(
      '/api/v1/conflicts/:id/resolve',
      {
        config: { auth: 'admin', role: 'supervisor' },
        schema: {
          tags,
          summary: 'Resolve a conflict: legitimate (accept the admission), fraud or dismissed',
          params: Type.Object({ id: Uuid }),
          body: ResolveConflictBody,
          response: { 200: ConflictView },
        },
      },
      async (req) => {
        const admin = req.admin;
        return s.sync.conflicts.resolve(admin.organisationId, admin.actor, req.params.id, req.body);
      },
    );

    app.get(
      '/api/v1/events/:eventId/offline-health',
      {
        config: { auth: 'admin', role: 'viewer' },
        schema: {
          tags,
          summary: 'Offline metrics and alerts: gaps, conflicts, silent devices, sync failures',
          params: EventParams,
          response: { 200: OfflineHealthResponse },
        },
      },
      async (req) => {
        const admin = req.admin;
        return s.sync.offlineHealth(await eventFor(admin.organisationId, req.params.eventId));
      },
    );
  };
