/**
 * Test harness: every server suite runs against embedded PGlite and a real
 * PostgreSQL server (TEST_DATABASE_URL; each suite gets its own fresh database).
 * With ENTRADA_REQUIRE_SERVICES=1 (CI) a missing service fails the run instead
 * of skipping tests.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { FastifyInstance, InjectOptions } from 'fastify';
import type { Logger } from 'pino';
import { describe } from 'vitest';
import type { Database } from '../src/db/database.ts';
import type { AdminPrincipal } from '../src/store/organisations.ts';
import { openPglite } from '../src/db/pglite.ts';
import { openPostgres } from '../src/db/postgres.ts';
import { loadConfig, type Config } from '../src/config.ts';
import { startServer, type RunningServer, type StartOptions } from '../src/server.ts';
import type { ManifestOptions } from '../src/services/sync/manifest-service.ts';

export const REQUIRE_SERVICES = process.env.ENTRADA_REQUIRE_SERVICES === '1';
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL;

export interface Backend {
  name: 'pglite' | 'postgres';
  open(): Promise<TestDatabase>;
}
export interface TestDatabase {
  db: Database;
  url: string | null;
  drop(): Promise<void>;
}

/** A fresh, empty PostgreSQL database on the test server; dropped afterwards. */
export async function freshPostgresDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  if (!TEST_DATABASE_URL) throw new Error('TEST_DATABASE_URL is not set');
  const name = `entrada_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

export const pgliteBackend: Backend = {
  name: 'pglite',
  async open() {
    const db = await openPglite();
    return { db, url: null, drop: () => db.close() };
  },
};

export const postgresBackend: Backend = {
  name: 'postgres',
  async open() {
    const fresh = await freshPostgresDatabase();
    const db = openPostgres({ connectionString: fresh.url, maxConnections: 20 });
    return {
      db,
      url: fresh.url,
      async drop() {
        await db.close();
        await fresh.drop();
      },
    };
  },
};

export function postgresAvailable(): boolean {
  if (TEST_DATABASE_URL) return true;
  if (REQUIRE_SERVICES)
    throw new Error('ENTRADA_REQUIRE_SERVICES=1 but TEST_DATABASE_URL is not set: PostgreSQL tests would be skipped');
  return false;
}

/** `describe` once per backend; the PostgreSQL run is skipped (loudly) only outside CI. */
export function describeEachBackend(title: string, fn: (backend: Backend) => void): void {
  describe(`${title} [pglite]`, () => fn(pgliteBackend));
  const run = postgresAvailable() ? describe : describe.skip;
  run(`${title} [postgres]`, () => fn(postgresBackend));
}

/** Only on PostgreSQL (concurrency across connections and instances). */
export function describePostgres(title: string, fn: () => void): void {
  (postgresAvailable() ? describe : describe.skip)(`${title} [postgres]`, fn);
}

export const TEST_SECRET = 'test-secret-do-not-use-in-production';

/*
 * Transport: a test talks to its server through Fastify's `inject` (the
 * request goes through the whole app: hooks, parsers, schemas, error handler)
 * unless the socket is the point. The rule: socket-level behaviour → real HTTP,
 * everything else → inject.
 *
 * Real HTTP (`startTestServer(db, { http: true })`, `server.httpClient(token)`
 * or `new Client(server.url, token)`) is kept for: the live SSE stream; body
 * size limits, gzip uploads and authentication before the body (the server
 * stops reading a socket); the API fuzzer (raw requests); framework and
 * transport errors (431, 414, parser errors); web-app headers and
 * compression; process faults and database outages; request logs; rate
 * limits and lockouts by client address (inject's address is always
 * 127.0.0.1); anything with `trustProxy`; and any test whose name says HTTP.
 * Set-up calls around a socket-level check (making the event a stream
 * watches) may use inject: only the check itself needs the socket.
 *
 * The standards say integration tests use real HTTP: besides the suites above,
 * http-smoke.test.ts goes through every route family once over a socket, the
 * accounts suite signs in and uses its sessions (cookies, CSRF, per-address
 * limits behind a trusted proxy) over HTTP, and the seed clients use fetch.
 */

export interface TestServer extends RunningServer {
  adminToken: string;
  /** The admin token's client (inject, or HTTP when started with `http: true`). */
  admin: Client;
  /** A client with this token, or none (inject, or HTTP when started with `http: true`). */
  client(token: string | null): Client;
  /** A client over a real socket, for socket-level behaviour (see the rule above). */
  httpClient(token: string | null): Client;
  /** The server's clock (the injected one, or the real clock): build test data from it. */
  now(): number;
}

export async function startTestServer(
  db: Database,
  opts: {
    adminToken?: string;
    now?: () => number;
    redisUrl?: string;
    unsafeDisableAdmissionGuard?: boolean;
    manifest?: Partial<ManifestOptions>;
    /** Where the server logs (e.g. `createLogger('debug', sink)` to read the log); silent by default. */
    logger?: Logger;
    /** More configuration (trustProxy, owner…). */
    config?: Partial<Config>;
    /** Live stream buffers and timings (short in tests). */
    live?: StartOptions['live'];
    /** `admin` and `client(token)` over real HTTP rather than inject (suites about the socket). */
    http?: boolean;
  } = {},
): Promise<TestServer> {
  const adminToken = opts.adminToken ?? `eat_test_${randomBytes(8).toString('hex')}`;
  // Test receivers (webhooks) listen on loopback: allowed here; webhooks.test.ts shows the refusal with it off.
  const config = {
    ...loadConfig({}),
    port: 0,
    host: '127.0.0.1',
    secret: TEST_SECRET,
    demo: false,
    adminToken,
    redisUrl: opts.redisUrl,
    webhookAllowPrivate: true,
    ...opts.config,
  };
  const server = await startServer({
    config,
    db,
    logger: opts.logger ?? false,
    now: opts.now,
    unsafeDisableAdmissionGuard: opts.unsafeDisableAdmissionGuard,
    manifest: opts.manifest,
    live: opts.live,
  });
  const now = opts.now ?? Date.now;
  const httpClient = (token: string | null): Client => new Client(server.url, token, undefined, now);
  const injectClient = (token: string | null): Client =>
    new Client(server.url, token, injectTransport(server.app), now);
  const client = opts.http ? httpClient : injectClient;
  return Object.assign(server, { adminToken, admin: client(adminToken), client, httpClient, now });
}

// prettier-ignore
export interface Reply<T = any> { status: number; body: T; headers: Headers }; // eslint-disable-line @typescript-eslint/no-explicit-any

/** One request as a client sends it: an absolute URL, headers and an optional body. */
export interface OutgoingRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string | Uint8Array;
}
/** Sends a request and answers the status, the headers and the body as text. */
export type Transport = (req: OutgoingRequest) => Promise<{ status: number; headers: Headers; text: string }>;

/** Over a real socket, with fetch. */
export const httpTransport: Transport = async (req) => {
  // Cast: the DOM lib (the web package type-checks this file too) types BodyInit without generic Uint8Array.
  const res = await fetch(req.url, {
    method: req.method,
    headers: req.headers,
    ...(req.body !== undefined ? { body: req.body as NonNullable<RequestInit['body']> } : {}),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
};

/** Through Fastify's `inject`: the whole app without a socket. The Host header is the URL's, as over HTTP. */
export function injectTransport(app: FastifyInstance): Transport {
  return async (req) => {
    const url = new URL(req.url);
    const res = await app.inject({
      method: req.method as InjectOptions['method'],
      url: url.pathname + url.search,
      headers: { host: url.host, ...req.headers },
      ...(req.body !== undefined
        ? {
            payload:
              typeof req.body === 'string'
                ? req.body
                : Buffer.from(req.body.buffer, req.body.byteOffset, req.body.byteLength),
          }
        : {}),
    });
    const headers = new Headers();
    for (const [name, value] of Object.entries(res.headers)) {
      if (Array.isArray(value)) for (const v of value) headers.append(name, v);
      else if (value !== undefined) headers.append(name, String(value));
    }
    return { status: res.statusCode, headers, text: res.payload };
  };
}

/** A tiny JSON client: over real HTTP by default, or any transport (the test server's clients use inject). */
export class Client {
  constructor(
    readonly baseUrl: string,
    readonly token: string | null,
    private readonly transport: Transport = httpTransport,
    /** The clock of the server it talks to (the real one unless the server's is injected). */
    readonly now: () => number = Date.now,
  ) {}

  // prettier-ignore
  async request<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply<T>> { // eslint-disable-line @typescript-eslint/no-explicit-any
    const all: Record<string, string> = { ...(this.token ? { authorization: `Bearer ${this.token}` } : {}), ...headers };
    let payload: string | Uint8Array | undefined;
    if (body !== undefined) {
      payload = typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body);
      all['content-type'] ??= 'application/json';
    }
    const res = await this.transport({ method, url: this.baseUrl + path, headers: all, ...(payload !== undefined ? { body: payload } : {}) });
    let parsed: unknown = res.text;
    try { parsed = res.text ? JSON.parse(res.text) : null; } catch { /* not JSON */ }
    return { status: res.status, body: parsed as T, headers: res.headers };
  }
  // prettier-ignore
  get<T = any>(path: string) { return this.request<T>('GET', path); } // eslint-disable-line @typescript-eslint/no-explicit-any
  // prettier-ignore
  post<T = any>(path: string, body?: unknown) { return this.request<T>('POST', path, body ?? {}); } // eslint-disable-line @typescript-eslint/no-explicit-any
  // prettier-ignore
  put<T = any>(path: string, body?: unknown) { return this.request<T>('PUT', path, body); } // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface SeededEvent {
  eventId: string;
  zones: { general: string; vip: string };
  gates: { main: string; vip: string; any: string };
  types: { ga: string; reentry: string; vip: string; multi: string };
}

/**
 * An event with two zones, three gates and four ticket types, made through the
 * API; it runs from a day before `now` to a day after (the server's clock by default).
 */
export async function seedEvent(
  admin: Client,
  overrides: Record<string, unknown> = {},
  now: number = admin.now(),
): Promise<SeededEvent> {
  const ok = <T>(r: Reply<T>): T => {
    if (r.status !== 201) throw new Error(`seed failed: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };
  const ev = ok(
    await admin.post('/api/v1/events', {
      name: 'Test Event',
      starts_at: new Date(now - 86_400_000).toISOString(),
      ends_at: new Date(now + 86_400_000).toISOString(),
      timezone: 'Europe/Amsterdam',
      ...overrides,
    }),
  );
  const eventId = ev.id as string;
  const zone = async (name: string): Promise<string> =>
    ok(await admin.post(`/api/v1/events/${eventId}/zones`, { name, capacity: 100 })).id;
  const general = await zone('General');
  const vip = await zone('VIP');
  const gate = async (name: string, zone_ids: string[]): Promise<string> =>
    ok(await admin.post(`/api/v1/events/${eventId}/gates`, { name, zone_ids })).id;
  const type = async (body: Record<string, unknown>): Promise<string> =>
    ok(await admin.post(`/api/v1/events/${eventId}/ticket-types`, body)).id;
  return {
    eventId,
    zones: { general, vip },
    gates: { main: await gate('Main', [general]), vip: await gate('VIP Gate', [vip]), any: await gate('Any', []) },
    types: {
      ga: await type({ name: 'GA', zone_ids: [general] }),
      reentry: await type({ name: 'Re-entry', zone_ids: [general], allow_reentry: true }),
      vip: await type({ name: 'VIP', zone_ids: [general, vip] }),
      multi: await type({ name: '3-day', zone_ids: [general], max_scans: 3 }),
    },
  };
}

