import { Type } from 'typebox';
import {
  ScanBody,
  ScanSessionView,
  ScanVerdictResponse,
  StartedScanSession,
  StartSessionBody,
  Uuid,
} from '@entrada/core';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Services } from '../services/container.ts';
import type { SessionRecord } from '../store/devices.ts';

const SessionParams = Type.Object({ id: Uuid });
const SCAN_BODY_LIMIT = 16 * 1024;

function sessionView(sn: SessionRecord, scanCount: number, deviceId: string): ScanSessionView {
  return {
    id: sn.id,
    event_id: sn.eventId,
    gate_id: sn.gateId,
    device_id: deviceId,
    direction: sn.direction,
    status: sn.status,
    started_at: new Date(sn.startedAt).toISOString(),
    ended_at: sn.endedAt === null ? null : new Date(sn.endedAt).toISOString(),
    scan_count: scanCount,
  };
}

export const scanningRoutes =
  (s: Services): FastifyPluginAsyncTypebox =>
  async (app) => {
    const tags = ['scanning'];
    app.post(
      '/api/v1/scanning/sessions',
      {
        config: { auth: 'device' },
        schema: {
          tags,
          summary: "Start a scan session at a gate (ends the device's previous one)",
          body: StartSessionBody,
          response: { 201: StartedScanSession },
        },
      },
      async (req, reply) => {
        const device = req.device;
        const { session, endedSessionId } = await s.devices.startSession(device, req.body);
        return reply
          .status(201)
          .send({ ...sessionView(session, 0, device.deviceId), ended_session_id: endedSessionId });
      },
    );

    app.get(
      '/api/v1/scanning/sessions/:id',
      {
        config: { auth: 'device' },
        schema: {
          tags,
          summary: 'A scan session of this device',
          params: SessionParams,
          response: { 200: ScanSessionView },
        },
      },
      async (req) => {
        const device = req.device;
        const { session, scanCount } = await s.devices.getSession(device, req.params.id);
        return sessionView(session, scanCount, device.deviceId);
      },
    );

    app.put(
      '/api/v1/scanning/sessions/:id/end',
      {
        config: { auth: 'device' },
        schema: { tags, summary: 'End a scan session', params: SessionParams, response: { 200: ScanSessionView } },
      },
      async (req) => {
        const device = req.device;
        const { session, scanCount } = await s.devices.endSession(device, req.params.id);
        return sessionView(session, scanCount, device.deviceId);
      },
    );

    app.post(
      '/api/v1/scanning/scan',
      {
        config: { auth: 'device', requestLog: 'sampled' },
        bodyLimit: SCAN_BODY_LIMIT,
        schema: {
          tags,
          summary: 'Scan a code online: the verdict, with every attempt recorded',
          body: ScanBody,
          response: { 200: ScanVerdictResponse },
        },
      },
      async (req) => {
        const device = req.device;
        return s.scans.scan({
          device,
          code: req.body.code,
          sessionId: req.body.session_id,
          eventId: req.body.event_id,
          gateId: req.body.gate_id,
          direction: req.body.direction,
          scanId: req.body.scan_id,
          staffId: req.body.staff_id,
        });
      },
    );
  };
