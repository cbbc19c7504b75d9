import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toBase64Url } from '@entrada/core';
import {
  describeEachBackend,
  eventually,
  issueTickets,
  registerDevice,
  seedEvent,
  startTestServer,
  type SeededEvent,
  type TestDatabase,
  type TestServer,
} from './harness.ts';
import { TestDevice } from './offline-helpers.ts';

const YEAR_MS = 365 * 86_400_000;

/** Device clocks a sync and an import must survive (issue #10, item 2): every one is stored and flagged, none refused. */
function deviceClocks(now: number): Array<{ name: string; at: number }> {
  return [
    { name: 'at the epoch (device_time 0)', at: 0 },
    { name: 'in 1970', at: Date.UTC(1970, 0, 2, 12) },
    { name: 'in 2000', at: Date.UTC(2000, 0, 1, 12) },
    { name: '25 days behind', at: now - 25 * 86_400_000 },
    { name: 'a year behind', at: now - YEAR_MS },
    { name: 'a year ahead', at: now + YEAR_MS },
  ];
}

describeEachBackend('offline hardening', (backend) => {
  let tdb: TestDatabase;
  let server: TestServer;
  let ev: SeededEvent;

  beforeAll(async () => {
    tdb = await backend.open();
    server = await startTestServer(tdb.db);
    ev = await seedEvent(server.admin);
  });
  afterAll(async () => {
    await server?.close();
    await tdb?.drop();
  });

  let seed = 90;
  const device = async (name: string, keyed = false): Promise<TestDevice> => {
    const keys = keyed ? TestDevice.keyPair(seed++) : null;
    const d = await registerDevice(server.admin, name, keys ? { public_key: toBase64Url(keys.publicKey) } : {});
    const td = new TestDevice(server.client(d.token), d.deviceId, ev.eventId);
    td.keys = keys;
    return td;
  };
  const tickets = async (n: number) =>
    issueTickets(
      server.admin,
      ev.eventId,
      Array.from({ length: n }, () => ({ ticket_type_id: ev.types.ga })),
    );
  const scanFlags = async (deviceId: string): Promise<string[][]> =>
    (
      await tdb.db.query<{ flags: string[] }>(`SELECT flags FROM scans WHERE device_id = $1 ORDER BY seq`, [deviceId])
    ).map((r) => r.flags);
  const conflictsOf = async (ticketId: string) =>
    (await server.admin.get(`/api/v1/events/${ev.eventId}/conflicts`)).body.conflicts.filter(
      (c: { ticket: { id: string } }) => c.ticket.id === ticketId,
    );

  describe('device clocks far off (item 2)', () => {
    for (const { name, at } of deviceClocks(Date.now())) {
      it(`sync: a device whose clock is ${name} is stored, flagged implausible_time, and its decisions go to review`, async () => {
        const [t] = await tickets(1);
        // A device with a right clock admitted the ticket a minute ago; the skewed one admits it too.
        const right = await device(`Right clock ${name}`);
        right.scan({ code: t!.code, at: Date.now() - 60_000, gateId: ev.gates.main });
        expect((await right.upload()).status).toBe(200);
        const skewed = await device(`Clock ${name}`, true);
        skewed.scan({ code: t!.code, at: at + 1_000, gateId: ev.gates.main });
        for (let attempt = 0; attempt < 2; attempt++) {
          const r = await skewed.upload(1, 1, { device_time: at + 2_000 });
          expect(r.status).toBe(200);
          expect(r.body.results[0].sync_status).toEqual(
            attempt === 0 ? expect.stringMatching(/^(synced|conflict)$/) : 'duplicate',
          );
          expect(Math.abs(r.body.clock_offset_ms - (at + 2_000 - Date.now()))).toBeLessThan(60_000);
        }
        expect(await scanFlags(skewed.deviceId)).toEqual([expect.arrayContaining(['implausible_time'])]);
        const status = (await skewed.client.get(`/api/v1/offline/sync/status/${ev.eventId}/${skewed.deviceId}`)).body;
        expect(status).toMatchObject({ acked_through: 1, flags: expect.arrayContaining(['implausible_time']) });
        expect(Math.abs(status.clock_offset_ms - (at + 2_000 - Date.now()))).toBeLessThan(60_000);
        const health = (await server.admin.get(`/api/v1/events/${ev.eventId}/offline-health`)).body;
        expect(health.alerts).toContainEqual(
          expect.objectContaining({ code: 'DEVICE_IMPLAUSIBLE_TIME', device_id: skewed.deviceId }),
        );
        expect(health.devices.find((d: { device_id: string }) => d.device_id === skewed.deviceId)).toMatchObject({
          implausible_time_scans: 1,
        });
        // Whichever scan won, the decision between them is for a person to review, and says why.
        const [c] = await conflictsOf(t!.id);
        expect(c).toMatchObject({ ambiguous: true, status: 'open' });
        const skewedSide = c.loser.device_id === skewed.deviceId ? c.loser : c.winner;
        expect(skewedSide).toMatchObject({
          device_id: skewed.deviceId,
          flags: expect.arrayContaining(['implausible_time']),
        });
      });
    }

    for (const { name, at } of deviceClocks(Date.now())) {
      it(`import: the log of a device whose clock was ${name} is stored and flagged implausible_time`, async () => {
        const [a, b] = await tickets(2);
        const d = await device(`Exported ${name}`, true);
        d.scan({ code: a!.code, at: at + 1_000, gateId: ev.gates.main });
        d.scan({ code: b!.code, at: at + 2_000, gateId: ev.gates.main });
        const body = d.body(1, 2);
        const file = {
          format: 'entrada/device-log/v1',
          event_id: ev.eventId,
          device_id: d.deviceId,
          exported_at: at + 3_000,
          public_key: toBase64Url(d.keys!.publicKey),
          scans: body.scans,
          integrity: body.integrity,
        };
        const r = await server.admin.post('/api/v1/offline/import', file);
        expect(r.status).toBe(200);
        expect(r.body).toMatchObject({
          integrity: 'chain',
          acked_through: 2,
          summary: { total_uploaded: 2, successful: 2 },
        });
        expect(await scanFlags(d.deviceId)).toEqual([
          expect.arrayContaining(['implausible_time']),
          expect.arrayContaining(['implausible_time']),
        ]);
        expect((await server.admin.post('/api/v1/offline/import', file)).body.summary).toMatchObject({ duplicates: 2 });
      });
    }

    it('a log exported 25 days ago by a device with a right clock imports without a clock flag', async () => {
      const at = Date.now() - 25 * 86_400_000;
      const old = await seedEvent(server.admin, {
        starts_at: new Date(at - 86_400_000).toISOString(),
        ends_at: new Date(at + 86_400_000).toISOString(),
      });
      const [t] = await issueTickets(server.admin, old.eventId, [{ ticket_type_id: old.types.ga }]);
      const d = await registerDevice(server.admin, 'Exported last month');
      const td = new TestDevice(server.client(d.token), d.deviceId, old.eventId);
      td.scan({ code: t!.code, at, gateId: old.gates.main });
      const file = {
        format: 'entrada/device-log/v1',
        event_id: old.eventId,
        device_id: d.deviceId,
        exported_at: at + 60_000,
        public_key: null,
        scans: td.body(1, 1).scans,
        integrity: null,
      };
      const r = await server.admin.post('/api/v1/offline/import', file);
      expect(r.status).toBe(200);
      expect(r.body.summary).toMatchObject({ successful: 1 });
      expect(await scanFlags(d.deviceId)).toEqual([[]]);
      expect((await server.admin.get(`/api/v1/tickets/${t!.id}`)).body.scans_used).toBe(1);
    });
  });

  describe('one physical scan, one row (also fix)', () => {
    for (const attempt of ['admitted', 'refused'] as const) {
      it(`an online attempt ${attempt} whose answer the device never got, uploaded again offline with its scan_id, stays one row; the chain goes on from it`, async () => {
        const d = await device(`Timed out, ${attempt}`, true);
        const [t, u] = await tickets(2);
        if (attempt === 'refused') {
          const first = await device('Got there first');
          first.scan({ code: t!.code, at: Date.now() - 60_000, gateId: ev.gates.main });
          expect((await first.upload()).status).toBe(200);
        }
        const scanId = crypto.randomUUID();
        const live = await d.client.post('/api/v1/scanning/scan', {
          code: t!.code,
          event_id: ev.eventId,
          gate_id: ev.gates.main,
          scan_id: scanId,
        });
        expect(live.body.result).toBe(attempt === 'refused' ? 'duplicate' : 'valid');
        // The device timed out, decided offline with the attempt's id, and uploads that copy (twice: the first answer was lost too).
        d.scan({ code: t!.code, at: Date.now(), gateId: ev.gates.main, scanId, localResult: 'valid' });
        const r = await d.upload(1, 1);
        expect(r.status).toBe(200);
        expect(r.body.results[0]).toMatchObject({
          sync_status: 'duplicate',
          reason: 'received_online',
          verdict: attempt === 'refused' ? 'rejected' : 'admitted',
        });
        expect(r.body.acked_through).toBe(1);
        expect((await d.upload(1, 1)).body.results[0]).toMatchObject({ sync_status: 'duplicate' });
        const rows = await tdb.db.query<{ id: string; source: string; seq: number }>(
          `SELECT id, source, seq::float8 AS seq FROM scans WHERE device_id = $1`,
          [d.deviceId],
        );
        expect(rows).toEqual([{ id: scanId, source: 'online', seq: 1 }]);
        // The next upload connects to the online row's chain link.
        d.scan({ code: u!.code, at: Date.now(), gateId: ev.gates.main });
        const next = await d.upload(2, 2);
        expect(next.body.results[0]).toMatchObject({ sync_status: 'synced', verdict: 'admitted' });
        expect(next.body).toMatchObject({ acked_through: 2, missing: [] });
        expect((await server.admin.get(`/api/v1/offline/sync/status/${ev.eventId}/${d.deviceId}`)).body.flags).toEqual(
          [],
        );
        expect((await server.admin.get(`/api/v1/tickets/${t!.id}`)).body.scans_used).toBe(1);
      });
    }
  });

  describe('no half-applied batch, no stuck device (item 5)', () => {
    it('sync: two scans of one upload sharing a scan_id are both stored and answered per scan, on every try', async () => {
      const d = await device('Reuses ids', true);
      const [a, b, c] = await tickets(3);
      const id = crypto.randomUUID();
      d.scan({ code: a!.code, at: Date.now() - 3_000, gateId: ev.gates.main, scanId: id });
      d.scan({ code: b!.code, at: Date.now() - 2_000, gateId: ev.gates.main });
      d.scan({ code: c!.code, at: Date.now() - 1_000, gateId: ev.gates.main, scanId: id });
      const r = await d.upload();
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ acked_through: 3, missing: [], summary: { successful: 3, failed: 0 } });
      expect(r.body.results[0]).toMatchObject({ sync_status: 'synced', message: 'Synced successfully' });
      expect(r.body.results[2]).toMatchObject({ sync_status: 'synced', verdict: 'admitted' });
      expect(r.body.results[2].message).toMatch(/scan_id repeats seq 1's: ignored/);
      expect((await d.upload()).body.summary).toMatchObject({ duplicates: 3 });
      // The scan happened: its admission counts; the device is flagged for carrying a repeated id.
      expect((await server.admin.get(`/api/v1/tickets/${c!.id}`)).body.scans_used).toBe(1);
      expect((await server.admin.get(`/api/v1/offline/sync/status/${ev.eventId}/${d.deviceId}`)).body.flags).toContain(
        'scan_id_reused',
      );
      expect(await scanFlags(d.deviceId)).toEqual([[], [], ['scan_id_reused']]);
    });

    it("sync: a scan carrying the scan_id of a scan stored earlier, or of another device's online scan, is stored apart", async () => {
      const d = await device('Reuses ids later', true);
      const other = await device('Scans online');
      const [a, b, c] = await tickets(3);
      const mine = crypto.randomUUID();
      const theirs = crypto.randomUUID();
      expect(
        (
          await other.client.post('/api/v1/scanning/scan', {
            code: c!.code,
            event_id: ev.eventId,
            gate_id: ev.gates.main,
            scan_id: theirs,
          })
        ).body.result,
      ).toBe('valid');
      d.scan({ code: a!.code, at: Date.now() - 3_000, gateId: ev.gates.main, scanId: mine });
      expect((await d.upload(1, 1)).status).toBe(200);
      d.scan({ code: b!.code, at: Date.now() - 2_000, gateId: ev.gates.main, scanId: mine });
      d.scan({ code: c!.code, at: Date.now() + 1_000, gateId: ev.gates.main, scanId: theirs });
      for (let i = 0; i < 2; i++) {
        const r = await d.upload(2, 3);
        expect(r.status).toBe(200);
        expect(r.body.acked_through).toBe(3);
        if (i === 1) continue;
        expect(r.body.results[0]).toMatchObject({ sync_status: 'synced' });
        expect(r.body.results[0].message).toMatch(/repeats seq 1's/);
        // Another device's online admission of the same ticket: this scan is a double entry, not that scan.
        expect(r.body.results[1]).toMatchObject({ sync_status: 'conflict' });
        expect(r.body.results[1].message).toMatch(/belongs to another device's scan/);
      }
      expect((await server.admin.get(`/api/v1/tickets/${c!.id}`)).body.scans_used).toBe(1);
    });

    it('reconcile covering two events: a time the database cannot hold in the second is answered per scan, the rest of both stored', async () => {
      const d = await device('Legacy, two events');
      const second = await seedEvent(server.admin);
      const [a] = await tickets(1);
      const [b, c] = await issueTickets(server.admin, second.eventId, [
        { ticket_type_id: second.types.ga },
        { ticket_type_id: second.types.ga },
      ]);
      const at = new Date(Date.now() - 60_000).toISOString();
      const body = {
        device_id: d.deviceId,
        scans: [
          { ticket_id: a!.id, scanned_at: at, result: 'ALLOW' },
          { ticket_id: b!.id, scanned_at: at, result: 'ALLOW' },
          { ticket_id: c!.id, scanned_at: '-200000-01-01T00:00:00Z', result: 'ALLOW' },
        ],
      };
      for (let attempt = 0; attempt < 2; attempt++) {
        const r = await d.client.post('/api/v1/offline/reconcile', body);
        expect(r.status).toBe(200);
        expect(r.body.results.map((x: { status: string }) => x.status)).toEqual(
          attempt === 0 ? ['SUCCESS', 'SUCCESS', 'ERROR'] : ['DUPLICATE', 'DUPLICATE', 'ERROR'],
        );
        expect(r.body.results[2].message).toMatch(/scanned_at/);
      }
      expect((await server.admin.get(`/api/v1/tickets/${a!.id}`)).body.scans_used).toBe(1);
      expect((await server.admin.get(`/api/v1/tickets/${b!.id}`)).body.scans_used).toBe(1);
      expect((await server.admin.get(`/api/v1/tickets/${c!.id}`)).body.scans_used).toBe(0);
    });

    it("reconcile covering two events: a failure in the second leaves the first one's scans unapplied", async () => {
      const d = await device('Legacy, fails late');
      const second = await seedEvent(server.admin);
      const [a] = await tickets(1);
      const [b] = await issueTickets(server.admin, second.eventId, [{ ticket_type_id: second.types.ga }]);
      const at = new Date(Date.now() - 60_000).toISOString();
      const body = {
        device_id: d.deviceId,
        scans: [
          { ticket_id: a!.id, scanned_at: at, result: 'ALLOW' },
          { ticket_id: b!.id, scanned_at: at, result: 'ALLOW' },
        ],
      };
      await tdb.db.exec(`
        CREATE FUNCTION test_fail_event() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF NEW.event_id = '${second.eventId}' THEN RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$;
        CREATE TRIGGER test_fail_event BEFORE INSERT ON scans FOR EACH ROW EXECUTE FUNCTION test_fail_event();`);
      try {
        expect((await d.client.post('/api/v1/offline/reconcile', body)).status).toBe(500);
      } finally {
        await tdb.db.exec(`DROP TRIGGER test_fail_event ON scans; DROP FUNCTION test_fail_event();`);
      }
      expect((await server.admin.get(`/api/v1/tickets/${a!.id}`)).body.scans_used).toBe(0);
      expect(
        (
          await tdb.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM scans WHERE device_id = $1`, [d.deviceId])
        )[0]!.n,
      ).toBe(0);
      const again = await d.client.post('/api/v1/offline/reconcile', body);
      expect(again.body).toMatchObject({ reconciled: 2, failed: 0 });
    });

    it('import: 6,000 scans of which two share a scan_id are all stored, in one go, and answered per scan', async () => {
      const d = await device('Long shift', true);
      const issued = await issueTickets(
        server.admin,
        ev.eventId,
        Array.from({ length: 6_000 }, () => ({ ticket_type_id: ev.types.ga })),
      );
      const id = crypto.randomUUID();
      const t0 = Date.now() - 3_600_000;
      issued.forEach((t, i) =>
        d.scan({
          code: t.code,
          at: t0 + i * 100,
          gateId: ev.gates.main,
          ...(i === 2 || i === 5_500 ? { scanId: id } : {}),
        }),
      );
      const body = d.body(1, 6_000);
      const file = {
        format: 'entrada/device-log/v1',
        event_id: ev.eventId,
        device_id: d.deviceId,
        exported_at: Date.now(),
        public_key: toBase64Url(d.keys!.publicKey),
        scans: body.scans,
        integrity: body.integrity,
      };
      for (let attempt = 0; attempt < 2; attempt++) {
        const r = await server.admin.post('/api/v1/offline/import', file);
        expect(r.status).toBe(200);
        expect(r.body).toMatchObject({ integrity: 'chain', acked_through: 6_000, missing: [] });
        expect(r.body.summary).toMatchObject(
          attempt === 0 ? { total_uploaded: 6_000, successful: 6_000 } : { duplicates: 6_000 },
        );
      }
      expect(
        (
          await tdb.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM scans WHERE device_id = $1`, [d.deviceId])
        )[0]!.n,
      ).toBe(6_000);
      expect((await server.admin.get(`/api/v1/tickets/${issued[5_500]!.id}`)).body.scans_used).toBe(1);
    });

    it('import: a failure in its last chunk leaves nothing of the first ones applied, and the import can be run again', async () => {
      const d = await device('Fails late', true);
      const issued = await issueTickets(
        server.admin,
        ev.eventId,
        Array.from({ length: 5_002 }, () => ({ ticket_type_id: ev.types.ga })),
      );
      const t0 = Date.now() - 3_600_000;
      issued.forEach((t, i) => d.scan({ code: t.code, at: t0 + i * 100, gateId: ev.gates.main }));
      const body = d.body(1, 5_002);
      const file = {
        format: 'entrada/device-log/v1',
        event_id: ev.eventId,
        device_id: d.deviceId,
        exported_at: Date.now(),
        public_key: toBase64Url(d.keys!.publicKey),
        scans: body.scans,
        integrity: body.integrity,
      };
      // A real database failure, injected: the second chunk's insert fails.
      await tdb.db.exec(`
        CREATE FUNCTION test_fail_seq() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF NEW.device_id = '${d.deviceId}' AND NEW.seq = 5002 THEN RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$;
        CREATE TRIGGER test_fail_seq BEFORE INSERT ON scans FOR EACH ROW EXECUTE FUNCTION test_fail_seq();`);
      try {
        const r = await server.admin.post('/api/v1/offline/import', file);
        expect(r.status).toBe(500);
      } finally {
        await tdb.db.exec(`DROP TRIGGER test_fail_seq ON scans; DROP FUNCTION test_fail_seq();`);
      }
      expect(
        (
          await tdb.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM scans WHERE device_id = $1`, [d.deviceId])
        )[0]!.n,
      ).toBe(0);
      expect((await server.admin.get(`/api/v1/tickets/${issued[0]!.id}`)).body.scans_used).toBe(0);
      const again = await server.admin.post('/api/v1/offline/import', file);
      expect(again.body).toMatchObject({ acked_through: 5_002, summary: { successful: 5_002 } });
    });
  });

  describe('the losing side learns late (item 11)', () => {
    it('a scan that loses when an earlier scan arrives later is reported to its device; the totals equal the double entries', async () => {
      const a = await device('Scans later, uploads first');
      const b = await device('Scans earlier, uploads later');
      const ts = await tickets(5);
      const base = Date.now() - 600_000;
      // Tickets 0-2: A admits them a minute after B did, and uploads first. Tickets 3-4: A admits them first.
      ts.forEach((t, i) => {
        a.scan({ code: t.code, at: base + (i < 3 ? 60_000 : 0) + i, gateId: ev.gates.main });
        b.scan({ code: t.code, at: base + (i < 3 ? 0 : 60_000) + i, gateId: ev.gates.main });
      });
      const upA = await a.upload();
      const upB = await b.upload();
      // The answers alone: A heard "synced" five times, B "conflict" twice. Three double entries were nobody's to hear.
      expect(upA.body.summary).toMatchObject({ successful: 5, conflicts: 0 });
      expect(upB.body.summary).toMatchObject({ successful: 3, conflicts: 2 });
      const doubleEntries = (await Promise.all(ts.map((t) => conflictsOf(t.id)))).flat();
      expect(doubleEntries).toHaveLength(5);

      // A's next feed read (a scanner reads only its double entries) says which of its scans lost since.
      const late = await eventually(async () => {
        const feed = await a.client.get(`/api/v1/offline/events?event_id=${ev.eventId}&only=double_entries&limit=5000`);
        const own = feed.body.events.filter(
          (e: { kind: string; device_id: string }) => e.kind === 'scan' && e.device_id === a.deviceId,
        );
        expect(own.map((e: { seq: number }) => e.seq).sort()).toEqual([1, 2, 3]);
        return own;
      });
      for (const e of late)
        expect(e).toMatchObject({ verdict: 'conflict', conflict_reason: 'already_used', revision: 1 });
      // Each device's status view counts its losing scans, whenever it learned them.
      const status = async (d: TestDevice) =>
        (await d.client.get(`/api/v1/offline/sync/status/${ev.eventId}/${d.deviceId}`)).body;
      expect((await status(a)).conflicts).toBe(3);
      expect((await status(b)).conflicts).toBe(2);
      expect(late.length + upA.body.summary.conflicts + upB.body.summary.conflicts).toBe(doubleEntries.length);
      // B's double-entries view shows A's two losing scans (the winning side), not A's three as its own.
      await eventually(async () => {
        const feed = await b.client.get(`/api/v1/offline/events?event_id=${ev.eventId}&only=double_entries&limit=5000`);
        const scans = feed.body.events.filter((e: { kind: string }) => e.kind === 'scan');
        expect(scans.map((e: { device_id: string; seq: number }) => [e.device_id, e.seq]).sort()).toEqual([
          [a.deviceId, 1],
          [a.deviceId, 2],
          [a.deviceId, 3],
        ]);
      });
    });
  });
});
