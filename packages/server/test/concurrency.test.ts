import { afterAll, beforeAll, expect, it } from 'vitest';
import { openPostgres } from '../src/db/postgres.ts';
import {
  describePostgres,
  freshPostgresDatabase,
  issueTickets,
  registerDevice,
  seedEvent,
  startTestServer,
  type Client,
  type SeededEvent,
  type TestServer,
} from './harness.ts';

/**
 * 100 simultaneous scans of one single-entry ticket, from 10 devices, through
 * two server instances sharing one PostgreSQL database. Each instance has its
 * own (warm) ticket cache, so every request decides "valid" on the state it
 * holds: only the database guard can stop the double admissions.
 */
describePostgres('concurrent scans of one ticket across two instances', () => {
  const DEVICES = 10;
  const SCANS_PER_DEVICE = 10;
  let dropDb: () => Promise<void>;
  let url: string;
  let ev: SeededEvent;
  let devices: Array<{ deviceId: string; token: string }>;
  let adminToken: string;

  beforeAll(async () => {
    const fresh = await freshPostgresDatabase();
    url = fresh.url;
    dropDb = fresh.drop;
    const db = openPostgres({ connectionString: url });
    const setup = await startTestServer(db);
    adminToken = setup.adminToken;
    ev = await seedEvent(setup.admin);
    devices = [];
    for (let i = 0; i < DEVICES; i++) devices.push(await registerDevice(setup.admin, `Gate scanner ${i}`));
    await setup.close();
    await db.close();
  });
  afterAll(async () => {
    await dropDb?.();
  });

  async function race(guard: boolean): Promise<{ results: string[]; recorded: number; entries: number }> {
    const dbs = [
      openPostgres({ connectionString: url, maxConnections: 50 }),
      openPostgres({ connectionString: url, maxConnections: 50 }),
    ];
    const instances: TestServer[] = [];
    for (const db of dbs)
      instances.push(await startTestServer(db, { adminToken, unsafeDisableAdmissionGuard: !guard, http: true }));
    try {
      const [ticket] = await issueTickets(instances[0]!.admin, ev.eventId, [{ ticket_type_id: ev.types.ga }]);
      // Warm both instances' caches with the ticket, as an event in progress would be.
      const clients: Client[] = devices.map((d, i) => instances[i % 2]!.client(d.token));
      for (const [i, inst] of instances.entries()) {
        await clients[i]!.post('/api/v1/scanning/sessions', { event_id: ev.eventId, gate_id: ev.gates.main });
        await inst.services.ticketCache.warm(ev.eventId);
      }
      const requests = clients.flatMap((client) =>
        Array.from({ length: SCANS_PER_DEVICE }, () =>
          client.post('/api/v1/scanning/scan', { code: ticket!.code, event_id: ev.eventId, gate_id: ev.gates.main }),
        ),
      );
      const replies = await Promise.all(requests);
      for (const r of replies) expect(r.status).toBe(200);
      const db = dbs[0]!;
      const [recorded] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM scans WHERE ticket_id = $1`, [
        ticket!.id,
      ]);
      const [state] = await db.query<{ entries: number }>(`SELECT entries FROM tickets WHERE id = $1`, [ticket!.id]);
      return { results: replies.map((r) => r.body.result as string), recorded: recorded!.n, entries: state!.entries };
    } finally {
      for (const inst of instances) await inst.close();
      for (const db of dbs) await db.close();
    }
  }

  it('control: without the guard the race admits the ticket more than once', async () => {
    const { results } = await race(false);
    const valid = results.filter((r) => r === 'valid').length;
    expect(valid).toBeGreaterThan(1);
  });

  it('with the guard exactly one scan is valid, and all 100 attempts are recorded', async () => {
    const { results, recorded, entries } = await race(true);
    expect(results.filter((r) => r === 'valid')).toHaveLength(1);
    expect(results.filter((r) => r === 'duplicate')).toHaveLength(DEVICES * SCANS_PER_DEVICE - 1);
    expect(recorded).toBe(DEVICES * SCANS_PER_DEVICE);
    expect(entries).toBe(1);
  });
});
