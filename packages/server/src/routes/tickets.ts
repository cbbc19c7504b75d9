import { Type } from 'typebox';
import {
  CancelTicketBody,
  CommittedImport,
  CreateTicketImportBody,
  CreateTicketsBody,
  IssuedTickets,
  NoContent,
  StagedImport,
  TicketDetail,
  TicketImportRowsBody,
  TicketImportView,
  TicketListResponse,
  TicketReasonBody,
  TicketSearchQuery,
  TicketView,
  Uuid,
} from '@entrada/core';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { invalid } from '../services/errors.ts';
import { callerOf } from '../services/audit.ts';
import type { Services } from '../services/container.ts';

const EventParams = Type.Object({ eventId: Uuid });
const TicketParams = Type.Object({ ticketId: Uuid });
const ImportParams = Type.Object({ eventId: Uuid, importId: Uuid });

// 10,000 tickets with holder names and long imported codes fit comfortably.
const BULK_BODY_LIMIT = 8 * 1024 * 1024;

export const ticketRoutes =
  (s: Services): FastifyPluginAsyncTypebox =>
  async (app) => {
    const tags = ['tickets'];
    app.post(
      '/api/v1/events/:eventId/tickets',
      {
        config: { auth: 'admin', role: 'manager' },
        bodyLimit: BULK_BODY_LIMIT,
        schema: {
          tags,
          summary: 'Create up to 10,000 tickets in one call (all or nothing)',
          params: EventParams,
          body: CreateTicketsBody,
          response: { 201: IssuedTickets },
        },
      },
      async (req, reply) => {
        const admin = req.admin;
        const tickets = await s.tickets.create(admin.organisationId, req.params.eventId, req.body);
        return reply.status(201).send({ tickets });
      },
    );

    app.get(
      '/api/v1/events/:eventId/tickets',
      {
        config: { auth: 'admin', role: 'viewer' },
        schema: {
          tags,
          params: EventParams,
          querystring: TicketSearchQuery,
          response: { 200: TicketListResponse },
          summary:
            'With q (or cursor): search by number prefix, holder name or a whole scanned code, in pages (cursor = next_cursor), without codes. Otherwise: tickets with their codes, in pages (after = last serial seen)',
        },
      },
      async (req) => {
        const admin = req.admin;
        if (req.query.q !== undefined || req.query.cursor !== undefined) {
          const limit = Number(req.query.limit ?? 50);
          if (limit < 1 || limit > 500) throw invalid('limit must be between 1 and 500 when searching');
          return s.tickets.search(admin.organisationId, req.params.eventId, req.query.q ?? '', req.query.cursor, limit);
        }
        const limit = Number(req.query.limit ?? 1000);
        if (limit < 1 || limit > 5000) throw invalid('limit must be between 1 and 5000');
        return s.tickets.export(admin.organisationId, req.params.eventId, Number(req.query.after ?? 0), limit);
      },
    );

    app.get(
      '/api/v1/tickets/:ticketId',
      {
        config: { auth: 'admin', role: 'viewer' },
        schema: {
          tags,
          summary:
            'A ticket with its scan history (time, gate, device, staff member, verdict, reason, online or offline)',
          params: TicketParams,
          response: { 200: TicketDetail },
        },
      },
      async (req) => {
        const admin = req.admin;
        const { view, scans } = await s.tickets.get(admin.organisationId, req.params.ticketId);
        return {
          ...view,
          scans: scans.map((sc) => ({
            id: sc.id,
            result: sc.result,
            reason: sc.reason,
            direction: sc.direction,
            device_id: sc.deviceId,
            device_name: sc.deviceName,
            gate_id: sc.gateId,
            gate_name: sc.gateName,
            session_id: sc.sessionId,
            staff_id: sc.staffId,
            staff_name: sc.staffName,
            source: sc.source,
            scanned_at: new Date(sc.scannedAt).toISOString(),
            received_at: new Date(sc.receivedAt).toISOString(),
          })),
        };
      },
    );

    app.post(
      '/api/v1/tickets/:ticketId/cancel',
      {
        config: { auth: 'admin', role: 'supervisor' },
        schema: {
          tags,
          summary: 'Cancel (or refund) a ticket',
          params: TicketParams,
          body: Type.Optional(CancelTicketBody),
          response: { 200: TicketView },
        },
      },
      async (req) => {
        const admin = req.admin;
        return s.tickets.setStatus(callerOf(admin), req.params.ticketId, 'cancel', req.body?.reason ?? null);
      },
    );

    app.post(
      '/api/v1/tickets/:ticketId/block',
      {
        config: { auth: 'admin', role: 'supervisor' },
        schema: {
          tags,
          summary: 'Block a ticket',
          params: TicketParams,
          body: Type.Optional(CancelTicketBody),
          response: { 200: TicketView },
        },
      },
      async (req) => {
        const admin = req.admin;
        return s.tickets.setStatus(callerOf(admin), req.params.ticketId, 'block', req.body?.reason ?? null);
      },
    );

    app.post(
      '/api/v1/tickets/:ticketId/unblock',
      {
        config: { auth: 'admin', role: 'supervisor' },
        schema: {
          tags,
          summary: 'Unblock a blocked ticket (valid again from now)',
          params: TicketParams,
          body: TicketReasonBody,
          response: { 200: TicketView },
        },
      },
      async (req) => {
        return s.tickets.setStatus(callerOf(req.admin), req.params.ticketId, 'unblock', req.body.reason);
      },
    );

    app.post(
      '/api/v1/tickets/:ticketId/reinstate',
      {
        config: { auth: 'admin', role: 'supervisor' },
        schema: {
          tags,
          summary: 'Undo a cancellation (valid again from now)',
          params: TicketParams,
          body: TicketReasonBody,
          response: { 200: TicketView },
        },
      },
      async (req) => {
        return s.tickets.setStatus(callerOf(req.admin), req.params.ticketId, 'reinstate', req.body.reason);
      },
    );

    // Imports of any size, all or nothing: open a session, send chunks of up to 5,000 rows, commit.
    app.post(
      '/api/v1/events/:eventId/ticket-imports',
      {
        config: { auth: 'admin', role: 'manager' },
        schema: {
          tags,
          summary: 'Open a ticket import (all or nothing, any size): send its rows in chunks, then commit',
          params: EventParams,
          body: Type.Optional(CreateTicketImportBody),
          response: { 201: TicketImportView },
        },
      },
      async (req, reply) =>
        reply.status(201).send(await s.ticketImports.open(callerOf(req.admin), req.params.eventId, req.body ?? {})),
    );

    app.get(
      '/api/v1/events/:eventId/ticket-imports/:importId',
      {
        config: { auth: 'admin', role: 'manager' },
        schema: {
          tags,
          summary: 'A ticket import: its state and how many rows are staged',
          params: ImportParams,
          response: { 200: TicketImportView },
        },
      },
      async (req) => s.ticketImports.get(callerOf(req.admin), req.params.eventId, req.params.importId),
    );

    app.post(
      '/api/v1/events/:eventId/ticket-imports/:importId/rows',
      {
        config: { auth: 'admin', role: 'manager' },
        bodyLimit: BULK_BODY_LIMIT,
        schema: {
          tags,
          params: ImportParams,
          body: TicketImportRowsBody,
          response: { 200: StagedImport },
          summary:
            'Validate and stage up to 5,000 rows (start_row = rows staged + 1); a row at fault fails the whole import, naming the row',
        },
      },
      async (req) => s.ticketImports.stage(callerOf(req.admin), req.params.eventId, req.params.importId, req.body),
    );

    app.post(
      '/api/v1/events/:eventId/ticket-imports/:importId/commit',
      {
        config: { auth: 'admin', role: 'manager' },
        schema: {
          tags,
          summary: 'Every staged row becomes a ticket, in one transaction, or none does (duplicates named by row)',
          params: ImportParams,
          response: { 200: CommittedImport },
        },
      },
      async (req) => s.ticketImports.commit(callerOf(req.admin), req.params.eventId, req.params.importId),
    );

    app.delete(
      '/api/v1/events/:eventId/ticket-imports/:importId',
      {
        config: { auth: 'admin', role: 'manager' },
        schema: {
          tags,
          summary: 'Abandon a ticket import: what it staged is deleted',
          params: ImportParams,
          response: { 204: NoContent },
        },
      },
      async (req, reply) => {
        await s.ticketImports.abandon(callerOf(req.admin), req.params.eventId, req.params.importId);
        return reply.status(204).send(null);
      },
    );
  };
