import { Type } from 'typebox';
import {
  AuditPage,
  AuditQuery,
  CreateEventBody,
  CreateGateBody,
  CreateTicketTypeBody,
  CreateZoneBody,
  EventChanged,
  EventDetail,
  EventList,
  EventSummary,
  GateView,
  NewGateView,
  NoContent,
  OccupancyResponse,
  TicketTypeView,
  UpdateEventBody,
  UpdateGateBody,
  UpdateTicketTypeBody,
  UpdateZoneBody,
  Uuid,
  ZoneView,
} from '@entrada/core';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { invalid } from '../services/errors.ts';
import { callerOf } from '../services/audit.ts';
import type { Services } from '../services/container.ts';
import type { EventContext } from '../services/event-context.ts';
import type { EventRow, ZoneRow } from '../store/events.ts';

const zoneView = (z: ZoneRow): ZoneView => ({
  id: z.id,
  name: z.name,
  capacity: z.capacity,
  capacity_mode: z.capacityMode,
});

const EventParams = Type.Object({ eventId: Uuid });
const ZoneParams = Type.Object({ eventId: Uuid, zoneId: Uuid });
const GateParams = Type.Object({ eventId: Uuid, gateId: Uuid });
const TypeParams = Type.Object({ eventId: Uuid, typeId: Uuid });
const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function eventSummary(e: EventRow): EventSummary {
  const at = (ms: number): string => new Date(ms).toISOString();
  return {
    id: e.id,
    name: e.name,
    starts_at: at(e.startsAt),
    ends_at: at(e.endsAt),
    timezone: e.timezone,
    settings: e.settings,
    created_at: at(e.createdAt),
  };
}

export function eventDetail(ctx: EventContext): EventDetail {
  return {
    ...eventSummary(ctx.event),
    zones: [...ctx.zones.values()].map(zoneView),
    gates: [...ctx.gates.values()].map((g) => ({
      id: g.id,
      name: g.name,
      zone_ids: g.zoneIds,
      closed: (g.closedAt ?? null) !== null,
      closed_at: iso(g.closedAt ?? null),
    })),
    ticket_types: [...ctx.types.values()].map((t) => ({
      id: t.id,
      name: t.name,
      zone_ids: t.zoneIds,
      max_scans: t.maxScans,
      allow_reentry: t.allowReentry,
      valid_from: iso(t.validFrom),
      valid_until: iso(t.validUntil),
    })),
    keys: [...ctx.publicKeys.entries()].map(([keyId, pk]) => ({
      key_id: keyId,
      public_key: Buffer.from(pk).toString('base64url'),
      active: keyId === ctx.activeKeyId,
    })),
  };
}

