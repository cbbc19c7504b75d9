import { Type } from 'typebox';
import {
  NoContent,
  ChangePasswordBody,
  CreateUserBody,
  LoginBody,
  ResetPasswordBody,
  SessionResponse,
  UpdateUserBody,
  UserListResponse,
  UserView,
  Uuid,
} from '@entrada/core';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DomainError } from '../services/errors.ts';
import { SESSION_ABSOLUTE_MS } from '../services/account-service.ts';
import { SESSION_COOKIE } from '../services/auth.ts';
import type { Services } from '../services/container.ts';
import { requestInfo } from '../http/request-info.ts';
import type { UserRecord } from '../store/users.ts';

function userView(u: UserRecord): UserView {
  return {
    id: u.id,
    email: u.email,
    name: u.name,
    role: u.role,
    active: u.active,
    created_at: new Date(u.createdAt).toISOString(),
    updated_at: new Date(u.updatedAt).toISOString(),
  };
}

const sessionUser = (u: UserRecord): SessionResponse['user'] => ({
  id: u.id,
  email: u.email,
  name: u.name,
  role: u.role,
  organisation_id: u.organisationId,
});

/** httpOnly, SameSite=Lax, Path=/, and Secure when the request came over HTTPS (behind a trusted proxy: its X-Forwarded-Proto). */
function setSessionCookie(req: FastifyRequest, reply: FastifyReply, value: string, maxAgeS: number): void {
  const parts = [`${SESSION_COOKIE}=${value}`, 'Path=/', `Max-Age=${maxAgeS}`, 'HttpOnly', 'SameSite=Lax'];
  if (req.protocol === 'https') parts.push('Secure');
  reply.header('set-cookie', parts.join('; '));
}

/** The session of a request that /auth/me and /auth/logout are about (an admin token has none). */
function sessionOf(req: FastifyRequest): { userId: string; sessionId: string; csrfToken: string } {
  const { userId } = req.admin;
  const session = req.session;
  if (userId === null || session === null) {
    throw new DomainError(
      'UNAUTHORIZED',
      'Not logged in: this describes a console session (POST /api/v1/auth/login), and the request used an admin token',
    );
  }
  return { userId, sessionId: session.id, csrfToken: session.csrfToken };
}

export const accountRoutes =
  (s: Services): FastifyPluginAsyncTypebox =>
  async (app) => {
    const tags = ['accounts'];

    app.post(
      '/api/v1/auth/login',
      {
        config: { auth: 'none' },
        bodyLimit: 4096,
        schema: {
          tags,
          security: [],
          summary:
            'Log in to the console: sets the httpOnly session cookie (entrada_session) and answers the CSRF token to send as x-csrf-token',
          body: LoginBody,
          response: { 200: SessionResponse },
        },
      },
      async (req, reply) => {
        const session = await s.accounts.login(req.body, requestInfo(req));
        setSessionCookie(req, reply, session.token, Math.floor(SESSION_ABSOLUTE_MS / 1000));
        return { user: sessionUser(session.user), csrf_token: session.csrfToken };
      },
    );

    app.get(
      '/api/v1/auth/me',
      {
        config: { auth: 'admin', role: 'viewer' },
        schema: {
          tags,
          summary:
            "The logged-in user and the session's CSRF token (a reloaded console recovers it here); for an admin token, its id and role",
          response: { 200: SessionResponse },
        },
      },
      async (req) => {
        const admin = req.admin;
        // An admin token is described too (its role), so a console signed in with one shows what the token may do.
        if (admin.userId === null && admin.tokenId !== null) {
          return {
            user: {
              id: admin.tokenId,
              email: '',
              name: 'API token',
              role: admin.role,
              organisation_id: admin.organisationId,
            },
            csrf_token: null,
            credential: 'token' as const,
          };
        }
        const { userId, csrfToken } = sessionOf(req);
        const user = await s.accounts.get(admin.organisationId, userId);
        return { user: sessionUser(user), csrf_token: csrfToken, credential: 'session' as const };
      },
    );

    app.post(
      '/api/v1/auth/logout',
      {
        config: { auth: 'admin', role: 'viewer' },
        schema: {
          tags,
          summary: 'End this console session (its cookie is refused from now on, on every instance)',
          response: { 204: NoContent },
        },
      },
      async (req, reply) => {
        const { userId, sessionId } = sessionOf(req);
        await s.accounts.logout(userId, sessionId);
        setSessionCookie(req, reply, '', 0);
        return reply.status(204).send(null);
      },
    );

    app.post(
      '/api/v1/auth/password',
      {
        config: { auth: 'admin', role: 'viewer' },
        bodyLimit: 4096,
        schema: {
          tags,
          summary: 'Change your own password (the current one is required); your other sessions end',
          body: ChangePasswordBody,
          response: { 204: NoContent },
        },
      },
      async (req, reply) => {
        await s.accounts.changeOwnPassword(req.admin, req.session?.id ?? null, req.body);
        return reply.status(204).send(null);
      },
    );

    app.get(
      '/api/v1/users',
      {
        config: { auth: 'admin', role: 'owner' },
        schema: { tags, summary: "The organisation's users", response: { 200: UserListResponse } },
      },
      async (req) => ({ users: (await s.accounts.list(req.admin.organisationId)).map(userView) }),
    );

    app.post(
      '/api/v1/users',
      {
        config: { auth: 'admin', role: 'owner' },
        bodyLimit: 4096,
        schema: {
          tags,
          summary: 'Add a user to the organisation (password: at least 10 characters, not a common one)',
          body: CreateUserBody,
          response: { 201: UserView },
        },
      },
      async (req, reply) =>
        reply.status(201).send(userView(await s.accounts.create(req.admin.organisationId, req.body))),
    );

    app.patch(
      '/api/v1/users/:id',
      {
        config: { auth: 'admin', role: 'owner' },
        bodyLimit: 4096,
        schema: {
          tags,
          summary:
            "Change a user's name, role or state; deactivating ends their sessions at once. The last active owner cannot be demoted or deactivated (409)",
          params: Type.Object({ id: Uuid }),
          body: UpdateUserBody,
          response: { 200: UserView },
        },
      },
      async (req) => userView(await s.accounts.update(req.admin, req.params.id, req.body)),
    );

    app.post(
      '/api/v1/users/:id/password',
      {
        config: { auth: 'admin', role: 'owner' },
        bodyLimit: 4096,
        schema: {
          tags,
          summary: "Set a user's password (a forgotten one); their sessions end",
          params: Type.Object({ id: Uuid }),
          body: ResetPasswordBody,
          response: { 200: UserView },
        },
      },
      async (req) =>
        userView(await s.accounts.resetPassword(req.admin.organisationId, req.params.id, req.body.password)),
    );
  };
