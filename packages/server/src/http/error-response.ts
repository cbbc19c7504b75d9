import { ApiErrorBody } from '@entrada/core';
import type { FastifyInstance } from 'fastify';

/**
 * Every route registered on `app` after this call declares the shared error body for 4xx and 5xx (unless it
 * declares its own for a status, like the manifest's 503 BUSY): one `{error, message}` in the OpenAPI document,
 * written by the serializer with any details the code carries.
 */
export function declareErrorResponses(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    const schema = route.schema ?? {};
    const response = (schema.response ?? {}) as Record<string, unknown>;
    route.schema = { ...schema, response: { '4xx': ApiErrorBody, '5xx': ApiErrorBody, ...response } };
  });
}
