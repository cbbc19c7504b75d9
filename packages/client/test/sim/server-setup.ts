/**
 * The bits of server/test/harness.ts the simulation needs, without its vitest
 * import (so soak.ts runs under plain node), and talking to the app through
 * `inject` (no sockets).
 */
import type { FastifyInstance } from 'fastify';
import type { Database } from '../../../server/src/db/database.ts';
import { openPglite } from '../../../server/src/db/pglite.ts';
import { loadConfig } from '../../../server/src/config.ts';
import { startServer, type RunningServer } from '../../../server/src/server.ts';

// prettier-ignore
export interface Reply { status: number; body: any }; // eslint-disable-line @typescript-eslint/no-explicit-any

/** JSON requests to the app in process. */
export class InjectClient {
  /** `app` is read per request: the server may have restarted since. */
  constructor(
    private readonly app: () => FastifyInstance,
    readonly token: string,
  ) {}
  async request(method: 'GET' | 'POST' | 'PATCH', path: string, body?: unknown): Promise<Reply> {
    const r = await this.app().inject({
      method,
      url: path,
      headers: {
        authorization: `Bearer ${this.token}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
    });
    let parsed: unknown = r.payload;
    try {
      parsed = r.payload ? JSON.parse(r.payload) : null;
    } catch {
      /* not JSON */
    }
    return { status: r.statusCode, body: parsed };
  }
  get(path: string): Promise<Reply> {
    return this.request('GET', path);
  }
  post(path: string, body?: unknown): Promise<Reply> {
    return this.request('POST', path, body ?? {});
  }
}

export interface SimBackend {
  db: Database;
  /** The current server process; replaced by `restart`. */
  readonly server: RunningServer;
  admin: InjectClient;
  /** A server restart: every in-memory state (caches, limiters, bus) is lost, the database stays. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startSimBackend(now: () => number): Promise<SimBackend> {
  const db = await openPglite();
  const adminToken = `eat_sim_${'0'.repeat(16)}`;
  const config = {
    ...loadConfig({}),
    port: 0,
    host: '127.0.0.1',
    secret: 'sim-secret-do-not-use-in-production',
    demo: false,
    adminToken,
  };
  let server = await startServer({ config, db, logger: false, now });
  return {
    db,
    get server() {
      return server;
    },
    admin: new InjectClient(() => server.app, adminToken),
    async restart() {
      await server.close();
      server = await startServer({ config, db, logger: false, now });
    },
    async close() {
      await server.close();
      await db.close();
    },
  };
}

export interface SeededEvent {
  eventId: string;
  gates: { main: string; vip: string; any: string };
  zones: { general: string; vip: string };
  types: { ga: string; reentry: string; multi: string };
}

// prettier-ignore
function ok(r: Reply, what: string): any { // eslint-disable-line @typescript-eslint/no-explicit-any
  if (r.status !== 201) throw new Error(`${what} failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** Two zones, three gates (main: general, vip: VIP, any: no zone), and single-entry, re-entry and 3-entry types. */
export async function seedEvent(admin: InjectClient, startsAt: string, endsAt: string): Promise<SeededEvent> {
  const ev = ok(
    await admin.post('/api/v1/events', {
      name: 'Sim Event',
      starts_at: startsAt,
      ends_at: endsAt,
      timezone: 'Europe/Amsterdam',
    }),
    'event',
  );
  const eventId = ev.id as string;
  const zone = async (name: string): Promise<string> =>
    ok(await admin.post(`/api/v1/events/${eventId}/zones`, { name, capacity: 100 }), 'zone').id;
  const general = await zone('General');
  const vip = await zone('VIP');
  const gate = async (name: string, zone_ids: string[]): Promise<string> =>
    ok(await admin.post(`/api/v1/events/${eventId}/gates`, { name, zone_ids }), 'gate').id;
  const type = async (body: Record<string, unknown>): Promise<string> =>
    ok(await admin.post(`/api/v1/events/${eventId}/ticket-types`, body), 'type').id;
  return {
    eventId,
    zones: { general, vip },
    gates: { main: await gate('Main', [general]), vip: await gate('VIP Gate', [vip]), any: await gate('Any', []) },
    types: {
      ga: await type({ name: 'GA', zone_ids: [general] }),
      reentry: await type({ name: 'Re-entry', zone_ids: [general], allow_reentry: true }),
      multi: await type({ name: '3-day', zone_ids: [general], max_scans: 3 }),
    },
  };
}

export async function issueTickets(
  admin: InjectClient,
  eventId: string,
  tickets: Array<Record<string, unknown>>,
): Promise<Array<{ id: string; code: string; number: string }>> {
  return ok(await admin.post(`/api/v1/events/${eventId}/tickets`, { tickets }), 'issue').tickets;
}

export async function registerDevice(
  admin: InjectClient,
  name: string,
  extra: Record<string, unknown> = {},
): Promise<{ deviceId: string; token: string }> {
  const b = ok(await admin.post('/api/v1/devices', { name, ...extra }), 'device');
  return { deviceId: b.device_id, token: b.token };
}
