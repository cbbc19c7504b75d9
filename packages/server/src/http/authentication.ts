import { ROLES, roleAtLeast, type Role } from '@entrada/core';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { DomainError } from '../services/errors.ts';
import type { Authenticator, AuthRequirement, ConsoleSession, Principal } from '../services/auth.ts';
import type { DeviceRecord } from '../store/devices.ts';
import type { AdminPrincipal } from '../store/organisations.ts';
import { requestInfo } from './request-info.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * Who may call the route. Every API route states it; the token is checked
     * in onRequest, before the body is read, inflated or parsed.
     */
    auth?: AuthRequirement;
    /**
     * The least organiser role an `admin` (organiser) route needs (core's ROLES:
     * viewer < supervisor < manager < owner).
     */
    role?: Role;
  }
  interface FastifyRequest {
    /** The caller of an `admin`, `device` or `admin-or-device` route. */
    readonly principal: Principal;
    /** The organiser (a logged-in user or an admin token), on a route declared `auth: 'admin'`. */
    readonly admin: AdminPrincipal;
    /** The console session that authenticated the request; null for a bearer token. */
    readonly session: ConsoleSession | null;
    /** The device, on a route declared `auth: 'device'`. */
    readonly device: DeviceRecord;
  }
}

const REQUIREMENTS: ReadonlySet<string> = new Set<AuthRequirement>(['admin', 'device', 'admin-or-device', 'none']);
const ROLE_NAMES: ReadonlySet<string> = new Set<string>(ROLES);

/** Set by the hook, read by the getters: a request never carries someone else's principal. */
const principals = new WeakMap<FastifyRequest, Principal>();

function principalOf(req: FastifyRequest): Principal {
  const principal = principals.get(req);
  // A handler reading a principal its route did not ask for: a bug, answered 500 and logged.
  if (!principal)
    throw new Error(
      `${req.method} ${req.routeOptions.url ?? req.url} reads the caller but declares auth: ${String(req.routeOptions.config.auth)}`,
    );
  return principal;
}

/**
 * Declarative authentication for every route registered on `app` after this
 * call: a route without `config.auth` fails at start-up, and the token is
 * checked before the body (a 58 MB gzip bomb is refused 401 unread).
 */
export function installAuthentication(app: FastifyInstance, auth: Authenticator): void {
  app.addHook('onRoute', (route) => {
    const declared: unknown = route.config?.auth;
    if (typeof declared !== 'string' || !REQUIREMENTS.has(declared)) {
      throw new Error(
        `Route ${String(route.method)} ${route.url} must declare config.auth: 'admin' | 'device' | 'admin-or-device' | 'none'`,
      );
    }
    const role: unknown = route.config?.role;
    // Published in the OpenAPI document (x-entrada-auth, x-entrada-role): the console hides what a role may not use, and the role test reads them.
    route.schema = { ...(route.schema ?? {}), 'x-entrada-auth': declared } as NonNullable<typeof route.schema>;
    if (declared === 'admin' || declared === 'admin-or-device') {
      if (typeof role !== 'string' || !ROLE_NAMES.has(role)) {
        throw new Error(
          `Route ${String(route.method)} ${route.url} must declare config.role: ${ROLES.join(' | ')} (the least organiser role it needs)`,
        );
      }
      const described = route.schema?.description;
      route.schema = {
        ...(route.schema ?? {}),
        'x-entrada-role': role,
        description: [typeof described === 'string' ? described : '', `Needs the ${role} role or above.`]
          .filter(Boolean)
          .join(' '),
      } as NonNullable<typeof route.schema>;
    } else if (role !== undefined) {
      throw new Error(
        `Route ${String(route.method)} ${route.url} declares config.role but no organiser may call it (auth: ${declared})`,
      );
    }
  });

  app.decorateRequest('principal', {
    getter(this: FastifyRequest) {
      return principalOf(this);
    },
  });
  app.decorateRequest('admin', {
    getter(this: FastifyRequest) {
      const principal = principalOf(this);
      if (!('admin' in principal))
        throw new Error(
          `${this.method} ${this.routeOptions.url ?? this.url} reads an admin but its caller is a device`,
        );
      return principal.admin;
    },
  });
  app.decorateRequest('session', {
    getter(this: FastifyRequest) {
      const principal = principalOf(this);
      return 'admin' in principal ? (principal.session ?? null) : null;
    },
  });
  app.decorateRequest('device', {
    getter(this: FastifyRequest) {
      const principal = principalOf(this);
      if (!('device' in principal))
        throw new Error(
          `${this.method} ${this.routeOptions.url ?? this.url} reads a device but its caller is an admin`,
        );
      return principal.device;
    },
  });

  app.addHook('onRequest', async (req, reply) => {
    const required = req.routeOptions.config.auth;
    if (required === 'none') return;
    // onRoute makes this unreachable; failing closed costs nothing.
    if (required === undefined) throw new Error(`${req.method} ${req.url} has no declared authentication`);
    try {
      const principal = await auth.authenticate(required, requestInfo(req));
      const needed = req.routeOptions.config.role;
      if ('admin' in principal && needed !== undefined && !roleAtLeast(principal.admin.role, needed)) {
        const who = principal.admin.userId ? 'your account' : 'this admin token';
        throw new DomainError(
          'FORBIDDEN',
          `This needs the ${needed} role or above; ${who} has the ${principal.admin.role} role`,
          { role_needed: needed },
        );
      }
      principals.set(req, principal);
    } catch (err) {
      // The body was never read: do not keep the connection to receive the rest of it.
      if (hasBody(req)) reply.header('connection', 'close');
      throw err;
    }
  });
}

const hasBody = (req: FastifyRequest): boolean =>
  req.headers['transfer-encoding'] !== undefined ||
  (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');
