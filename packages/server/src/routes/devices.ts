import { Type } from 'typebox';
import {
  CreateDeviceBody,
  CreatedOrganisation,
  CreateOrganisationBody,
  DeviceChanged,
  DeviceEventsBody,
  DeviceList,
  DeviceListQuery,
  DeviceView,
  RegisteredDevice,
  RevokeDeviceBody,
  Text,
  UpdateDeviceBody,
} from '@entrada/core';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { DomainError, invalid } from '../services/errors.ts';
import { callerOf } from '../services/audit.ts';
import type { Services } from '../services/container.ts';
import { deviceView } from '../services/device-service.ts';

const DeviceParams = Type.Object({ deviceId: Text({ minLength: 1, maxLength: 64 }) });
const SuspendBody = Type.Optional(
  Type.Object({ reason: Type.Optional(Text({ maxLength: 500 })) }, { additionalProperties: false }),
);

export const deviceRoutes =
  (s: Services): FastifyPluginAsyncTypebox =>
  async (app) => {
    const tags = ['devices'];
    app.post(
      '/api/v1/devices',
      {
        config: { auth: 'admin', role: 'manager' },
        schema: {
          tags,
          summary:
            'Register a scanner device; its token is shown once. With event_ids it may use only those events (add more with POST /devices/{deviceId}/events); without, every event of the organisation',
          body: CreateDeviceBody,
          response: { 201: RegisteredDevice },
        },
      },
      async (req, reply) => {
        const admin = req.admin;
        const { device, token } = await s.devices.register(admin.organisationId, req.body);
        return reply.status(201).send({ ...deviceView(device), id: device.pk, token });
      },
    );

    app.get(
      '/api/v1/devices',
      {
        config: { auth: 'admin', role: 'viewer' },
        schema: {
          tags,
          querystring: DeviceListQuery,
          response: { 200: DeviceList },
          summary:
            "The organisation's devices. With event_id, cursor or limit: a page (registration order) as {devices, next_cursor}, of one event's devices with event_id; without: all of them",
        },
      },
      async (req) => {
        const admin = req.admin;
        const { event_id: eventId, cursor, limit } = req.query;
        if (eventId === undefined && cursor === undefined && limit === undefined)
          return { devices: (await s.devices.list(admin.organisationId)).map(deviceView) };
        const n = Number(limit ?? 200);
        if (n < 1 || n > 500) throw invalid('limit must be between 1 and 500');
        const page = await s.devices.page(admin.organisationId, eventId ?? null, cursor, n);
        return { devices: page.devices.map(deviceView), next_cursor: page.nextCursor };
      },
    );

    app.post(
      '/api/v1/devices/:deviceId/events',
      {
        config: { auth: 'admin', role: 'manager' },
        schema: {
          tags,
          summary:
            'Let a device use more events: event_ids are added to the events it was registered or paired for (a device of every event keeps every event)',
          params: DeviceParams,
          body: DeviceEventsBody,
          response: { 200: DeviceView },
        },
      },
      async (req) => {
        const admin = req.admin;
        return deviceView(await s.devices.addEvents(admin.organisationId, req.params.deviceId, req.body));
      },
    );

    app.patch(
      '/api/v1/devices/:deviceId',
      {
        config: { auth: 'admin', role: 'manager' },
        schema: {
          tags,
          summary: 'Rename a device or set its default gate (a gate of one of its events; null for none)',
          params: DeviceParams,
          body: UpdateDeviceBody,
          response: { 200: DeviceChanged },
        },
      },
      async (req) => {
        return s.setup.updateDevice(callerOf(req.admin), req.params.deviceId, req.body);
      },
    );

    app.post(
      '/api/v1/devices/:deviceId/suspend',
      {
        config: { auth: 'admin', role: 'supervisor' },
        schema: {
          tags,
          summary: 'Suspend a device (reversible)',
          params: DeviceParams,
          body: SuspendBody,
          response: { 200: DeviceView },
        },
      },
      async (req) => {
        const admin = req.admin;
        return deviceView(
          await s.devices.setStatus(admin.organisationId, req.params.deviceId, 'suspended', req.body?.reason ?? null),
        );
      },
    );

    app.post(
      '/api/v1/devices/:deviceId/activate',
      {
        config: { auth: 'admin', role: 'supervisor' },
        schema: { tags, summary: 'Reactivate a suspended device', params: DeviceParams, response: { 200: DeviceView } },
      },
      async (req) => {
        const admin = req.admin;
        return deviceView(await s.devices.setStatus(admin.organisationId, req.params.deviceId, 'active', null));
      },
    );

    app.post(
      '/api/v1/devices/:deviceId/revoke',
      {
        config: { auth: 'admin', role: 'manager' },
        schema: {
          tags,
          summary: 'Revoke a device for good (lost or stolen)',
          params: DeviceParams,
          body: RevokeDeviceBody,
          response: { 200: DeviceView },
        },
      },
      async (req) => {
        const admin = req.admin;
        return deviceView(
          await s.devices.setStatus(
            admin.organisationId,
            req.params.deviceId,
            'revoked',
            req.body.reason,
            req.body.effective_at,
          ),
        );
      },
    );

    app.post(
      '/api/v1/organisations',
      {
        config: { auth: 'admin', role: 'owner' },
        schema: {
          tags: ['organisations'],
          summary: 'Create an organisation and its first admin token (platform token only)',
          body: CreateOrganisationBody,
          response: { 201: CreatedOrganisation },
        },
      },
      async (req, reply) => {
        const admin = req.admin;
        if (!admin.platform) throw new DomainError('FORBIDDEN', 'Only a platform admin token may create organisations');
        const { id, token } = await s.adminTokens.createOrganisation(req.body.name);
        return reply.status(201).send({ id, name: req.body.name, admin_token: token });
      },
    );
  };
