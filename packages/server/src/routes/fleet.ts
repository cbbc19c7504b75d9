import { Type } from 'typebox';
import {
  AlertList,
  AlertListQuery,
  AlertView,
  DeviceHistory,
  FleetHealth,
  HeartbeatAck,
  HeartbeatBody,
  Text,
  Uuid,
} from '@entrada/core';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { callerOf } from '../services/audit.ts';
import type { Services } from '../services/container.ts';
import { notFound } from '../services/errors.ts';
import type { EventContext } from '../services/event-context.ts';

const EventParams = Type.Object({ eventId: Uuid });

/** Scanner heartbeats, the fleet table and alerts (issue 13 §2–3). */
export const fleetRoutes =
  (s: Services): FastifyPluginAsyncTypebox =>
  async (app) => {
    const eventFor = async (organisationId: string, eventId: string): Promise<EventContext> => {
      const ctx = await s.contexts.get(eventId);
      if (!ctx || ctx.event.organisationId !== organisationId) throw notFound('Event');
      return ctx;
    };

    app.post(
      '/api/v1/devices/heartbeat',
      {
        config: { auth: 'device' },
        schema: {
          tags: ['devices'],
          body: HeartbeatBody,
          summary:
            "A scanner's heartbeat: every 30 s while online and with each sync (pending scans, battery, gate, staff, app version)",
          response: { 200: HeartbeatAck },
        },
      },
      async (req) => s.fleet.heartbeat(req.device, req.body),
    );

    app.get(
      '/api/v1/events/:eventId/devices/health',
      {
        config: { auth: 'admin', role: 'viewer' },
        schema: {
          tags: ['devices'],
          params: EventParams,
          summary:
            "The event's fleet: per device online (heartbeat within 90 s), gate, staff, pending scans, upload lag, gaps, clock, battery, sync failures and open alerts",
          response: { 200: FleetHealth },
        },
      },
      async (req) => {
        const ctx = await eventFor(req.admin.organisationId, req.params.eventId);
        const alerts = await s.alerts.openByDevice(ctx);
        return {
          event_id: ctx.event.id,
          timezone: ctx.event.timezone,
          generated_at: new Date(s.now()).toISOString(),
          devices: await s.fleet.health(ctx, (pk) => alerts.get(pk) ?? []),
        };
      },
    );

    app.get(
      '/api/v1/events/:eventId/devices/:deviceId/history',
      {
        config: { auth: 'admin', role: 'viewer' },
        schema: {
          tags: ['devices'],
          params: Type.Object({ eventId: Uuid, deviceId: Text({ minLength: 1, maxLength: 64 }) }),
          summary: 'One device at the event: its sync sessions, staff logins (never a PIN) and latest scans (no codes)',
          response: { 200: DeviceHistory },
        },
      },
      async (req) => {
        const ctx = await eventFor(req.admin.organisationId, req.params.eventId);
        const { device_pk: _pk, ...detail } = await s.fleet.deviceDetail(ctx, req.params.deviceId);
        return detail;
      },
    );

    app.get(
      '/api/v1/events/:eventId/alerts',
      {
        config: { auth: 'admin', role: 'viewer' },
        schema: {
          tags: ['alerts'],
          params: EventParams,
          querystring: AlertListQuery,
          summary: "The event's alerts: open ones, or with state=all the latest 500",
          response: { 200: AlertList },
        },
      },
      async (req) => {
        const ctx = await eventFor(req.admin.organisationId, req.params.eventId);
        return { alerts: await s.alerts.list(ctx, req.query.state ?? 'open') };
      },
    );

    app.post(
      '/api/v1/alerts/:id/acknowledge',
      {
        config: { auth: 'admin', role: 'supervisor' },
        schema: {
          tags: ['alerts'],
          params: Type.Object({ id: Uuid }),
          summary: 'Acknowledge an alert (audited); it stays open until its condition ends',
          response: { 200: AlertView },
        },
      },
      async (req) => s.alerts.acknowledge(callerOf(req.admin), req.params.id),
    );
  };
