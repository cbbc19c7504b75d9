import { Type } from 'typebox';
import { CreateEventBody, CreateGateBody, CreateTicketTypeBody, CreateZoneBody, Uuid } from '@entrada/core';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Services } from '../services/container.ts';
import type { EventContext } from '../services/event-context.ts';
import { computeOccupancy } from '../services/occupancy-service.ts';
import type { EventRow } from '../store/events.ts';

const EventParams = Type.Object({ eventId: Uuid });
const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function eventSummary(e: EventRow): Record<string, unknown> {
  return { id: e.id, name: e.name, starts_at: iso(e.startsAt), ends_at: iso(e.endsAt), timezone: e.timezone, settings: e.settings, created_at: iso(e.createdAt) };
}

export function eventDetail(ctx: EventContext): Record<string, unknown> {
  return {
    ...eventSummary(ctx.event),
    zones: [...ctx.zones.values()],
    gates: [...ctx.gates.values()].map((g) => ({ id: g.id, name: g.name, zone_ids: g.zoneIds })),
    ticket_types: [...ctx.types.values()].map((t) => ({
      id: t.id, name: t.name, zone_ids: t.zoneIds, max_scans: t.maxScans, allow_reentry: t.allowReentry,
      valid_from: iso(t.validFrom), valid_until: iso(t.validUntil),
    })),
    keys: [...ctx.publicKeys.entries()].map(([keyId, pk]) => ({ key_id: keyId, public_key: Buffer.from(pk).toString('base64url'), active: keyId === ctx.activeKeyId })),
  };
}

export const eventRoutes = (s: Services): FastifyPluginAsyncTypebox => async (app) => {
  const tags = ['events'];
  app.post('/api/v1/events', { config: { auth: 'admin', role: 'manager' }, schema: { tags, summary: 'Create an event', body: CreateEventBody } }, async (req, reply) => {
    const admin = req.admin;
    const event = await s.events.create(admin.organisationId, req.body);
    return reply.status(201).send(eventSummary(event));
  });

  app.get('/api/v1/events', { config: { auth: 'admin', role: 'viewer' }, schema: { tags, summary: 'List the organisation\'s events' } }, async (req) => {
    const admin = req.admin;
    return { events: (await s.events.list(admin.organisationId)).map(eventSummary) };
  });

  app.get('/api/v1/events/:eventId', { config: { auth: 'admin', role: 'viewer' }, schema: { tags, summary: 'An event with its zones, gates, ticket types and public keys', params: EventParams } }, async (req) => {
    const admin = req.admin;
    return eventDetail(await s.events.get(admin.organisationId, req.params.eventId));
  });

  app.post('/api/v1/events/:eventId/zones', { config: { auth: 'admin', role: 'manager' }, schema: { tags, summary: 'Add a zone', params: EventParams, body: CreateZoneBody } }, async (req, reply) => {
    const admin = req.admin;
    return reply.status(201).send(await s.events.addZone(admin.organisationId, req.params.eventId, req.body));
  });

  app.post('/api/v1/events/:eventId/gates', { config: { auth: 'admin', role: 'manager' }, schema: { tags, summary: 'Add a gate admitting to zones', params: EventParams, body: CreateGateBody } }, async (req, reply) => {
    const admin = req.admin;
    const gate = await s.events.addGate(admin.organisationId, req.params.eventId, req.body);
    return reply.status(201).send({ id: gate.id, name: gate.name, zone_ids: gate.zoneIds });
  });

  app.post('/api/v1/events/:eventId/ticket-types', { config: { auth: 'admin', role: 'manager' }, schema: { tags, summary: 'Add a ticket type', params: EventParams, body: CreateTicketTypeBody } }, async (req, reply) => {
    const admin = req.admin;
    const t = await s.events.addTicketType(admin.organisationId, req.params.eventId, req.body);
    return reply.status(201).send({
      id: t.id, name: t.name, zone_ids: t.zoneIds, max_scans: t.maxScans, allow_reentry: t.allowReentry, valid_from: iso(t.validFrom), valid_until: iso(t.validUntil),
    });
  });

  app.get('/api/v1/events/:eventId/occupancy', { config: { auth: 'admin', role: 'viewer' }, schema: { tags, summary: 'People inside and admitted, in total, per zone and per gate', params: EventParams } }, async (req) => {
    const admin = req.admin;
    const ctx = await s.events.get(admin.organisationId, req.params.eventId);
    return computeOccupancy(s.db, ctx, s.now());
  });
};
