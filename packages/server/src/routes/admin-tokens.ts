import { Type } from 'typebox';
import {
  AdminTokenListResponse,
  AdminTokenView,
  CreateAdminTokenBody,
  CreatedAdminTokenResponse,
  Uuid,
} from '@entrada/core';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Services } from '../services/container.ts';
import type { AdminTokenRecord } from '../store/organisations.ts';

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** Never the token or its digest. `current`: the token making the request. */
function adminTokenView(t: AdminTokenRecord, currentId: string | null): AdminTokenView {
  return {
    id: t.id,
    name: t.name,
    origin: t.origin,
    role: t.role,
    platform: t.platform,
    created_at: new Date(t.createdAt).toISOString(),
    last_used_at: iso(t.lastUsedAt),
    revoked_at: iso(t.revokedAt),
    current: t.id === currentId,
  };
}

export const adminTokenRoutes =
  (s: Services): FastifyPluginAsyncTypebox =>
  async (app) => {
    const tags = ['tokens'];
    app.get(
      '/api/v1/tokens',
      {
        config: { auth: 'admin', role: 'owner' },
        schema: {
          tags,
          summary: "The organisation's admin tokens that work (never the tokens themselves)",
          response: { 200: AdminTokenListResponse },
        },
      },
      async (req) => ({
        tokens: (await s.adminTokens.list(req.admin.organisationId)).map((t) => adminTokenView(t, req.admin.tokenId)),
      }),
    );

    app.post(
      '/api/v1/tokens',
      {
        config: { auth: 'admin', role: 'owner' },
        bodyLimit: 4096,
        schema: {
          tags,
          summary: 'Make an admin token for this organisation; it is shown once',
          body: CreateAdminTokenBody,
          response: { 201: CreatedAdminTokenResponse },
        },
      },
      async (req, reply) => {
        const made = await s.adminTokens.create(req.admin, req.body.name, req.body.role);
        return reply.status(201).send({ ...adminTokenView(made.record, req.admin.tokenId), token: made.token });
      },
    );

    app.delete(
      '/api/v1/tokens/:id',
      {
        config: { auth: 'admin', role: 'owner' },
        schema: {
          tags,
          summary:
            'Revoke an admin token of this organisation (401 from then on, on every instance); the last one is refused (409)',
          params: Type.Object({ id: Uuid }),
          response: { 200: AdminTokenView },
        },
      },
      async (req) =>
        adminTokenView(await s.adminTokens.revoke(req.admin.organisationId, req.params.id), req.admin.tokenId),
    );
  };
