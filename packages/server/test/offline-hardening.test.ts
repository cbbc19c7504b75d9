import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toBase64Url } from '@entrada/core';
import {
  describeEachBackend, issueTickets, registerDevice, seedEvent, startTestServer, type SeededEvent, type TestDatabase, type TestServer,
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
  const tickets = async (n: number) => issueTickets(server.admin, ev.eventId, Array.from({ length: n }, () => ({ ticket_type_id: ev.types.ga })));
  const scanFlags = async (deviceId: string): Promise<string[][]> =>
    (await tdb.db.query<{ flags: string[] }>(`SELECT flags FROM scans WHERE device_id = $1 ORDER BY seq`, [deviceId])).map((r) => r.flags);
  const conflictsOf = async (ticketId: string) =>
    (await server.admin.get(`/api/v1/events/${ev.eventId}/conflicts`)).body.conflicts.filter((c: { ticket: { id: string } }) => c.ticket.id === ticketId);

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
          expect(r.body.results[0].sync_status).toEqual(attempt === 0 ? expect.stringMatching(/^(synced|conflict)$/) : 'duplicate');
          expect(Math.abs(r.body.clock_offset_ms - (at + 2_000 - Date.now()))).toBeLessThan(60_000);
        }
        expect(await scanFlags(skewed.deviceId)).toEqual([expect.arrayContaining(['implausible_time'])]);
        const status = (await skewed.client.get(`/api/v1/offline/sync/status/${ev.eventId}/${skewed.deviceId}`)).body;
        expect(status).toMatchObject({ acked_through: 1, flags: expect.arrayContaining(['implausible_time']) });
        expect(Math.abs(status.clock_offset_ms - (at + 2_000 - Date.now()))).toBeLessThan(60_000);
        const health = (await server.admin.get(`/api/v1/events/${ev.eventId}/offline-health`)).body;
        expect(health.alerts).toContainEqual(expect.objectContaining({ code: 'DEVICE_IMPLAUSIBLE_TIME', device_id: skewed.deviceId }));
        expect(health.devices.find((d: { device_id: string }) => d.device_id === skewed.deviceId)).toMatchObject({ implausible_time_scans: 1 });
        // Whichever scan won, the decision between them is for a person to review, and says why.
        const [c] = await conflictsOf(t!.id);
        expect(c).toMatchObject({ ambiguous: true, status: 'open' });
        const skewedSide = c.loser.device_id === skewed.deviceId ? c.loser : c.winner;
        expect(skewedSide).toMatchObject({ device_id: skewed.deviceId, flags: expect.arrayContaining(['implausible_time']) });
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
          format: 'entrada/device-log/v1', event_id: ev.eventId, device_id: d.deviceId, exported_at: at + 3_000,
          public_key: toBase64Url(d.keys!.publicKey), scans: body.scans, integrity: body.integrity,
        };
        const r = await server.admin.post('/api/v1/offline/import', file);
        expect(r.status).toBe(200);
        expect(r.body).toMatchObject({ integrity: 'chain', acked_through: 2, summary: { total_uploaded: 2, successful: 2 } });
        expect(await scanFlags(d.deviceId)).toEqual([expect.arrayContaining(['implausible_time']), expect.arrayContaining(['implausible_time'])]);
        expect((await server.admin.post('/api/v1/offline/import', file)).body.summary).toMatchObject({ duplicates: 2 });
      });
    }

    it('a log exported 25 days ago by a device with a right clock imports without a clock flag', async () => {
      const at = Date.now() - 25 * 86_400_000;
      const old = await seedEvent(server.admin, { starts_at: new Date(at - 86_400_000).toISOString(), ends_at: new Date(at + 86_400_000).toISOString() });
      const [t] = await issueTickets(server.admin, old.eventId, [{ ticket_type_id: old.types.ga }]);
      const d = await registerDevice(server.admin, 'Exported last month');
      const td = new TestDevice(server.client(d.token), d.deviceId, old.eventId);
      td.scan({ code: t!.code, at, gateId: old.gates.main });
      const file = { format: 'entrada/device-log/v1', event_id: old.eventId, device_id: d.deviceId, exported_at: at + 60_000, public_key: null, scans: td.body(1, 1).scans, integrity: null };
      const r = await server.admin.post('/api/v1/offline/import', file);
      expect(r.status).toBe(200);
      expect(r.body.summary).toMatchObject({ successful: 1 });
      expect(await scanFlags(d.deviceId)).toEqual([[]]);
      expect((await server.admin.get(`/api/v1/tickets/${t!.id}`)).body.scans_used).toBe(1);
    });
  });
});
