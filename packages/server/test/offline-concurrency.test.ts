import { afterAll, beforeAll, expect, it } from 'vitest';
import { openPostgres } from '../src/db/postgres.ts';
import type { Database } from '../src/db/database.ts';
import {
  describePostgres,
  freshPostgresDatabase,
  issueTickets,
  registerDevice,
  seedEvent,
  startTestServer,
  type TestServer,
} from './harness.ts';
import { TestDevice } from './offline-helpers.ts';

/**
 * Two devices upload overlapping offline scans of the same tickets at the same
 * time, through two server instances. Each sync transaction must see the
 * other's committed scans before it replays a ticket; the tickets' row locks
 * make it so. Without them (control), both uploads can each admit their own scan.
 */
describePostgres('devices syncing overlapping scans concurrently', () => {
  const TICKETS = 60;
  let drop: () => Promise<void>;
  let url: string;

  beforeAll(async () => {
    const fresh = await freshPostgresDatabase();
    url = fresh.url;
    drop = fresh.drop;
  });
  afterAll(async () => {
    await drop?.();
  });

  async function race(
    guard: boolean,
    batch: number,
  ): Promise<{ doubleAdmitted: number; wrongWinner: number; statuses: number[] }> {
    const dbs: Database[] = [openPostgres({ connectionString: url }), openPostgres({ connectionString: url })];
    const servers: TestServer[] = [];
    servers.push(await startTestServer(dbs[0]!, { unsafeDisableAdmissionGuard: !guard }));
    servers.push(
      await startTestServer(dbs[1]!, { unsafeDisableAdmissionGuard: !guard, adminToken: servers[0]!.adminToken }),
    );
    try {
      const ev = await seedEvent(servers[0]!.admin);
      const tickets = await issueTickets(
        servers[0]!.admin,
        ev.eventId,
        Array.from({ length: TICKETS }, () => ({ ticket_type_id: ev.types.ga })),
      );
      const a = await registerDevice(servers[0]!.admin, 'North');
      const b = await registerDevice(servers[0]!.admin, 'South');
      const north = new TestDevice(servers[0]!.client(a.token), a.deviceId, ev.eventId);
      const south = new TestDevice(servers[1]!.client(b.token), b.deviceId, ev.eventId);
      const t0 = Date.now() - 3600_000;
      // North was first on even tickets, South on odd ones; both scanned every ticket.
      tickets.forEach((t, i) => {
        north.scan({ code: t.code, at: t0 + i * 1000 + (i % 2 === 0 ? 0 : 500), gateId: ev.gates.main });
        south.scan({ code: t.code, at: t0 + i * 1000 + (i % 2 === 0 ? 500 : 0), gateId: ev.gates.main });
      });
      const statuses: number[] = [];
      const batches = async (d: TestDevice): Promise<void> => {
        for (let from = 1; from <= TICKETS; from += batch)
          statuses.push((await d.upload(from, from + batch - 1)).status);
      };
      await Promise.all([batches(north), batches(south)]);
      const rows = await dbs[0]!.query<{ ticket_id: string; device_id: string; record_status: string }>(
        `SELECT ticket_id, device_id, record_status FROM scans WHERE event_id = $1`,
        [ev.eventId],
      );
      let doubleAdmitted = 0;
      let wrongWinner = 0;
      tickets.forEach((t, i) => {
        const admitted = rows.filter((r) => r.ticket_id === t.id && r.record_status === 'admitted');
        if (admitted.length > 1) doubleAdmitted++;
        const expected = i % 2 === 0 ? north.deviceId : south.deviceId;
        if (admitted.length !== 1 || admitted[0]!.device_id !== expected) wrongWinner++;
      });
      return { doubleAdmitted, wrongWinner, statuses };
    } finally {
      for (const s of servers) await s.close();
      for (const db of dbs) await db.close();
    }
  }

  it('control: without the row locks, concurrent uploads admit the same ticket twice', async () => {
    // Whole-log uploads sent at the same moment overlap almost always; a few rounds make it certain.
    let doubleAdmitted = 0;
    for (let round = 0; round < 5 && doubleAdmitted === 0; round++) {
      const r = await race(false, TICKETS);
      expect(r.statuses.every((s) => s === 200)).toBe(true);
      doubleAdmitted = r.doubleAdmitted;
    }
    expect(doubleAdmitted).toBeGreaterThan(0);
  });

  it('with them, every ticket has exactly one admission of record: the earliest scan', async () => {
    for (const batch of [TICKETS, 10]) {
      const { doubleAdmitted, wrongWinner, statuses } = await race(true, batch);
      expect(statuses.every((s) => s === 200)).toBe(true);
      expect(doubleAdmitted).toBe(0);
      expect(wrongWinner).toBe(0);
    }
  });

  it('an instance whose cached ticket copies are stale falls back to the locked replay', async () => {
    // Without Redis the instances do not hear of each other's writes: instance A keeps version-0 copies
    // of tickets that B's upload has admitted since. A's compare-and-set must fail and its replay must
    // then see B's admissions, so the earlier scan (through A) still wins.
    const dbs: Database[] = [openPostgres({ connectionString: url }), openPostgres({ connectionString: url })];
    const a = await startTestServer(dbs[0]!);
    const b = await startTestServer(dbs[1]!, { adminToken: a.adminToken });
    try {
      const ev = await seedEvent(a.admin);
      const tickets = await issueTickets(
        a.admin,
        ev.eventId,
        Array.from({ length: 10 }, () => ({ ticket_type_id: ev.types.ga })),
      );
      const n = await registerDevice(a.admin, 'North');
      const s = await registerDevice(a.admin, 'South');
      const north = new TestDevice(a.client(n.token), n.deviceId, ev.eventId);
      const south = new TestDevice(b.client(s.token), s.deviceId, ev.eventId);
      const t0 = Date.now() - 3600_000;
      // A refused scan of every ticket through A: A now caches each ticket at version 0.
      for (const t of tickets)
        north.scan({ code: t.code, at: t0 - 60_000, gateId: ev.gates.main, localResult: 'wrong_gate' });
      expect((await north.upload()).status).toBe(200);
      for (const t of tickets) south.scan({ code: t.code, at: t0 + 5_000, gateId: ev.gates.main });
      const late = await south.upload();
      expect(late.body.summary.successful).toBe(10);
      for (const t of tickets) north.scan({ code: t.code, at: t0, gateId: ev.gates.main });
      const early = await north.upload(11, 20);
      expect(early.status).toBe(200);
      expect((early.body.results as Array<{ sync_status: string }>).every((r) => r.sync_status === 'synced')).toBe(
        true,
      );
      const rows = await dbs[0]!.query<{ device_id: string; record_status: string; n: number }>(
        `SELECT device_id, record_status, count(*)::int AS n FROM scans WHERE event_id = $1 AND admits GROUP BY 1, 2 ORDER BY 1, 2`,
        [ev.eventId],
      );
      expect(rows).toEqual(
        [
          { device_id: n.deviceId, record_status: 'admitted', n: 10 },
          { device_id: s.deviceId, record_status: 'conflict', n: 10 },
        ].sort((x, y) => x.device_id.localeCompare(y.device_id)),
      );
      const versions = await dbs[0]!.query<{ version: number }>(
        `SELECT DISTINCT version FROM tickets WHERE event_id = $1`,
        [ev.eventId],
      );
      expect(versions).toEqual([{ version: 2 }]);
    } finally {
      await a.close();
      await b.close();
      for (const db of dbs) await db.close();
    }
  });
});
