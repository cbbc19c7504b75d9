import type { Role } from '@entrada/core';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Authenticator, AuthRequirement, Principal } from '../services/auth.ts';
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
    /** The admin token's principal, on a route declared `auth: 'admin'`. */
    readonly admin: AdminPrincipal;
    /** The device, on a route declared `auth: 'device'`. */
    readonly device: DeviceRecord;
  }
}

const REQUIREMENTS: ReadonlySet<string> = new Set<AuthRequirement>(['admin', 'device', 'admin-or-device', 'none']);

/** Set by the hook, read by the getters: a request never carries someone else's principal. */
const principals = new WeakMap<FastifyRequest, Principal>();

function principalOf(req: FastifyRequest): Principal {
  const principal = principals.get(req);
  // A handler reading a principal its route did not ask for: a bug, answered 500 and logged.
  if (!principal) throw new Error(`${req.method} ${req.routeOptions.url ?? req.url} reads the caller but declares auth: ${String(req.routeOptions.config.auth)}`);
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
      throw new Error(`Route ${String(route.method)} ${route.url} must declare config.auth: 'admin' | 'device' | 'admin-or-device' | 'none'`);
    }
  });

  app.decorateRequest('principal', { getter(this: FastifyRequest) { return principalOf(this); } });
  app.decorateRequest('admin', {
    getter(this: FastifyRequest) {
      const principal = principalOf(this);
      if (!('admin' in principal)) throw new Error(`${this.method} ${this.routeOptions.url ?? this.url} reads an admin but its caller is a device`);
      return principal.admin;
    },
  });
  app.decorateRequest('device', {
    getter(this: FastifyRequest) {
      const principal = principalOf(this);
      if (!('device' in principal)) throw new Error(`${this.method} ${this.routeOptions.url ?? this.url} reads a device but its caller is an admin`);
      return principal.device;
    },
  });

  app.addHook('onRequest', async (req, reply) => {
    const required = req.routeOptions.config.auth;
    if (required === 'none') return;
    // onRoute makes this unreachable; failing closed costs nothing.
    if (required === undefined) throw new Error(`${req.method} ${req.url} has no declared authentication`);
    try {
      principals.set(req, await auth.authenticate(required, requestInfo(req)));
    } catch (err) {
      // The body was never read: do not keep the connection to receive the rest of it.
      if (hasBody(req)) reply.header('connection', 'close');
      throw err;
    }
  });
}

const hasBody = (req: FastifyRequest): boolean =>
  req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');
