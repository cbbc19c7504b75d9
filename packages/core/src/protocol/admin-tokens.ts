/**
 * Admin tokens of an organisation: listed (never the token or its digest),
 * made (the token shown once) and revoked. Each acts with a role (roles.ts).
 */
import { Type, type Static } from 'typebox';
import { RoleSchema } from './roles.ts';
import { Text, Uuid } from './values.ts';

const Timestamp = Type.String({ description: 'ISO 8601 instant' });

export const AdminTokenOrigin = Type.Union([Type.Literal('env'), Type.Literal('generated'), Type.Literal('api')], {
  description:
    "env: ENTRADA_ADMIN_TOKEN (a new one there revokes it); generated: printed by the first start; api: POST /api/v1/tokens or an organisation's first token",
});
export type AdminTokenOrigin = Static<typeof AdminTokenOrigin>;

export const CreateAdminTokenBody = Type.Object(
  {
    name: Text({ minLength: 1, maxLength: 200, description: 'Who or what uses it, e.g. "box office laptop"' }),
    role: Type.Optional(RoleSchema),
  },
  { additionalProperties: false },
);
export type CreateAdminTokenBody = Static<typeof CreateAdminTokenBody>;

const adminTokenFields = {
  id: Uuid,
  name: Type.String(),
  origin: AdminTokenOrigin,
  role: RoleSchema,
  platform: Type.Boolean({ description: 'May create organisations' }),
  created_at: Timestamp,
  last_used_at: Type.Union([Timestamp, Type.Null()], {
    description: 'Written at most every 30 s per token and instance',
  }),
  revoked_at: Type.Union([Timestamp, Type.Null()]),
  current: Type.Boolean({ description: 'The token making this request' }),
};

export const AdminTokenView = Type.Object(adminTokenFields);
export type AdminTokenView = Static<typeof AdminTokenView>;

export const AdminTokenListResponse = Type.Object({ tokens: Type.Array(AdminTokenView) });
export type AdminTokenListResponse = Static<typeof AdminTokenListResponse>;

export const CreatedAdminTokenResponse = Type.Object({
  ...adminTokenFields,
  token: Type.String({ description: 'The bearer token: shown this once, stored only as its SHA-256 digest' }),
});
export type CreatedAdminTokenResponse = Static<typeof CreatedAdminTokenResponse>;
