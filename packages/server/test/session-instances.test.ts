import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Database } from '../src/db/database.ts';
import { openPostgres } from '../src/db/postgres.ts';
import type { BusMessage } from '../src/services/bus.ts';
import {
  describePostgres,
  freshPostgresDatabase,
  issueTickets,
  REQUIRE_SERVICES,
  registerDevice,
  seedEvent,
  startTestServer,
  type TestServer,
} from './harness.ts';

const REDIS_URL = process.env.REDIS_URL;
if (!REDIS_URL && REQUIRE_SERVICES)
  throw new Error('ENTRADA_REQUIRE_SERVICES=1 but REDIS_URL is not set: Redis tests would be skipped');

/**
 * A scan session ended through one API instance is refused at once by another
 * that had it cached: with Redis the bus evicts the other instance's copy,
 * and without it the statement that records a scan checks the session.
 */
function sessionEndSuite(redisUrl: string | undefined): void {
  let drop: () => Promise<void>;
  const dbs: Database[] = [];
  let a: TestServer;
  let b: TestServer;

  beforeAll(async () => {
    const fresh = await freshPostgresDatabase();
    drop = fresh.drop;
    dbs.push(openPostgres({ connectionString: fresh.url }), openPostgres({ connectionString: fresh.url }));
    a = await startTestServer(dbs[0]!, { redisUrl });
    b = await startTestServer(dbs[1]!, { redisUrl, adminToken: a.adminToken });
    if (redisUrl) await new Promise((r) => setTimeout(r, 200)); // let the subscribers connect
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    for (const db of dbs) await db.close();
    await drop?.();
  });

  it('a session ended on one instance is refused by the other at once, whatever the code', async () => {
    const ev = await seedEvent(a.admin);
    const [t1, t2] = await issueTickets(a.admin, ev.eventId, [
      { ticket_type_id: ev.types.ga },
      { ticket_type_id: ev.types.ga },
    ]);
    const d = await registerDevice(a.admin, 'Gate phone');
    const session = await a
      .client(d.token)
      .post('/api/v1/scanning/sessions', { event_id: ev.eventId, gate_id: ev.gates.main });
    expect(session.status).toBe(201);
    const onB = (code: string) =>
      b.client(d.token).post('/api/v1/scanning/scan', { code, session_id: session.body.id });
    // B now holds the session in its cache.
    expect((await onB(t1!.code)).body.result).toBe('valid');

    expect((await a.client(d.token).put(`/api/v1/scanning/sessions/${session.body.id}/end`)).status).toBe(200);
    // Well inside B's session cache lifetime: an admission, a refusal (the used ticket) and an unknown code.
    for (const code of [t2!.code, t1!.code, 'NOT-A-TICKET']) {
      const r = await onB(code);
      expect({ code, status: r.status, error: r.body.error }).toEqual({ code, status: 409, error: 'SESSION_ENDED' });
    }
    // Nothing was recorded through the ended session, and the ticket is still unused.
    expect((await a.client(d.token).get(`/api/v1/scanning/sessions/${session.body.id}`)).body).toMatchObject({
      status: 'ended',
      scan_count: 1,
    });
    expect((await a.admin.get(`/api/v1/tickets/${t2!.id}`)).body.scans_used).toBe(0);
  });

  it("a session replaced by the device's next one on one instance is refused by the other", async () => {
    const ev = await seedEvent(a.admin);
    const [t1, t2] = await issueTickets(a.admin, ev.eventId, [
      { ticket_type_id: ev.types.ga },
      { ticket_type_id: ev.types.ga },
    ]);
    const d = await registerDevice(a.admin, 'Gate scanner');
    const first = await a
      .client(d.token)
      .post('/api/v1/scanning/sessions', { event_id: ev.eventId, gate_id: ev.gates.main });
    expect(
      (await b.client(d.token).post('/api/v1/scanning/scan', { code: t1!.code, session_id: first.body.id })).body
        .result,
    ).toBe('valid');
    const second = await a
      .client(d.token)
      .post('/api/v1/scanning/sessions', { event_id: ev.eventId, gate_id: ev.gates.any });
    expect(second.body.ended_session_id).toBe(first.body.id);
    const stale = await b.client(d.token).post('/api/v1/scanning/scan', { code: t2!.code, session_id: first.body.id });
    expect(stale.body.error).toBe('SESSION_ENDED');
    expect(
      (await b.client(d.token).post('/api/v1/scanning/scan', { code: t2!.code, session_id: second.body.id })).body
        .result,
    ).toBe('valid');
  });

  if (redisUrl) {
    it('the end is published to the other instance, which drops its copy', async () => {
      const ev = await seedEvent(a.admin);
      const [t] = await issueTickets(a.admin, ev.eventId, [{ ticket_type_id: ev.types.ga }]);
      const d = await registerDevice(a.admin, 'Published');
      const session = await a
        .client(d.token)
        .post('/api/v1/scanning/sessions', { event_id: ev.eventId, gate_id: ev.gates.main });
      expect(
        (await b.client(d.token).post('/api/v1/scanning/scan', { code: t!.code, session_id: session.body.id })).body
          .result,
      ).toBe('valid');
      const seen: BusMessage[] = [];
      const unsubscribe = b.services.bus.subscribe((m) => seen.push(m));
      await a.client(d.token).put(`/api/v1/scanning/sessions/${session.body.id}/end`);
      const deadline = Date.now() + 1_000;
      while (Date.now() < deadline && !seen.some((m) => m.type === 'session_ended'))
        await new Promise((r) => setTimeout(r, 20));
      unsubscribe();
      expect(seen).toContainEqual({ type: 'session_ended', sessionId: session.body.id });
    });
  }
}

describePostgres('scan sessions across API instances without Redis', () => sessionEndSuite(undefined));
(REDIS_URL ? describePostgres : (title: string) => it.skip(title, () => undefined))(
  'scan sessions across API instances with Redis',
  () => sessionEndSuite(REDIS_URL),
);
