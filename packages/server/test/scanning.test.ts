import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  describeEachBackend,
  issueTickets,
  registerDevice,
  seedEvent,
  startTestServer,
  type Client,
  type SeededEvent,
  type TestDatabase,
  type TestServer,
} from './harness.ts';

describeEachBackend('online scanning', (backend) => {
  let tdb: TestDatabase;
  let server: TestServer;
  let ev: SeededEvent;
  let clock = Date.now();
  let devA: Client;
  let devB: Client;
  let devAId: string;

  beforeAll(async () => {
    tdb = await backend.open();
    server = await startTestServer(tdb.db, { now: () => clock });
    ev = await seedEvent(server.admin);
    const a = await registerDevice(server.admin, 'Scanner A');
    const b = await registerDevice(server.admin, 'Scanner B');
    devA = server.client(a.token);
    devB = server.client(b.token);
    devAId = a.deviceId;
  });
  afterAll(async () => {
    await server?.close();
    await tdb?.drop();
  });

  const scan = (
    dev: Client,
    code: string,
    gate = ev.gates.main,
    direction: 'entry' | 'exit' = 'entry',
    extra: Record<string, unknown> = {},
  ) => dev.post('/api/v1/scanning/scan', { code, event_id: ev.eventId, gate_id: gate, direction, ...extra });
  const ticket = async (type: keyof SeededEvent['types'], extra: Record<string, unknown> = {}) =>
    (
      await issueTickets(server.admin, ev.eventId, [
        { ticket_type_id: ev.types[type], holder_name: 'Ada Lovelace', ...extra },
      ])
    )[0]!;

  it('admits a valid ticket once and names the ticket', async () => {
    const t = await ticket('ga');
    const r = await scan(devA, t.code);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      result: 'valid',
      reason: 'admitted',
      direction: 'entry',
      ticket: { id: t.id, number: t.number, tier: 'GA', holder_name: 'Ada Lovelace', scans_used: 1, max_scans: 1 },
      scanned_by: devAId,
      scanned_by_name: 'Scanner A',
    });
    expect(r.body.scan_id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers a double read by the same device as duplicate without using an entry', async () => {
    const t = await ticket('multi');
    expect((await scan(devA, t.code)).body.result).toBe('valid');
    clock += 10_000;
    const again = await scan(devA, t.code);
    expect(again.body).toMatchObject({ result: 'duplicate', reason: 'double_read', ticket: { scans_used: 1 } });
    expect(again.body.message).toBe('Already admitted 10 s ago at this gate');
  });

  it('says where and when a used ticket was first admitted', async () => {
    const t = await ticket('ga');
    const first = await scan(devA, t.code);
    clock += 60_000;
    const r = await scan(devB, t.code);
    expect(r.body).toMatchObject({
      result: 'duplicate',
      reason: 'already_used',
      scanned_by: devAId,
      scanned_by_name: 'Scanner A',
      first_scanned_at: first.body.scanned_at,
      previous_gate: 'Main',
    });
    expect(r.body.message).toMatch(/^Already used at Main at \d\d:\d\d$/);
  });

  it('after the duplicate window a repeat by the same device is already used', async () => {
    const t = await ticket('ga');
    await scan(devA, t.code);
    clock += 301_000;
    expect((await scan(devA, t.code)).body).toMatchObject({ result: 'duplicate', reason: 'already_used' });
  });

  it('multi-entry passes admit max_scans times across devices', async () => {
    const t = await ticket('multi');
    expect((await scan(devA, t.code)).body.result).toBe('valid');
    expect((await scan(devB, t.code)).body.result).toBe('valid');
    clock += 301_000;
    expect((await scan(devA, t.code)).body).toMatchObject({ result: 'valid', ticket: { scans_used: 3 } });
    expect((await scan(devB, t.code)).body).toMatchObject({ result: 'duplicate', reason: 'already_used' });
  });

  it('re-entry after an exit is free; entry while inside is refused', async () => {
    const t = await ticket('reentry');
    expect((await scan(devA, t.code)).body.reason).toBe('admitted');
    expect((await scan(devB, t.code)).body).toMatchObject({ result: 'duplicate', reason: 'already_inside' });
    expect((await scan(devB, t.code, ev.gates.any, 'exit')).body).toMatchObject({ result: 'valid', reason: 'exited' });
    expect((await scan(devA, t.code)).body).toMatchObject({
      result: 'valid',
      reason: 're_entry',
      ticket: { scans_used: 1 },
    });
  });

  it('without re-entry an exit does not give the entry back', async () => {
    const t = await ticket('ga');
    await scan(devA, t.code);
    await scan(devB, t.code, ev.gates.main, 'exit');
    expect((await scan(devB, t.code)).body).toMatchObject({ result: 'duplicate', reason: 'already_used' });
  });

  it('an exit of a ticket that never entered is valid but changes no occupancy', async () => {
    const t = await ticket('ga');
    const before = (await server.admin.get(`/api/v1/events/${ev.eventId}/occupancy`)).body.inside;
    expect((await scan(devA, t.code, ev.gates.main, 'exit')).body).toMatchObject({
      result: 'valid',
      reason: 'exit_not_inside',
    });
    expect((await server.admin.get(`/api/v1/events/${ev.eventId}/occupancy`)).body.inside).toBe(before);
  });

  it('refuses the wrong gate and says where to go', async () => {
    const t = await ticket('ga');
    const r = await scan(devA, t.code, ev.gates.vip);
    expect(r.body).toMatchObject({ result: 'wrong_gate', reason: 'wrong_gate' });
    expect(r.body.message).toBe('Wrong gate — go to Main or Any');
    expect((await scan(devA, t.code, ev.gates.any)).body.result).toBe('valid');
  });

  it('refuses cancelled and blocked tickets', async () => {
    const c = await ticket('ga');
    expect((await server.admin.post(`/api/v1/tickets/${c.id}/cancel`, { reason: 'refunded' })).status).toBe(200);
    expect((await scan(devA, c.code)).body).toMatchObject({
      result: 'cancelled',
      reason: 'cancelled',
      message: 'Ticket cancelled',
    });
    const b = await ticket('ga');
    expect((await server.admin.post(`/api/v1/tickets/${b.id}/block`)).status).toBe(200);
    expect((await scan(devA, b.code)).body).toMatchObject({ result: 'cancelled', reason: 'blocked' });
  });

  it('a cancellation reaches a scanner whose cache already holds the ticket', async () => {
    const t = await ticket('multi');
    expect((await scan(devA, t.code)).body.result).toBe('valid');
    await server.admin.post(`/api/v1/tickets/${t.id}/cancel`);
    clock += 301_000;
    expect((await scan(devB, t.code)).body.result).toBe('cancelled');
  });

  it('refuses tickets outside their validity window, in the event time zone', async () => {
    const future = new Date(clock + 3 * 3600_000).toISOString();
    const later = (
      await server.admin.post(`/api/v1/events/${ev.eventId}/ticket-types`, {
        name: 'Later',
        zone_ids: [],
        valid_from: future,
      })
    ).body.id;
    const t1 = (await issueTickets(server.admin, ev.eventId, [{ ticket_type_id: later }]))[0]!;
    const r = await scan(devA, t1.code);
    expect(r.body).toMatchObject({ result: 'not_valid_now', reason: 'not_yet_valid' });
    // The time alone on the same day in the event's time zone, with the date when it falls on another (3 h on may cross midnight).
    const day = (ms: number): string => new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Amsterdam' }).format(ms);
    expect(r.body.message).toMatch(
      day(clock) === day(clock + 3 * 3600_000)
        ? /^Not valid until \d\d:\d\d$/
        : /^Not valid until \d{4}-\d\d-\d\d \d\d:\d\d$/,
    );
    const past = (
      await server.admin.post(`/api/v1/events/${ev.eventId}/ticket-types`, {
        name: 'Earlier',
        zone_ids: [],
        valid_until: new Date(clock - 60_000).toISOString(),
      })
    ).body.id;
    const t2 = (await issueTickets(server.admin, ev.eventId, [{ ticket_type_id: past }]))[0]!;
    expect((await scan(devA, t2.code)).body).toMatchObject({ result: 'not_valid_now', reason: 'expired' });
  });

  it('answers garbage, forged and unknown codes with invalid_token, never an HTTP error', async () => {
    const t = await ticket('ga');
    const flipped = t.code.slice(0, 40) + (t.code[40] === 'A' ? 'B' : 'A') + t.code.slice(41);
    const cases: Array<[string, string]> = [
      ['', 'malformed_code'],
      ['\u0000\u0001binary', 'malformed_code'],
      ['x'.repeat(300), 'malformed_code'],
      ['not-a-ticket', 'unknown_code'],
      [flipped, 'bad_signature'],
    ];
    // Over a socket: the claim is about what an HTTP client sees.
    const overHttp = server.httpClient(devA.token);
    for (const [code, reason] of cases) {
      const r = await scan(overHttp, code);
      expect(r.status, code).toBe(200);
      expect(r.body, code).toMatchObject({ result: 'invalid_token', ticket: null });
      if (reason === 'bad_signature') expect(['bad_signature', 'unknown_code']).toContain(r.body.reason);
      else expect(r.body.reason, code).toBe(reason);
      expect(r.body.message).toMatch(/^Invalid ticket/);
    }
  });

  it('imported codes scan like issued ones; codes are matched exactly', async () => {
    const t = await ticket('ga', { code: 'LEGACY-000123' });
    expect(t.code).toBe('LEGACY-000123');
    expect((await scan(devA, 'legacy-000123')).body.result).toBe('invalid_token');
    expect((await scan(devA, 'LEGACY-000123\r\n')).body.result).toBe('valid');
  });

  it('answers wrong_event for a genuine signed ticket of another event of the organisation', async () => {
    const other = await seedEvent(server.admin);
    const [signed, imported] = await issueTickets(server.admin, other.eventId, [
      { ticket_type_id: other.types.ga },
      { ticket_type_id: other.types.ga, code: 'OTHER-EVENT-1' },
    ]);
    expect((await scan(devA, signed!.code)).body).toMatchObject({
      result: 'wrong_event',
      message: 'Ticket is for another event',
    });
    // Imported codes are matched in the scanned event only (as the sync and the scanners, which hold no other event's digests).
    expect((await scan(devA, imported!.code)).body).toMatchObject({ result: 'invalid_token', reason: 'unknown_code' });
  });

  it('records every attempt, rejected ones and unknown codes included', async () => {
    const t = await ticket('ga');
    await scan(devA, t.code);
    await scan(devB, t.code);
    await scan(devA, t.code, ev.gates.vip);
    const view = await server.admin.get(`/api/v1/tickets/${t.id}`);
    expect(view.body.scans.map((s: { result: string }) => s.result)).toEqual(['valid', 'duplicate', 'wrong_gate']);
    expect(view.body.scans[0]).toMatchObject({ source: 'online', direction: 'entry', gate_id: ev.gates.main });
    const before = await tdb.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM scans WHERE ticket_id IS NULL`);
    await scan(devA, 'nobody-knows-me');
    const after = await tdb.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM scans WHERE ticket_id IS NULL`);
    expect(after[0]!.n).toBe(before[0]!.n + 1);
  });

  it('a retried request with the same scan_id is recorded once and answers the same', async () => {
    const t = await ticket('ga');
    const scanId = crypto.randomUUID();
    const first = await scan(devA, t.code, ev.gates.main, 'entry', { scan_id: scanId });
    const retry = await scan(devA, t.code, ev.gates.main, 'entry', { scan_id: scanId });
    expect(first.body.result).toBe('valid');
    expect(retry.body).toMatchObject({ result: 'valid', scan_id: scanId });
    const rows = await tdb.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM scans WHERE id = $1`, [scanId]);
    expect(rows[0]!.n).toBe(1);
  });

  describe('a scan_id answers only a retry of its own request', () => {
    const countRows = async (scanId: string): Promise<number> =>
      (
        await tdb.db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM scans WHERE event_id = $1 AND coalesce(client_scan_id, id) = $2`,
          [ev.eventId, scanId],
        )
      )[0]!.n;
    const flagsOf = async (deviceId: string): Promise<{ flags: string[]; reason: string | null; alerts: string }> => {
      const health = (await server.admin.get(`/api/v1/events/${ev.eventId}/offline-health`)).body;
      const d = (health.devices as Array<{ device_id: string; flags: string[]; flag_reason: string | null }>).find(
        (x) => x.device_id === deviceId,
      );
      return { flags: d?.flags ?? [], reason: d?.flag_reason ?? null, alerts: JSON.stringify(health.alerts) };
    };

    it("another code with an admitted scan's scan_id is refused, forged or genuine, from the same device or another", async () => {
      const admitted = await ticket('ga');
      const other = await ticket('ga');
      const scanId = crypto.randomUUID();
      expect((await scan(devA, admitted.code, ev.gates.main, 'entry', { scan_id: scanId })).body.result).toBe('valid');
      const b = await registerDevice(server.admin, 'Scanner C');
      const devC = server.client(b.token);

      const attempts: Array<[string, Client, string, string]> = [
        ['forged code, same device', devA, 'TOTALLY-FORGED', ev.gates.main],
        ['genuine unused ticket, same device', devA, other.code, ev.gates.main],
        ['unreadable code, same device', devA, '\u0001', ev.gates.main],
        ['same code at another gate', devA, admitted.code, ev.gates.any],
        ['same code, another device', devC, admitted.code, ev.gates.main],
        ['forged code, another device', devC, 'TOTALLY-FORGED', ev.gates.main],
        ['genuine unused ticket, another device', devC, other.code, ev.gates.main],
      ];
      for (const [name, dev, code, gate] of attempts) {
        const r = await scan(dev, code, gate, 'entry', { scan_id: scanId });
        expect({ name, status: r.status, error: r.body.error }).toEqual({ name, status: 409, error: 'SCAN_ID_REUSED' });
      }
      // Nothing was admitted or recorded by them; the genuine retry still gets its verdict.
      expect((await server.admin.get(`/api/v1/tickets/${other.id}`)).body.scans_used).toBe(0);
      expect(await countRows(scanId)).toBe(1);
      expect((await scan(devA, admitted.code, ev.gates.main, 'entry', { scan_id: scanId })).body).toMatchObject({
        result: 'valid',
        reason: 'admitted',
        scan_id: scanId,
      });

      // The attempts are on record for the organisers, on the devices that made them, without the codes.
      for (const id of [devAId, b.deviceId]) {
        const { flags, reason, alerts } = await flagsOf(id);
        expect(flags).toContain('scan_id_reused');
        expect(reason).toContain(scanId);
        expect(alerts).toContain('DEVICE_SCAN_ID_REUSED');
        for (const code of ['TOTALLY-FORGED', other.code, admitted.code]) expect(alerts).not.toContain(code);
      }
    });

    it("an unknown or unreadable code's scan_id is bound to that code too", async () => {
      const t = await ticket('ga');
      for (const first of ['NO-SUCH-TICKET', '\u0002']) {
        const scanId = crypto.randomUUID();
        expect((await scan(devB, first, ev.gates.main, 'entry', { scan_id: scanId })).body.result).toBe(
          'invalid_token',
        );
        expect((await scan(devB, first, ev.gates.main, 'entry', { scan_id: scanId })).body).toMatchObject({
          result: 'invalid_token',
          scan_id: scanId,
        });
        for (const code of [t.code, 'NO-SUCH-TICKET-EITHER', '\u0003']) {
          expect((await scan(devB, code, ev.gates.main, 'entry', { scan_id: scanId })).body.error).toBe(
            'SCAN_ID_REUSED',
          );
        }
        expect(await countRows(scanId)).toBe(1);
      }
      expect((await server.admin.get(`/api/v1/tickets/${t.id}`)).body.scans_used).toBe(0);
    });

    it("the online attempt arriving after its offline copy still gets the copy's verdict", async () => {
      const d = await registerDevice(server.admin, 'Timed out');
      const dev = server.client(d.token);
      const t = await ticket('ga');
      const [good, unreadable] = [crypto.randomUUID(), crypto.randomUUID()];
      const synced = await dev.post('/api/v1/offline/sync', {
        event_id: ev.eventId,
        device_id: d.deviceId,
        session_token: `late-${good}`,
        scans: [
          { qrcode: t.code, scanned_at: clock, seq: 1, gate_id: ev.gates.main, scan_id: good },
          { qrcode: '\u0004', scanned_at: clock, seq: 2, gate_id: ev.gates.main, scan_id: unreadable },
        ],
      });
      expect(synced.status).toBe(200);
      expect((await scan(dev, t.code, ev.gates.main, 'entry', { scan_id: good })).body).toMatchObject({
        result: 'valid',
        scan_id: good,
      });
      expect((await scan(dev, '\u0004', ev.gates.main, 'entry', { scan_id: unreadable })).body).toMatchObject({
        result: 'invalid_token',
        scan_id: unreadable,
      });
      // Still bound: another code or device with those ids is refused.
      expect((await scan(dev, 'TOTALLY-FORGED', ev.gates.main, 'entry', { scan_id: good })).body.error).toBe(
        'SCAN_ID_REUSED',
      );
      expect((await scan(dev, 'TOTALLY-FORGED', ev.gates.main, 'entry', { scan_id: unreadable })).body.error).toBe(
        'SCAN_ID_REUSED',
      );
      expect((await scan(devA, t.code, ev.gates.main, 'entry', { scan_id: good })).body.error).toBe('SCAN_ID_REUSED');
      expect(await countRows(good)).toBe(1);
    });
  });

  describe('scan sessions', () => {
    it('scans through a session, counts them, and one active session per device', async () => {
      const s1 = await devB.post('/api/v1/scanning/sessions', { event_id: ev.eventId, gate_id: ev.gates.main });
      expect(s1.status).toBe(201);
      expect(s1.body).toMatchObject({ status: 'active', gate_id: ev.gates.main, direction: 'entry', scan_count: 0 });
      const t = await ticket('ga');
      const r = await devB.post('/api/v1/scanning/scan', { code: t.code, session_id: s1.body.id });
      expect(r.body.result).toBe('valid');
      expect((await devB.get(`/api/v1/scanning/sessions/${s1.body.id}`)).body.scan_count).toBe(1);

      const s2 = await devB.post('/api/v1/scanning/sessions', {
        event_id: ev.eventId,
        gate_id: ev.gates.any,
        direction: 'exit',
      });
      expect(s2.body.ended_session_id).toBe(s1.body.id);
      expect((await devB.get(`/api/v1/scanning/sessions/${s1.body.id}`)).body.status).toBe('ended');
      const old = await devB.post('/api/v1/scanning/scan', { code: t.code, session_id: s1.body.id });
      expect(old.status).toBe(409);
      expect(old.body.error).toBe('SESSION_ENDED');
      const exit = await devB.post('/api/v1/scanning/scan', { code: t.code, session_id: s2.body.id });
      expect(exit.body).toMatchObject({ result: 'valid', direction: 'exit' });
      const ended = await devB.put(`/api/v1/scanning/sessions/${s2.body.id}/end`);
      expect(ended.body).toMatchObject({ status: 'ended', scan_count: 1 });
    });

    it("another device's session is not found", async () => {
      const s = await devA.post('/api/v1/scanning/sessions', { event_id: ev.eventId, gate_id: ev.gates.main });
      expect((await devB.get(`/api/v1/scanning/sessions/${s.body.id}`)).status).toBe(404);
      expect((await devB.post('/api/v1/scanning/scan', { code: 'x', session_id: s.body.id })).status).toBe(404);
    });

    it('rejects unknown gates and events and incomplete requests', async () => {
      expect(
        (await devA.post('/api/v1/scanning/sessions', { event_id: ev.eventId, gate_id: crypto.randomUUID() })).body
          .error,
      ).toBe('NOT_FOUND');
      expect(
        (await devA.post('/api/v1/scanning/sessions', { event_id: crypto.randomUUID(), gate_id: ev.gates.main }))
          .status,
      ).toBe(404);
      const r = await devA.post('/api/v1/scanning/scan', { code: 'x' });
      expect(r.status).toBe(400);
      expect(r.body).toEqual({ error: 'INVALID_BODY', message: 'Send session_id, or event_id and gate_id' });
    });
  });

  describe('device authentication', () => {
    it('needs a valid device token', async () => {
      const anon = server.client('');
      expect(
        (await anon.post('/api/v1/scanning/scan', { code: 'x', event_id: ev.eventId, gate_id: ev.gates.main })).body
          .error,
      ).toBe('UNAUTHORIZED');
      expect((await server.client('edt_nope').post('/api/v1/scanning/scan', { code: 'x' })).status).toBe(401);
      expect(
        (await server.admin.post('/api/v1/scanning/scan', { code: 'x', event_id: ev.eventId, gate_id: ev.gates.main }))
          .status,
      ).toBe(401);
    });

    it('suspended devices are refused until reactivated; revoked ones for good', async () => {
      const d = await registerDevice(server.admin, 'Temp');
      const dev = server.client(d.token);
      const t = await ticket('ga');
      await server.admin.post(`/api/v1/devices/${d.deviceId}/suspend`, { reason: 'break' });
      clock += 3_000; // past the per-instance device cache
      const s = await scan(dev, t.code);
      expect(s.status).toBe(403);
      expect(s.body.error).toBe('DEVICE_SUSPENDED');
      await server.admin.post(`/api/v1/devices/${d.deviceId}/activate`);
      clock += 3_000;
      expect((await scan(dev, t.code)).body.result).toBe('valid');
      const rv = await server.admin.post(`/api/v1/devices/${d.deviceId}/revoke`, { reason: 'lost' });
      expect(rv.body).toMatchObject({ status: 'revoked', status_reason: 'lost' });
      clock += 3_000;
      const r = await scan(dev, t.code);
      expect(r.status).toBe(403);
      expect(r.body.error).toBe('DEVICE_REVOKED');
      expect((await server.admin.post(`/api/v1/devices/${d.deviceId}/activate`)).status).toBe(409);
    });
  });

  it('occupancy counts people per zone and gate, not scans', async () => {
    const other = await seedEvent(server.admin);
    const [a, b, c] = await issueTickets(server.admin, other.eventId, [
      { ticket_type_id: other.types.reentry },
      { ticket_type_id: other.types.vip },
      { ticket_type_id: other.types.ga },
    ]);
    const s = (code: string, gate: string, direction: 'entry' | 'exit' = 'entry') =>
      devA.post('/api/v1/scanning/scan', { code, event_id: other.eventId, gate_id: gate, direction });
    await s(a!.code, other.gates.main);
    await s(a!.code, other.gates.main, 'exit');
    clock += 1000;
    await s(a!.code, other.gates.any);
    await s(b!.code, other.gates.vip);
    await s(c!.code, other.gates.main);
    await s(c!.code, other.gates.main, 'exit');
    const occ = (await server.admin.get(`/api/v1/events/${other.eventId}/occupancy`)).body;
    expect(occ).toMatchObject({ inside: 2, admitted: 3 });
    const zone = (id: string) => occ.zones.find((z: { id: string }) => z.id === id);
    expect(zone(other.zones.general)).toMatchObject({ inside: 1, capacity: 100, available: 99 });
    expect(zone(other.zones.vip)).toMatchObject({ inside: 1, admitted: 1 });
    const gate = (id: string) => occ.gates.find((g: { id: string }) => g.id === id);
    expect(gate(other.gates.main)).toMatchObject({ inside: 0, admitted: 2 });
    expect(gate(other.gates.any)).toMatchObject({ inside: 1 });
    expect(gate(other.gates.vip)).toMatchObject({ inside: 1, admitted: 1 });
  });
});
