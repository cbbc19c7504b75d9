import { CreatePairingCodeBody, PairDeviceBody, PairDeviceResponse, PairingCodeResponse } from '@entrada/core';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { requestInfo } from '../http/request-info.ts';
import type { Services } from '../services/container.ts';
import { deviceView } from '../services/device-service.ts';

const iso = (ms: number): string => new Date(ms).toISOString();

export const pairingRoutes =
  (s: Services): FastifyPluginAsyncTypebox =>
  async (app) => {
    const tags = ['devices'];
    app.post(
      '/api/v1/devices/pairing-codes',
      {
        config: { auth: 'admin', role: 'supervisor' },
        schema: {
          tags,
          summary: 'Make a single-use pairing code (and its QR) for a new scanner; shown once',
          body: CreatePairingCodeBody,
          response: { 201: PairingCodeResponse },
        },
      },
      async (req, reply) => {
        const admin = req.admin;
        const made = await s.pairing.create(admin.organisationId, req.body, `${req.protocol}://${req.host}`);
        return reply.status(201).send({
          code: made.code,
          expires_at: iso(made.record.expiresAt),
          event_id: made.record.eventId,
          gate_id: made.record.gateId,
          name: made.record.name,
          pair_url: made.pairUrl,
          qr_svg: made.qrSvg,
        });
      },
    );

    // No bearer token: the code is the credential. Small bodies only.
    app.post(
      '/api/v1/devices/pair',
      {
        config: { auth: 'none' },
        bodyLimit: 4096,
        schema: {
          tags,
          summary:
            'Redeem a pairing code: registers the device with its public key and returns its token (no bearer token)',
          security: [],
          body: PairDeviceBody,
          response: { 201: PairDeviceResponse },
        },
      },
      async (req, reply) => {
        const paired = await s.pairing.redeem(req.body, requestInfo(req));
        const { event } = paired.ctx;
        return reply.status(201).send({
          device_id: paired.device.deviceId,
          token: paired.token,
          device: deviceView(paired.device),
          event: {
            id: event.id,
            name: event.name,
            starts_at: iso(event.startsAt),
            ends_at: iso(event.endsAt),
            timezone: event.timezone,
          },
          gate_id: paired.gateId,
          gates: [...paired.ctx.gates.values()].map((g) => ({ id: g.id, name: g.name, zone_ids: g.zoneIds })),
        });
      },
    );
  };
