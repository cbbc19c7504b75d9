import { Type } from 'typebox';
import {
  AlertEmailBody,
  AlertEmailView,
  NoContent,
  Uuid,
  WebhookCreateBody,
  WebhookCreated,
  WebhookDeliveriesQuery,
  WebhookDeliveryPage,
  WebhookList,
  WebhookTestQueued,
} from '@entrada/core';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { callerOf } from '../services/audit.ts';
import type { Services } from '../services/container.ts';

const tags = ['webhooks'];
const IdParams = Type.Object({ id: Uuid });

/** Webhooks and email subscriptions (issue 13 §3). Managers and owners manage webhooks; anyone signed in, their own mail. */
export const webhookRoutes =
  (s: Services): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.post(
      '/api/v1/webhooks',
      {
        config: { auth: 'admin', role: 'manager' },
        schema: {
          tags,
          body: WebhookCreateBody,
          summary: 'Subscribe a URL to notifications; the answer holds its signing secret, shown this once',
          response: { 201: WebhookCreated },
        },
      },
      async (req, reply) => reply.code(201).send(await s.webhooks.create(callerOf(req.admin), req.body)),
    );

    app.get(
      '/api/v1/webhooks',
      {
        config: { auth: 'admin', role: 'manager' },
        schema: { tags, summary: "The organisation's webhooks (never their secrets)", response: { 200: WebhookList } },
      },
      async (req) => ({ webhooks: await s.webhooks.list(req.admin.organisationId) }),
    );

    app.delete(
      '/api/v1/webhooks/:id',
      {
        config: { auth: 'admin', role: 'manager' },
        schema: {
          tags,
          params: IdParams,
          summary: 'Delete a webhook and its queued deliveries',
          response: { 204: NoContent },
        },
      },
      async (req, reply) => {
        await s.webhooks.remove(callerOf(req.admin), req.params.id);
        return reply.code(204).send(null);
      },
    );

    app.get(
      '/api/v1/webhooks/:id/deliveries',
      {
        config: { auth: 'admin', role: 'manager' },
        schema: {
          tags,
          params: IdParams,
          querystring: WebhookDeliveriesQuery,
          summary: "The webhook's deliveries, newest first, each with its attempts (status, duration, error)",
          response: { 200: WebhookDeliveryPage },
        },
      },
      async (req) => s.webhooks.deliveries(req.admin.organisationId, req.params.id, req.query.cursor, req.query.limit),
    );

    app.post(
      '/api/v1/webhooks/:id/test',
      {
        config: { auth: 'admin', role: 'manager' },
        schema: {
          tags,
          params: IdParams,
          summary: 'Queue a webhook.test message for this webhook',
          response: { 202: WebhookTestQueued },
        },
      },
      async (req, reply) => reply.code(202).send(await s.webhooks.test(req.admin.organisationId, req.params.id)),
    );

    app.get(
      '/api/v1/users/me/alert-email',
      {
        config: { auth: 'admin', role: 'viewer' },
        schema: {
          tags,
          summary: 'My email subscriptions (a signed-in person; any role)',
          response: { 200: AlertEmailView },
        },
      },
      async (req) => s.webhooks.alertEmail(req.admin.userId, req.admin.organisationId),
    );

    app.put(
      '/api/v1/users/me/alert-email',
      {
        config: { auth: 'admin', role: 'viewer' },
        schema: {
          tags,
          body: AlertEmailBody,
          summary: 'Subscribe my address to critical alerts, or unsubscribe',
          response: { 200: AlertEmailView },
        },
      },
      async (req) => s.webhooks.setAlertEmail(req.admin.userId, req.admin.organisationId, req.body.critical_alerts),
    );
  };