export const eventRoutes =
  (s: Services): FastifyPluginAsyncTypebox =>
  async (app) => {
    const tags = ['events'];
    app.post(
      '/api/v1/events',
      {
        config: { auth: 'admin', role: 'manager' },
        schema: { tags, summary: 'Create an event', body: CreateEventBody, response: { 201: EventSummary } },
      },
      async (req, reply) => {
        const admin = req.admin;
        const event = await s.events.create(admin.organisationId, req.body, admin.actor);
        return reply.status(201).send(eventSummary(event));
      },
    );

    app.get(
      '/api/v1/events',
      {
        config: { auth: 'admin', role: 'viewer' },
        schema: { tags, summary: "List the organisation's events", response: { 200: EventList } },
      },
      async (req) => {
        const admin = req.admin;
        return { events: (await s.events.list(admin.organisationId)).map(eventSummary) };
      },
    );

    app.get(
      '/api/v1/events/:eventId',
      {
        config: { auth: 'admin', role: 'viewer' },
        schema: {
          tags,
          summary: 'An event with its zones, gates, ticket types and public keys',
          params: EventParams,
          response: { 200: EventDetail },
        },
      },
      async (req) => {
        const admin = req.admin;
        return eventDetail(await s.events.get(admin.organisationId, req.params.eventId));
      },
    );

    app.post(
      '/api/v1/events/:eventId/zones',
      {
        config: { auth: 'admin', role: 'manager' },
        schema: { tags, summary: 'Add a zone', params: EventParams, body: CreateZoneBody, response: { 201: ZoneView } },
      },
      async (req, reply) => {
        const admin = req.admin;
        return reply
          .status(201)
          .send(zoneView(await s.events.addZone(admin.organisationId, req.params.eventId, req.body, admin.actor)));
      },
    );

    app.post(
      '/api/v1/events/:eventId/gates',
      {
        config: { auth: 'admin', role: 'manager' },
        schema: {
          tags,
          summary: 'Add a gate admitting to zones',
          params: EventParams,
          body: CreateGateBody,
          response: { 201: NewGateView },
        },
      },
      async (req, reply) => {
        const admin = req.admin;
        const gate = await s.events.addGate(admin.organisationId, req.params.eventId, req.body, admin.actor);
        return reply.status(201).send({ id: gate.id, name: gate.name, zone_ids: gate.zoneIds });
      },
    );

    app.post(
      '/api/v1/events/:eventId/ticket-types',
      {
        config: { auth: 'admin', role: 'manager' },
        schema: {
          tags,
          summary: 'Add a ticket type',
          params: EventParams,
          body: CreateTicketTypeBody,
          response: { 201: TicketTypeView },
        },
      },
      async (req, reply) => {
        const admin = req.admin;
        const t = await s.events.addTicketType(admin.organisationId, req.params.eventId, req.body, admin.actor);
        return reply.status(201).send({
          id: t.id,
          name: t.name,
          zone_ids: t.zoneIds,
          max_scans: t.maxScans,
          allow_reentry: t.allowReentry,
          valid_from: iso(t.validFrom),
          valid_until: iso(t.validUntil),
        });
      },
    );

    app.patch(
      '/api/v1/events/:eventId',
      {
        config: { auth: 'admin', role: 'manager' },
        schema: {
          tags,
          summary: 'Change an event (name, times, time zone, settings)',
          params: EventParams,
          body: UpdateEventBody,
          response: { 200: EventChanged },
        },
      },
      async (req) => {
        return s.setup.updateEvent(callerOf(req.admin), req.params.eventId, req.body);
      },
    );

    app.delete(
      '/api/v1/events/:eventId',
      {
        config: { auth: 'admin', role: 'manager' },
        schema: {
          tags,
          summary: 'Delete an event with no tickets, scans, pairing codes or uploads (409 names them)',
          params: EventParams,
          response: { 204: NoContent },
        },
      },
      async (req, reply) => {
        await s.setup.deleteEvent(callerOf(req.admin), req.params.eventId);
        return reply.status(204).send(null);
      },
    );

    app.patch(
      '/api/v1/events/:eventId/zones/:zoneId',
      {
        config: { auth: 'admin', role: 'manager' },
        schema: {
          tags,
          summary: 'Change a zone (name, capacity)',
          params: ZoneParams,
          body: UpdateZoneBody,
          response: { 200: ZoneView },
        },
      },
      async (req) => {
        return s.setup.updateZone(callerOf(req.admin), req.params.eventId, req.params.zoneId, req.body);
      },
    );

    app.delete(
      '/api/v1/events/:eventId/zones/:zoneId',
      {
        config: { auth: 'admin', role: 'manager' },
        schema: {
          tags,
          summary: 'Delete a zone no gate or ticket type names (409 names them)',
          params: ZoneParams,
          response: { 204: NoContent },
        },
      },
      async (req, reply) => {
        await s.setup.deleteZone(callerOf(req.admin), req.params.eventId, req.params.zoneId);
        return reply.status(204).send(null);
      },
    );

    app.patch(
      '/api/v1/events/:eventId/gates/:gateId',
      {
        config: { auth: 'admin', role: 'manager' },
        schema: {
          tags,
          summary: 'Change a gate (name, zones, closed)',
          params: GateParams,
          body: UpdateGateBody,
          response: { 200: GateView },
        },
      },
      async (req) => {
        return s.setup.updateGate(callerOf(req.admin), req.params.eventId, req.params.gateId, req.body, s.now());
      },
    );

    app.delete(
      '/api/v1/events/:eventId/gates/:gateId',
      {
        config: { auth: 'admin', role: 'manager' },
        schema: {
          tags,
          summary: 'Delete a gate never scanned at (409 names what uses it; close it instead)',
          params: GateParams,
          response: { 204: NoContent },
        },
      },
      async (req, reply) => {
        await s.setup.deleteGate(callerOf(req.admin), req.params.eventId, req.params.gateId);
        return reply.status(204).send(null);
      },
    );

    app.patch(
      '/api/v1/events/:eventId/ticket-types/:typeId',
      {
        config: { auth: 'admin', role: 'manager' },
        schema: {
          tags,
          summary:
            'Change a ticket type (name, zones, max scans, re-entry, validity); devices get it with their next manifest',
          params: TypeParams,
          body: UpdateTicketTypeBody,
          response: { 200: TicketTypeView },
        },
      },
      async (req) => {
        return s.setup.updateTicketType(callerOf(req.admin), req.params.eventId, req.params.typeId, req.body);
      },
    );

    app.delete(
      '/api/v1/events/:eventId/ticket-types/:typeId',
      {
        config: { auth: 'admin', role: 'manager' },
        schema: {
          tags,
          summary: 'Delete a ticket type without tickets (409 says how many)',
          params: TypeParams,
          response: { 204: NoContent },
        },
      },
      async (req, reply) => {
        await s.setup.deleteTicketType(callerOf(req.admin), req.params.eventId, req.params.typeId);
        return reply.status(204).send(null);
      },
    );

    app.get(
      '/api/v1/events/:eventId/audit',
      {
        config: { auth: 'admin', role: 'viewer' },
        schema: {
          tags,
          summary: 'Who changed what in the event, oldest first, in pages (cursor = next_cursor of the previous page)',
          params: EventParams,
          querystring: AuditQuery,
          response: { 200: AuditPage },
        },
      },
      async (req) => {
        const limit = Number(req.query.limit ?? 100);
        if (limit < 1 || limit > 500) throw invalid('limit must be between 1 and 500');
        const page = await s.audit.eventPage(req.admin.organisationId, req.params.eventId, req.query.cursor, limit);
        return {
          entries: page.entries.map((e) => ({
            id: e.id,
            event_id: e.eventId,
            actor: e.actor,
            actor_name: e.actorName,
            action: e.action,
            subject_kind: e.subjectKind,
            subject_id: e.subjectId,
            before: e.before,
            after: e.after,
            at: new Date(e.at).toISOString(),
          })),
          next_cursor: page.nextCursor,
        };
      },
    );

    app.get(
      '/api/v1/events/:eventId/occupancy',
      {
        config: { auth: 'admin', role: 'viewer' },
        schema: {
          tags,
          summary: 'People inside and admitted, in total, per zone and per gate',
          params: EventParams,
          response: { 200: OccupancyResponse },
        },
      },
      async (req) => {
        const admin = req.admin;
        const ctx = await s.events.get(admin.organisationId, req.params.eventId);
        return s.occupancy(ctx);
      },
    );
  };
