import { Type } from 'typebox';
import {
  CreateStaffBody,
  NoContent,
  StaffChanged,
  UpdateStaffBody,
  LoginLogsQuery,
  LoginLogsResponse,
  StaffListResponse,
  StaffLoginBody,
  StaffLoginResponse,
  StaffView,
  Uuid,
} from '@entrada/core';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { invalid } from '../services/errors.ts';
import { requestInfo } from '../http/request-info.ts';
import { callerOf } from '../services/audit.ts';
import type { Services } from '../services/container.ts';
import type { StaffRecord } from '../store/staff.ts';

const EventParams = Type.Object({ eventId: Uuid });
const StaffParams = Type.Object({ eventId: Uuid, staffId: Uuid });
const iso = (ms: number): string => new Date(ms).toISOString();

export function staffView(s: StaffRecord): {
  id: string;
  username: string;
  name: string;
  active: boolean;
  created_at: string;
} {
  return { id: s.id, username: s.username, name: s.name, active: s.active, created_at: iso(s.createdAt) };
}

export const staffRoutes =
  (s: Services): FastifyPluginAsyncTypebox =>
  async (app) => {
    const tags = ['staff'];
    app.post(
      '/api/v1/events/:eventId/staff',
      {
        config: { auth: 'admin', role: 'manager' },
        schema: {
          tags,
          summary: 'Add a staff account (username and PIN) to an event',
          params: EventParams,
          body: CreateStaffBody,
          response: { 201: StaffView },
        },
      },
      async (req, reply) => {
        const admin = req.admin;
        return reply
          .status(201)
          .send(staffView(await s.staff.create(admin.organisationId, req.params.eventId, req.body, admin.actor)));
      },
    );

    app.get(
      '/api/v1/events/:eventId/staff',
      {
        config: { auth: 'admin', role: 'viewer' },
        schema: {
          tags,
          summary: "The event's staff accounts",
          params: EventParams,
          response: { 200: StaffListResponse },
        },
      },
      async (req) => {
        const admin = req.admin;
        return { staff: (await s.staff.list(admin.organisationId, req.params.eventId)).map(staffView) };
      },
    );

    app.post(
      '/api/v1/events/:eventId/staff/:staffId/deactivate',
      {
        config: { auth: 'admin', role: 'manager' },
        schema: {
          tags,
          summary: 'Deactivate a staff account (its logins fail from now on)',
          params: StaffParams,
          response: { 200: StaffView },
        },
      },
      async (req) => {
        const admin = req.admin;
        return staffView(await s.staff.deactivate(admin.organisationId, req.params.eventId, req.params.staffId));
      },
    );

    app.patch(
      '/api/v1/events/:eventId/staff/:staffId',
      {
        config: { auth: 'admin', role: 'manager' },
        schema: {
          tags,
          summary: 'Change a staff account (name, PIN, active); the PIN is never shown or logged',
          params: StaffParams,
          body: UpdateStaffBody,
          response: { 200: StaffChanged },
        },
      },
      async (req) => {
        return s.setup.updateStaff(callerOf(req.admin), req.params.eventId, req.params.staffId, req.body);
      },
    );

    app.delete(
      '/api/v1/events/:eventId/staff/:staffId',
      {
        config: { auth: 'admin', role: 'manager' },
        schema: {
          tags,
          summary: 'Delete a staff account that never logged in (409 otherwise: deactivate it)',
          params: StaffParams,
          response: { 204: NoContent },
        },
      },
      async (req, reply) => {
        await s.setup.deleteStaff(callerOf(req.admin), req.params.eventId, req.params.staffId);
        return reply.status(204).send(null);
      },
    );

    app.post(
      '/api/v1/events/:eventId/login',
      {
        config: { auth: 'device' },
        bodyLimit: 4096,
        schema: {
          tags,
          summary: 'Log a staff member in on this device (device token); every attempt is logged, never the PIN',
          params: EventParams,
          body: StaffLoginBody,
          response: { 200: StaffLoginResponse },
        },
      },
      async (req) => {
        const info = requestInfo(req);
        const device = req.device;
        const login = await s.staff.login(device, req.params.eventId, req.body, info);
        return {
          staff: { id: login.staff.id, username: login.staff.username, name: login.staff.name },
          event_id: login.eventId,
          logged_in_at: iso(login.loggedInAt),
        };
      },
    );

    app.get(
      '/api/v1/events/:eventId/login-logs',
      {
        config: { auth: 'admin', role: 'viewer' },
        schema: {
          tags,
          summary: "Staff login attempts on the event's devices, newest first",
          params: EventParams,
          querystring: LoginLogsQuery,
          response: { 200: LoginLogsResponse },
        },
      },
      async (req) => {
        const admin = req.admin;
        const limit = Number(req.query.limit ?? 100);
        if (limit < 1 || limit > 1000) throw invalid('limit must be between 1 and 1000');
        const logs = await s.staff.logs(admin.organisationId, req.params.eventId, limit);
        return {
          logs: logs.map((l) => ({
            id: l.id,
            identifier: l.identifier,
            device_id: l.deviceId,
            staff_id: l.staffId,
            success: l.success,
            message: l.message,
            ip_address: l.ipAddress,
            user_agent: l.userAgent,
            created_at: iso(l.createdAt),
          })),
        };
      },
    );
  };