export async function issueTickets(
  admin: Client,
  eventId: string,
  tickets: Array<Record<string, unknown>>,
): Promise<Array<{ id: string; code: string; number: string }>> {
  const r = await admin.post(`/api/v1/events/${eventId}/tickets`, { tickets });
  if (r.status !== 201) throw new Error(`issue failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.tickets;
}

export async function registerDevice(
  admin: Client,
  name = 'Scanner',
  extra: Record<string, unknown> = {},
): Promise<{ deviceId: string; token: string }> {
  const r = await admin.post('/api/v1/devices', { name, ...extra });
  if (r.status !== 201) throw new Error(`device failed: ${r.status} ${JSON.stringify(r.body)}`);
  return { deviceId: r.body.device_id, token: r.body.token };
}

/**
 * Retries `check` until it passes or `timeoutMs` runs out, then throws its last
 * error. For change streams: they serve only transactions below the cluster's
 * oldest running one, so a fresh commit can appear a moment later while other
 * transactions (other test files, same PostgreSQL) are still open — for
 * seconds when the whole suite runs on a loaded 2-core machine.
 */
export async function eventually<T>(check: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** The event's organisation as its owner, for calling a service directly (as a route would after authenticating). */
export async function eventOwner(db: Database, eventId: string): Promise<AdminPrincipal> {
  const [org] = await db.query<{ organisation_id: string }>('SELECT organisation_id FROM events WHERE id = $1', [
    eventId,
  ]);
  return {
    organisationId: org!.organisation_id,
    role: 'owner',
    userId: null,
    tokenId: null,
    actor: 'test',
    platform: false,
  };
}
