import { afterAll, beforeAll, expect, it } from 'vitest';
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
import type { Database } from '../src/db/database.ts';

const REDIS_URL = process.env.REDIS_URL;
if (!REDIS_URL && REQUIRE_SERVICES)
  throw new Error('ENTRADA_REQUIRE_SERVICES=1 but REDIS_URL is not set: Redis tests would be skipped');

/** Two API instances on one database, fanning changes out through Redis pub/sub. */
(REDIS_URL ? describePostgres : (title: string) => it.skip(title, () => undefined))(
  'cross-instance fan-out through Redis',
  () => {
    let drop: () => Promise<void>;
    const dbs: Database[] = [];
    let a: TestServer;
    let b: TestServer;

    beforeAll(async () => {
      const fresh = await freshPostgresDatabase();
      drop = fresh.drop;
      dbs.push(openPostgres({ connectionString: fresh.url }), openPostgres({ connectionString: fresh.url }));
      a = await startTestServer(dbs[0]!, { redisUrl: REDIS_URL });
      b = await startTestServer(dbs[1]!, { redisUrl: REDIS_URL, adminToken: a.adminToken });
      await new Promise((r) => setTimeout(r, 200)); // let the subscribers connect
    });
    afterAll(async () => {
      await a?.close();
      await b?.close();
      for (const db of dbs) await db.close();
      await drop?.();
    });

    it('a device suspended on one instance is refused by the other at once', async () => {
      const ev = await seedEvent(a.admin);
      const [t1, t2] = await issueTickets(a.admin, ev.eventId, [
        { ticket_type_id: ev.types.ga },
        { ticket_type_id: ev.types.ga },
      ]);
      const d = await registerDevice(a.admin, 'Roaming');
      const onB = b.client(d.token);
      expect(
        (await onB.post('/api/v1/scanning/scan', { code: t1!.code, event_id: ev.eventId, gate_id: ev.gates.main })).body
          .result,
      ).toBe('valid');
      await a.admin.post(`/api/v1/devices/${d.deviceId}/suspend`);
      // Well inside B's 2 s device cache: only the Redis message can make B notice.
      const deadline = Date.now() + 1_000;
      let status = 200;
      while (Date.now() < deadline && status === 200) {
        status = (
          await onB.post('/api/v1/scanning/scan', { code: t2!.code, event_id: ev.eventId, gate_id: ev.gates.main })
        ).status;
        if (status === 200) await new Promise((r) => setTimeout(r, 20));
      }
      expect(status).toBe(403);
    });

    it('admissions on one instance are published to the other (occupancy, cache invalidation)', async () => {
      const seen: BusMessage[] = [];
      const unsubscribe = b.services.bus.subscribe((m) => seen.push(m));
      const ev = await seedEvent(a.admin);
      const [t] = await issueTickets(a.admin, ev.eventId, [{ ticket_type_id: ev.types.ga }]);
      const d = await registerDevice(a.admin, 'Publisher');
      await a
        .client(d.token)
        .post('/api/v1/scanning/scan', { code: t!.code, event_id: ev.eventId, gate_id: ev.gates.main });
      const deadline = Date.now() + 1_000;
      while (Date.now() < deadline && !seen.some((m) => m.type === 'occupancy'))
        await new Promise((r) => setTimeout(r, 20));
      unsubscribe();
      expect(seen).toContainEqual(
        expect.objectContaining({ type: 'occupancy', eventId: ev.eventId, delta: 1, direction: 'entry' }),
      );
      expect(seen).toContainEqual(expect.objectContaining({ type: 'ticket_changed', ticketId: t!.id, version: 1 }));
    });
    it("a ticket type changed on one instance is in the other's next manifest at once (well inside its 30 s context cache)", async () => {
      const ev = await seedEvent(a.admin);
      await issueTickets(a.admin, ev.eventId, [{ ticket_type_id: ev.types.multi }]);
      const d = await registerDevice(a.admin, 'Manifest on B');
      const onB = b.client(d.token);
      const maxScans = async (): Promise<number> => {
        const r = await onB.get(`/api/v1/offline/manifest/${ev.eventId}?device_id=${d.deviceId}`);
        return r.body.manifest.ticket_types.find((t: { id: string }) => t.id === ev.types.multi).max_scans;
      };
      expect(await maxScans()).toBe(3);
      expect(
        (
          await a.admin.request('PATCH', `/api/v1/events/${ev.eventId}/ticket-types/${ev.types.multi}`, {
            max_scans: 1,
          })
        ).status,
      ).toBe(200);
      const deadline = Date.now() + 1_000;
      let seen = 3;
      while (Date.now() < deadline && seen !== 1) {
        seen = await maxScans();
        if (seen !== 1) await new Promise((r) => setTimeout(r, 20));
      }
      expect(seen).toBe(1);
    });
  },
);
