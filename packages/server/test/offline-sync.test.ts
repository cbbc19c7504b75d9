import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  describeEachBackend,
  eventually,
  issueTickets,
  registerDevice,
  seedEvent,
  startTestServer,
  TEST_SECRET,
  type Client,
  type SeededEvent,
  type TestDatabase,
  type TestServer,
} from './harness.ts';
import type { EventContext } from '../src/services/event-context.ts';
import { Cursors } from '../src/services/sync/cursor.ts';
import { FeedService } from '../src/services/sync/feed-service.ts';
import { TestDevice } from './offline-helpers.ts';

describeEachBackend('offline sync', (backend) => {
  let tdb: TestDatabase;
  let server: TestServer;
  let ev: SeededEvent;
  let clock = Date.now();
  const t0 = clock - 3600_000;

  beforeAll(async () => {
    tdb = await backend.open();
    server = await startTestServer(tdb.db, { now: () => clock });
    ev = await seedEvent(server.admin);
  });
  afterAll(async () => {
    await server?.close();
    await tdb?.drop();
  });

  const device = async (name: string, extra: Record<string, unknown> = {}): Promise<TestDevice> => {
    const d = await registerDevice(server.admin, name, extra);
    return new TestDevice(server.client(d.token), d.deviceId, ev.eventId);
  };
  const tickets = async (n: number, extra: Record<string, unknown> = {}) =>
    issueTickets(
      server.admin,
      ev.eventId,
      Array.from({ length: n }, () => ({ ticket_type_id: ev.types.ga, ...extra })),
    );
  const count = async (sql: string, params: unknown[] = []) => (await tdb.db.query<{ n: number }>(sql, params))[0]!.n;
  /**
   * Another organisation with an event of its own; each call of the returned function keeps it busy in every way an
   * event's cursors could notice: tickets issued, an online scan, an offline upload, a status change.
   */
  const busyNeighbour = async (): Promise<() => Promise<void>> => {
    const org = await server.admin.post('/api/v1/organisations', { name: `Busy neighbour ${crypto.randomUUID()}` });
    const neighbour = server.client(org.body.admin_token);
    const theirs = await seedEvent(neighbour);
    const theirDevice = await registerDevice(neighbour, 'Their scanner');
    let n = 0;
    return async () => {
      const [t1, t2] = await issueTickets(neighbour, theirs.eventId, [
        { ticket_type_id: theirs.types.ga },
        { ticket_type_id: theirs.types.ga },
      ]);
      await server
        .client(theirDevice.token)
        .post('/api/v1/scanning/scan', { code: t1!.code, event_id: theirs.eventId, gate_id: theirs.gates.main });
      const up = new TestDevice(server.client(theirDevice.token), theirDevice.deviceId, theirs.eventId);
      up.scan({ code: t2!.code, at: t0, gateId: theirs.gates.main });
      await up.upload(1, 1, { session_token: `busy-${n++}` });
      await neighbour.post(`/api/v1/tickets/${t1!.id}/block`);
    };
  };

  describe('sync', () => {
    it('stores every scan, acknowledges the contiguous prefix and answers per scan', async () => {
      const d = await device('Gate 1');
      const [a, b] = await tickets(2);
      d.scan({ code: a!.code, at: t0, gateId: ev.gates.main });
      d.scan({ code: b!.code, at: t0 + 1000, gateId: ev.gates.main });
      d.scan({ code: 'NOBODY-KNOWS', at: t0 + 2000 });
      const r = await d.upload();
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({
        status: 200,
        message: 'Sync completed',
        acked_through: 3,
        last_seq: 3,
        missing: [],
        summary: { total_uploaded: 3, successful: 2, duplicates: 0, conflicts: 0, failed: 1 },
      });
      expect(r.body.results[0]).toMatchObject({
        qrcode: a!.code,
        seq: 1,
        status: 200,
        sync_status: 'synced',
        type: 'GA',
        number: a!.number,
        verdict: 'admitted',
      });
      expect(r.body.results[2]).toMatchObject({
        seq: 3,
        status: 404,
        sync_status: 'failed',
        message: 'Ticket not found',
      });
      expect(r.body.sync_session_id).toMatch(/^[0-9a-f-]{36}$/);
      expect(await count(`SELECT count(*)::int AS n FROM scans WHERE device_id = $1`, [d.deviceId])).toBe(3);
      const view = await server.admin.get(`/api/v1/tickets/${a!.id}`);
      expect(view.body).toMatchObject({ scans_used: 1, inside: true });
      expect(view.body.scans[0]).toMatchObject({ source: 'offline', result: 'valid' });
    });

    it('is idempotent: a re-upload stores nothing new and answers duplicate', async () => {
      const d = await device('Gate 2');
      const [a] = await tickets(1);
      d.scan({ code: a!.code, at: t0 });
      const first = await d.upload();
      const again = await d.upload();
      expect(first.body.results[0].sync_status).toBe('synced');
      expect(again.body.results[0]).toMatchObject({
        sync_status: 'duplicate',
        message: 'Already synced by this device',
        verdict: 'admitted',
      });
      expect(again.body.summary).toMatchObject({ duplicates: 1, successful: 0 });
      expect(await count(`SELECT count(*)::int AS n FROM scans WHERE device_id = $1`, [d.deviceId])).toBe(1);
      // Retrying with the same session token updates the same session record.
      expect(again.body.sync_session_id).toBe(first.body.sync_session_id);
      const sessions = await tdb.db.query<{ attempts: number }>(`SELECT attempts FROM sync_sessions WHERE id = $1`, [
        first.body.sync_session_id,
      ]);
      expect(sessions[0]!.attempts).toBe(2);
    });

    it('reports a gap until it is filled, and accepts scans above it', async () => {
      const d = await device('Gate 3');
      const ts = await tickets(5);
      ts.forEach((t, i) => d.scan({ code: t.code, at: t0 + i * 1000 }));
      const partial = await d.client.post('/api/v1/offline/sync', {
        ...d.body(1, 5),
        scans: (d.body(1, 5).scans as unknown[]).filter((_, i) => i !== 2 && i !== 3),
      });
      expect(partial.body).toMatchObject({ acked_through: 2, last_seq: 5, missing: [[3, 4]] });
      const status = await d.client.get(`/api/v1/offline/sync/status/${ev.eventId}/${d.deviceId}`);
      expect(status.body).toMatchObject({ acked_through: 2, last_seq: 5, missing: [[3, 4]], total_scans: 3 });
      const health = await server.admin.get(`/api/v1/events/${ev.eventId}/offline-health`);
      expect(health.body.alerts).toContainEqual(
        expect.objectContaining({ code: 'SCANS_MISSING', device_id: d.deviceId, severity: 'warning' }),
      );
      const fill = await d.upload(3, 4);
      expect(fill.body).toMatchObject({ acked_through: 5, last_seq: 5, missing: [] });
      const after = await server.admin.get(`/api/v1/events/${ev.eventId}/offline-health`);
      // The gap's alert is gone (a clock-skew warning may come and go with the machine's load: the test's device clock is its own).
      expect(
        after.body.alerts.filter(
          (a: { device_id?: string; code: string }) => a.device_id === d.deviceId && a.code === 'SCANS_MISSING',
        ),
      ).toEqual([]);
    });

    it('keeps the original when a seq comes back with different content, and flags the device', async () => {
      const d = await device('Gate 4');
      const [a, b] = await tickets(2);
      d.scan({ code: a!.code, at: t0 });
      await d.upload();
      const forged = { ...d.body(1, 1), scans: [{ qrcode: b!.code, scanned_at: t0, seq: 1 }] };
      const r = await d.client.post('/api/v1/offline/sync', forged);
      expect(r.body.results[0]).toMatchObject({ sync_status: 'failed', status: 409, reason: 'tampering' });
      expect(r.body.results[0].message).toMatch(/seq 1 was already received with different content/);
      expect((await server.admin.get(`/api/v1/tickets/${b!.id}`)).body.scans).toEqual([]);
      const status = await server.admin.get(`/api/v1/offline/sync/status/${ev.eventId}/${d.deviceId}`);
      expect(status.body.flags).toContain('tampering');
    });

    it('stores unknown, malformed and foreign codes as failed scans', async () => {
      const d = await device('Gate 5');
      const other = await seedEvent(server.admin);
      const [foreign] = await issueTickets(server.admin, other.eventId, [{ ticket_type_id: other.types.ga }]);
      d.scan({ code: 'who-knows', at: t0 });
      d.scan({ code: '\u0001bin', at: t0 });
      d.scan({ code: foreign!.code, at: t0 });
      const r = await d.upload();
      expect(r.body.results.map((x: { status: number; sync_status: string }) => [x.status, x.sync_status])).toEqual([
        [404, 'failed'],
        [400, 'failed'],
        [422, 'failed'],
      ]);
      expect(r.body.results[2].message).toBe('Ticket is for another event');
      expect(
        await count(`SELECT count(*)::int AS n FROM scans WHERE device_id = $1 AND record_status = 'failed'`, [
          d.deviceId,
        ]),
      ).toBe(3);
    });

    it('finds signed codes in any case and with scanner noise, imported codes that look signed exactly as issued, and tells forged from unknown', async () => {
      const d = await device('Gate 5b');
      const [signed, enImported, enWord] = await issueTickets(server.admin, ev.eventId, [
        { ticket_type_id: ev.types.ga },
        { ticket_type_id: ev.types.ga, code: 'ENT-1234' },
        { ticket_type_id: ev.types.ga, code: 'ENABCDEFGH' },
      ]);
      // One character inside the signature changed (not the last, whose padding bits must stay zero): still a
      // well-formed signed code of this event, matching no ticket.
      const at = signed!.code.length - 10;
      const forged = signed!.code.slice(0, at) + (signed!.code[at] === 'A' ? 'B' : 'A') + signed!.code.slice(at + 1);
      d.scan({ code: ` ${signed!.code.toLowerCase()}\r\n`, at: t0 });
      d.scan({ code: 'ENT-1234', at: t0 });
      d.scan({ code: 'ENABCDEFGH', at: t0 });
      // Imported codes are exact: the lower-case spelling is another code (and must not match ENABCDEFGH through its signed spelling).
      d.scan({ code: 'enabcdefgh', at: t0 });
      d.scan({ code: forged, at: t0 });
      const r = await d.upload();
      expect(r.status).toBe(200);
      const results = r.body.results as Array<{
        status: number;
        sync_status: string;
        ticket_id?: string;
        message: string;
      }>;
      expect(results.map((x) => [x.status, x.sync_status, x.ticket_id ?? null])).toEqual([
        [200, 'synced', signed!.id],
        [200, 'synced', enImported!.id],
        [200, 'synced', enWord!.id],
        [404, 'failed', null],
        [404, 'failed', null],
      ]);
      expect(results[3]!.message).toBe('Ticket not found');
      expect(results[4]!.message).toBe('Invalid ticket — forged or damaged code');
    });

    it('an offline copy of a scan the server received online (the device timed out) is acknowledged, not admitted twice', async () => {
      const d = await device('Timed out');
      const [t] = await tickets(1);
      const scanId = crypto.randomUUID();
      const live = await d.client.post('/api/v1/scanning/scan', {
        code: t!.code,
        event_id: ev.eventId,
        gate_id: ev.gates.main,
        scan_id: scanId,
      });
      expect(live.body.result).toBe('valid');
      const body = d.body(1, 0);
      const r = await d.client.post('/api/v1/offline/sync', {
        ...body,
        scans: [{ qrcode: t!.code, scanned_at: clock, seq: 1, gate_id: ev.gates.main, scan_id: scanId }],
      });
      expect(r.body.results[0]).toMatchObject({
        sync_status: 'duplicate',
        message: 'Already received online',
        verdict: 'admitted',
      });
      expect(r.body.acked_through).toBe(1);
      expect((await server.admin.get(`/api/v1/tickets/${t!.id}`)).body.scans_used).toBe(1);
      const conflicts = (await server.admin.get(`/api/v1/events/${ev.eventId}/conflicts`)).body.conflicts.filter(
        (c: { ticket: { id: string } }) => c.ticket.id === t!.id,
      );
      expect(conflicts).toEqual([]);
    });

    it('records scans the device refused, without admitting anyone', async () => {
      const d = await device('Gate 6');
      const [a] = await tickets(1);
      d.scan({ code: a!.code, at: t0, localResult: 'wrong_gate' });
      const r = await d.upload();
      expect(r.body.results[0]).toMatchObject({ sync_status: 'synced', verdict: 'rejected' });
      expect((await server.admin.get(`/api/v1/tickets/${a!.id}`)).body).toMatchObject({ scans_used: 0, inside: false });
    });
  });

  describe('first scan wins, whatever the upload order', () => {
    it('a later-uploaded earlier scan takes over; the other becomes the conflict', async () => {
      const late = await device('Late');
      const early = await device('Early');
      const [t] = await tickets(1);
      late.scan({ code: t!.code, at: t0 + 5 * 60_000, gateId: ev.gates.main });
      early.scan({ code: t!.code, at: t0, gateId: ev.gates.main });
      expect((await late.upload()).body.results[0].sync_status).toBe('synced');
      const r = await early.upload();
      expect(r.body.results[0]).toMatchObject({ sync_status: 'synced', verdict: 'admitted' });
      const conflicts = (await server.admin.get(`/api/v1/events/${ev.eventId}/conflicts`)).body.conflicts.filter(
        (c: { ticket: { id: string } }) => c.ticket.id === t!.id,
      );
      expect(conflicts).toHaveLength(1);
      expect(conflicts[0]).toMatchObject({
        reason: 'already_used',
        status: 'open',
        ambiguous: false,
        winner: { device_id: early.deviceId, seq: 1, gate: 'Main', source: 'offline' },
        loser: { device_id: late.deviceId, seq: 1 },
      });
      // The late device learns through the feed that its scan lost.
      await eventually(async () => {
        const feed = await late.client.get(`/api/v1/offline/events?event_id=${ev.eventId}&limit=5000`);
        const mine = feed.body.events.filter(
          (e: { kind: string; device_id?: string }) => e.kind === 'scan' && e.device_id === late.deviceId,
        );
        expect(mine.at(-1)).toMatchObject({ verdict: 'conflict', conflict_reason: 'already_used', revision: 1 });
      });
      // And a re-upload says so.
      expect((await late.upload()).body.results[0]).toMatchObject({ sync_status: 'duplicate', verdict: 'conflict' });
      const ticket = await server.admin.get(`/api/v1/tickets/${t!.id}`);
      expect(ticket.body).toMatchObject({ scans_used: 1, first_scanned_by: early.deviceId });
    });

    it('an offline conflict names the admission it lost to', async () => {
      const a = await device('First');
      const b = await device('Second');
      const [t] = await tickets(1);
      a.scan({ code: t!.code, at: t0, gateId: ev.gates.main });
      b.scan({ code: t!.code, at: t0 + 60_000, gateId: ev.gates.any });
      await a.upload();
      const r = await b.upload();
      expect(r.body.results[0]).toMatchObject({
        sync_status: 'conflict',
        status: 409,
        reason: 'already_used',
        scanned_by: a.deviceId,
      });
      expect(r.body.results[0].scanned_at).toBe(new Date(t0).toISOString());
      expect(r.body.results[0].message).toMatch(/^Already used at Main at .* by First$/);
      expect(r.body.summary.conflicts).toBe(1);
    });

    it('an online admission loses to an earlier offline one that arrives later', async () => {
      const off = await device('Offline one');
      const online = await device('Online one');
      const [t] = await tickets(1);
      off.scan({ code: t!.code, at: clock - 120_000, gateId: ev.gates.main });
      const live = await online.client.post('/api/v1/scanning/scan', {
        code: t!.code,
        event_id: ev.eventId,
        gate_id: ev.gates.main,
      });
      expect(live.body.result).toBe('valid');
      await off.upload();
      const c = (await server.admin.get(`/api/v1/events/${ev.eventId}/conflicts`)).body.conflicts.find(
        (x: { ticket: { id: string } }) => x.ticket.id === t!.id,
      );
      expect(c).toMatchObject({
        reason: 'already_used',
        winner: { device_id: off.deviceId },
        loser: { device_id: online.deviceId, source: 'online' },
      });
      // The online path sees the reconciled state: a further scan is refused.
      const again = await online.client.post('/api/v1/scanning/scan', {
        code: t!.code,
        event_id: ev.eventId,
        gate_id: ev.gates.vip,
      });
      expect(again.body.result).not.toBe('valid');
    });

    it('a scan made before a cancellation stands; one made after it is a conflict', async () => {
      const d = await device('Cancel gate');
      const [before, after] = await tickets(2);
      clock = t0 + 10 * 60_000;
      await server.admin.post(`/api/v1/tickets/${before!.id}/cancel`, { reason: 'refund' });
      await server.admin.post(`/api/v1/tickets/${after!.id}/cancel`, { reason: 'refund' });
      clock = Date.now();
      d.scan({ code: before!.code, at: t0 + 5 * 60_000 });
      d.scan({ code: after!.code, at: t0 + 15 * 60_000 });
      const r = await d.upload();
      expect(r.body.results[0]).toMatchObject({ sync_status: 'synced', verdict: 'admitted' });
      expect(r.body.results[1]).toMatchObject({ sync_status: 'conflict', reason: 'cancelled' });
    });

    it('marks a decision closer than the clock uncertainty as ambiguous', async () => {
      const a = await device('Skew A');
      const b = await device('Skew B');
      const [t] = await tickets(1);
      a.scan({ code: t!.code, at: t0 + 1000 });
      b.scan({ code: t!.code, at: t0 + 2500 });
      await a.upload();
      const r = await b.upload();
      expect(r.body.results[0]).toMatchObject({ sync_status: 'conflict', ambiguous: true });
      const health = await server.admin.get(`/api/v1/events/${ev.eventId}/offline-health`);
      expect(health.body.totals.conflicts_ambiguous).toBeGreaterThanOrEqual(1);
    });
  });

  describe('clock skew', () => {
    it('measures the device clock offset and flags implausible scan times', async () => {
      const d = await device('Fast clock');
      const [t] = await tickets(1);
      d.scan({ code: t!.code, at: clock + 10 * 86_400_000 });
      const r = await d.upload(1, 1, { device_time: clock + 3_600_000 });
      expect(r.body.clock_offset_ms).toBe(3_600_000);
      const status = await server.admin.get(`/api/v1/offline/sync/status/${ev.eventId}/${d.deviceId}`);
      // The scan is ten days ahead: more than a day outside the event, so its time cannot order it.
      expect(status.body).toMatchObject({ clock_offset_ms: 3_600_000, flags: ['implausible_time', 'clock_skew'] });
      const rows = await tdb.db.query<{ flags: string[] }>(`SELECT flags FROM scans WHERE device_id = $1`, [
        d.deviceId,
      ]);
      expect(rows[0]!.flags).toEqual(
        expect.arrayContaining(['future', 'outside_event', 'clock_skew', 'implausible_time']),
      );
    });
  });

  describe('integrity (devices with a registered key)', () => {
    const keyed = async (name: string, seed: number): Promise<TestDevice> => {
      const keys = TestDevice.keyPair(seed);
      const d = await device(name, { public_key: Buffer.from(keys.publicKey).toString('base64url') });
      d.keys = keys;
      return d;
    };

    it('accepts a correctly chained and signed upload, across several uploads', async () => {
      const d = await keyed('Signed', 11);
      const ts = await tickets(4);
      ts.forEach((t, i) => d.scan({ code: t.code, at: t0 + i }));
      expect((await d.upload(1, 2)).body.summary).toMatchObject({ successful: 2, failed: 0 });
      expect((await d.upload(3, 4)).body.summary).toMatchObject({ successful: 2, failed: 0 });
      expect(
        await count(`SELECT count(*)::int AS n FROM scans WHERE device_id = $1 AND integrity = 'chain'`, [d.deviceId]),
      ).toBe(4);
    });

    it('detects an altered, a removed and an inserted scan; stores them as failed and flags the device', async () => {
      const ts = await tickets(3);
      const cases: Array<[string, (b: Record<string, unknown>) => Record<string, unknown>]> = [
        [
          'altered',
          (b) => ({
            ...b,
            scans: (b.scans as Array<Record<string, unknown>>).map((s, i) =>
              i === 1 ? { ...s, scanned_at: (s.scanned_at as number) + 1 } : s,
            ),
          }),
        ],
        ['removed', (b) => ({ ...b, scans: (b.scans as unknown[]).filter((_, i) => i !== 1) })],
        [
          'inserted',
          (b) => ({ ...b, scans: [...(b.scans as unknown[]), { qrcode: ts[0]!.code, scanned_at: t0, seq: 4 }] }),
        ],
        ['missing signature', (b) => ({ ...b, integrity: undefined })],
      ];
      let seed = 20;
      for (const [name, tamper] of cases) {
        const d = await keyed(`Tampered ${name}`, seed++);
        ts.forEach((t, i) => d.scan({ code: t.code, at: t0 + i }));
        const r = await d.client.post('/api/v1/offline/sync', JSON.parse(JSON.stringify(tamper(d.body(1, 3)))));
        expect(r.status, name).toBe(200);
        expect(r.body.summary.failed, name).toBe(r.body.summary.total_uploaded);
        expect(r.body.results[0].message, name).toMatch(/^Integrity check failed/);
        const stored = await count(
          `SELECT count(*)::int AS n FROM scans WHERE device_id = $1 AND integrity = 'failed' AND record_status = 'failed'`,
          [d.deviceId],
        );
        expect(stored, name).toBe(r.body.summary.total_uploaded);
        const status = await server.admin.get(`/api/v1/offline/sync/status/${ev.eventId}/${d.deviceId}`);
        expect(status.body.flags, name).toContain('integrity');
      }
      // Nothing from a failed upload admitted anyone.
      for (const t of ts) expect((await server.admin.get(`/api/v1/tickets/${t.id}`)).body.scans_used).toBe(0);
    });

    it('detects history rewritten between uploads', async () => {
      const d = await keyed('Rewriter', 40);
      const ts = await tickets(3);
      ts.forEach((t, i) => d.scan({ code: t.code, at: t0 + i }));
      await d.upload(1, 2);
      d.log[0]!.scannedAt += 5; // rewrite seq 1 locally, then continue the chain from the rewritten history
      const r = await d.upload(3, 3);
      expect(r.body.results[0].message).toMatch(/earlier scans were altered/);
    });
  });

  describe('limits and bad input', () => {
    it('answers 413 for more than 5,000 scans and applies nothing', async () => {
      const d = await device('Big batch');
      for (let i = 0; i < 5001; i++) d.scan({ code: `X-${i}`, at: t0 });
      const r = await d.upload();
      expect(r.status).toBe(413);
      expect(r.body.error).toBe('PAYLOAD_TOO_LARGE');
      expect(await count(`SELECT count(*)::int AS n FROM scans WHERE device_id = $1`, [d.deviceId])).toBe(0);
    });

    it('accepts a full batch of 5,000 scans with long signed codes, gzipped', async () => {
      const d = await device('Full batch');
      const ts = await tickets(5000);
      ts.forEach((t, i) => d.scan({ code: t.code, at: t0 + i, gateId: ev.gates.main }));
      const body = JSON.stringify(d.body(1, 5000));
      expect(body.length).toBeLessThan(4 * 1024 * 1024);
      // Over a socket: gzip bodies are decoded as they are read.
      const r = await server.httpClient(d.client.token).request('POST', '/api/v1/offline/sync', gzipSync(body), {
        'content-type': 'application/json',
        'content-encoding': 'gzip',
      });
      expect(r.status).toBe(200);
      expect(r.body.summary).toMatchObject({ total_uploaded: 5000, successful: 5000 });
      expect(r.body.acked_through).toBe(5000);
    });

    it('answers 413 for a body over 4 MiB after decompression, and 400 for broken gzip', async () => {
      const d = await device('Zip bomb');
      const huge = JSON.stringify({
        ...d.body(1, 0),
        scans: [{ qrcode: 'x'.repeat(4000), scanned_at: t0, seq: 1 }],
        pad: 'y'.repeat(5 * 1024 * 1024),
      });
      // Over a socket: the limit is about what the server reads off it.
      const http = server.httpClient(d.client.token);
      const bomb = await http.request('POST', '/api/v1/offline/sync', gzipSync(huge), {
        'content-type': 'application/json',
        'content-encoding': 'gzip',
      });
      expect(bomb.status).toBe(413);
      const broken = await http.request('POST', '/api/v1/offline/sync', 'not gzip at all', {
        'content-type': 'application/json',
        'content-encoding': 'gzip',
      });
      expect(broken.status).toBe(400);
      const br = await http.request('POST', '/api/v1/offline/sync', '{}', {
        'content-type': 'application/json',
        'content-encoding': 'br',
      });
      expect(br.status).toBe(415);
    });

    it('rejects a malformed batch whole, naming the field', async () => {
      const d = await device('Malformed');
      const [t] = await tickets(1);
      const r = await d.client.post('/api/v1/offline/sync', {
        event_id: ev.eventId,
        device_id: d.deviceId,
        session_token: 's',
        scans: [
          { qrcode: t!.code, scanned_at: t0, seq: 1 },
          { qrcode: 'x', seq: 2 },
        ],
      });
      expect(r.status).toBe(400);
      // (seq itself is optional for keyless devices since issue 14: seed-clients.test.ts.)
      expect(r.body).toEqual({ error: 'INVALID_BODY', message: '/scans/1/scanned_at is required' });
      const neg = await d.client.post('/api/v1/offline/sync', {
        event_id: ev.eventId,
        device_id: d.deviceId,
        session_token: 's',
        scans: [{ qrcode: 'x', scanned_at: t0, seq: 0 }],
      });
      expect(neg.body.message).toBe('/scans/0/seq must be >= 1');
      expect(await count(`SELECT count(*)::int AS n FROM scans WHERE device_id = $1`, [d.deviceId])).toBe(0);
    });

    it('checks who is uploading', async () => {
      const d = await device('Honest');
      const other = await device('Other');
      const spoof = await d.client.post('/api/v1/offline/sync', { ...other.body(1, 0), scans: [] });
      expect(spoof.status).toBe(403);
      expect((await server.client('').post('/api/v1/offline/sync', d.body(1, 0))).status).toBe(401);
      const foreignOrg = await server.admin.post('/api/v1/organisations', { name: 'Elsewhere' });
      const stranger = await registerDevice(server.client(foreignOrg.body.admin_token), 'Stranger');
      const s = new TestDevice(server.client(stranger.token), stranger.deviceId, ev.eventId);
      expect((await s.upload(1, 0)).status).toBe(404);
      expect((await d.client.get(`/api/v1/offline/sync/status/${ev.eventId}/${other.deviceId}`)).status).toBe(403);
    });
  });

  describe('manifest', () => {
    let client: Client;
    let deviceId: string;
    beforeAll(async () => {
      const d = await registerDevice(server.admin, 'Manifest reader');
      client = server.client(d.token);
      deviceId = d.deviceId;
    });

    it('requires device_id, matching the token, for an event of the organisation', async () => {
      const r = await client.get(`/api/v1/offline/manifest/${ev.eventId}`);
      expect(r.status).toBe(400);
      expect(r.body).toMatchObject({ error: 'MISSING_DEVICE_ID', success: false });
      expect((await client.get(`/api/v1/offline/manifest/${ev.eventId}?device_id=someone-else`)).status).toBe(403);
      expect((await client.get(`/api/v1/offline/manifest/${crypto.randomUUID()}?device_id=${deviceId}`)).status).toBe(
        404,
      );
    });

    it('lists every ticket with its state, never an imported code in clear, no holder names by default', async () => {
      const [imp] = await issueTickets(server.admin, ev.eventId, [
        { ticket_type_id: ev.types.vip, code: 'IMPORTED-SECRET-77', holder_name: 'Private Person' },
      ]);
      // The manifest's feed cursor covers the ticket once no older transaction is open anywhere on the
      // database server (before that the feed serves it again, harmlessly): other suites run in parallel.
      const r = await eventually(async () => {
        const res = await client.get(`/api/v1/offline/manifest/${ev.eventId}?device_id=${deviceId}`);
        expect(res.status).toBe(200);
        const feed = await client.get(
          `/api/v1/offline/events?event_id=${ev.eventId}&since=${encodeURIComponent(res.body.manifest.feed_cursor)}`,
        );
        expect(feed.status).toBe(200);
        expect(
          feed.body.events.filter(
            (e: { kind: string; ticket_id: string }) => e.kind === 'ticket' && e.ticket_id === imp!.id,
          ),
        ).toEqual([]);
        return res;
      });
      const m = r.body.manifest;
      expect(m).toMatchObject({ event_id: ev.eventId, full: true, policies: { duplicate_window_s: 300 } });
      expect(m.keys[0]).toMatchObject({ key_id: 1, active: true });
      expect(m.gates.length).toBe(3);
      const entry = m.tickets.find((t: { ticket_id: string }) => t.ticket_id === imp!.id);
      expect(entry).toMatchObject({
        number: imp!.number,
        tier: 'VIP',
        max_scans: 1,
        current_scans: 0,
        inside: false,
        status: 'valid',
      });
      expect(entry.code_digest).toMatch(/^[A-Za-z0-9_-]{11}$/);
      const text = JSON.stringify(r.body);
      expect(text).not.toContain('IMPORTED-SECRET-77');
      expect(text).not.toContain('Private Person');
    });

    it('is gzipped when accepted', async () => {
      const res = await fetch(`${server.url}/api/v1/offline/manifest/${ev.eventId}?device_id=${deviceId}`, {
        headers: { authorization: `Bearer ${client.token}`, 'accept-encoding': 'gzip' },
      });
      expect(res.headers.get('content-encoding')).toBe('gzip');
      expect(((await res.json()) as { manifest: { full: boolean } }).manifest.full).toBe(true);
    });

    it('with since, sends only what changed: new tickets, scans, cancellations', async () => {
      // A full manifest whose cursor has caught up with the earlier tests' tickets (the cursor stays below the
      // cluster's oldest running transaction, which other test files on the same PostgreSQL may hold open).
      const full = await eventually(async () => {
        const m = (await client.get(`/api/v1/offline/manifest/${ev.eventId}?device_id=${deviceId}`)).body.manifest;
        expect(
          (
            await client.get(
              `/api/v1/offline/manifest/${ev.eventId}?device_id=${deviceId}&since=${encodeURIComponent(m.cursor)}`,
            )
          ).body.manifest.tickets,
        ).toEqual([]);
        return m;
      });
      const [fresh, cancelled, scanned] = await tickets(3);
      const cursor1 = await eventually(async () => {
        const m = (
          await client.get(
            `/api/v1/offline/manifest/${ev.eventId}?device_id=${deviceId}&since=${encodeURIComponent(full.cursor)}`,
          )
        ).body.manifest;
        expect(m.full).toBe(false);
        expect(m.tickets.map((t: { ticket_id: string }) => t.ticket_id).sort()).toEqual(
          [fresh!.id, cancelled!.id, scanned!.id].sort(),
        );
        return m;
      });
      await server.admin.post(`/api/v1/tickets/${cancelled!.id}/cancel`);
      await client.post('/api/v1/scanning/scan', { code: scanned!.code, event_id: ev.eventId, gate_id: ev.gates.main });
      const delta = await eventually(async () => {
        const m = (
          await client.get(
            `/api/v1/offline/manifest/${ev.eventId}?device_id=${deviceId}&since=${encodeURIComponent(cursor1.cursor)}`,
          )
        ).body.manifest;
        expect(m.full).toBe(false);
        expect(m.tickets.map((t: { ticket_id: string }) => t.ticket_id).sort()).toEqual(
          [cancelled!.id, scanned!.id].sort(),
        );
        return m;
      });
      const byId = new Map(delta.tickets.map((t: { ticket_id: string }) => [t.ticket_id, t]));
      expect(byId.get(cancelled!.id)).toMatchObject({ status: 'cancelled' });
      expect(byId.get(scanned!.id)).toMatchObject({ current_scans: 1, inside: true });
      const none = (
        await client.get(
          `/api/v1/offline/manifest/${ev.eventId}?device_id=${deviceId}&since=${encodeURIComponent(delta.cursor)}`,
        )
      ).body.manifest;
      expect(none.tickets).toEqual([]);
      const forged = (
        await client.get(`/api/v1/offline/manifest/${ev.eventId}?device_id=${deviceId}&since=garbage.cursor`)
      ).body.manifest;
      expect(forged.full).toBe(true);
    });

    it("hands out cursors that move with the event's own changes only, however busy other organisations are", async () => {
      const own = await seedEvent(server.admin, { name: 'Quiet event' });
      const ownTickets = await issueTickets(
        server.admin,
        own.eventId,
        Array.from({ length: 4 }, () => ({ ticket_type_id: own.types.ga })),
      );
      const scanner = await registerDevice(server.admin, 'Quiet scanner');
      const d = new TestDevice(server.client(scanner.token), scanner.deviceId, own.eventId);
      ownTickets.slice(0, 2).forEach((t, i) => d.scan({ code: t.code, at: t0 + i, gateId: own.gates.main }));
      expect((await d.upload()).status).toBe(200);
      const neighbourActivity = await busyNeighbour();
      const get = async (
        since?: string,
      ): Promise<{
        cursor: string;
        feed_cursor: string;
        full: boolean;
        tickets: Array<{ ticket_id: string; status: string }>;
      }> => {
        const r = await client.get(
          `/api/v1/offline/manifest/${own.eventId}?device_id=${deviceId}${since ? `&since=${encodeURIComponent(since)}` : ''}`,
        );
        expect(r.status).toBe(200);
        return r.body.manifest;
      };
      /** A full manifest built now, not the cached copy (which would keep its cursor whatever the rule). */
      const built = async () => {
        server.services.sync.manifest.clearCache();
        return get();
      };
      // Once no transaction older than the event's last change is open anywhere on the database server (other
      // suites run in parallel), a manifest has seen every change of the event below its horizon.
      await eventually(async () => {
        const [row] = await tdb.db.query<{ behind: boolean }>(
          `SELECT pg_snapshot_xmin(pg_current_snapshot()) <= greatest((SELECT max(tx) FROM tickets WHERE event_id = $1), (SELECT max(tx) FROM scans WHERE event_id = $1)) AS behind`,
          [own.eventId],
        );
        expect(row!.behind).toBe(false);
      });
      const first = await built();
      expect(first.tickets).toHaveLength(4);

      // The neighbour's tickets, scans, uploads and status changes move neither cursor: not a fresh full manifest's,
      // not a delta's, not the feed's from there.
      for (let i = 0; i < 3; i++) {
        await neighbourActivity();
        expect(await built()).toMatchObject({ full: true, cursor: first.cursor, feed_cursor: first.feed_cursor });
        expect(await get(first.cursor)).toMatchObject({
          full: false,
          tickets: [],
          cursor: first.cursor,
          feed_cursor: first.feed_cursor,
        });
        const feed = await client.get(
          `/api/v1/offline/events?event_id=${own.eventId}&since=${encodeURIComponent(first.feed_cursor)}`,
        );
        expect(feed.body).toEqual({
          event_id: own.eventId,
          events: [],
          next_cursor: first.feed_cursor,
          has_more: false,
        });
      }

      // A change at the event after the cursors were handed out is found from them, and moves them.
      await server.admin.post(`/api/v1/tickets/${ownTickets[3]!.id}/cancel`);
      await neighbourActivity();
      const delta = await eventually(async () => {
        const m = await get(first.cursor);
        expect(m).toMatchObject({
          full: false,
          tickets: [expect.objectContaining({ ticket_id: ownTickets[3]!.id, status: 'cancelled' })],
        });
        return m;
      });
      expect(delta.cursor).not.toBe(first.cursor);
      expect(delta.feed_cursor).not.toBe(first.feed_cursor);
      const feed = await client.get(
        `/api/v1/offline/events?event_id=${own.eventId}&since=${encodeURIComponent(first.feed_cursor)}`,
      );
      expect(feed.body.events).toEqual([
        expect.objectContaining({ kind: 'ticket', ticket_id: ownTickets[3]!.id, status: 'cancelled' }),
      ]);
      expect(feed.body.next_cursor).toBe(delta.feed_cursor);
      // And nothing after that: the delta's cursor stays where it is, the neighbour busy as ever.
      await neighbourActivity();
      expect(await get(delta.cursor)).toMatchObject({ full: false, tickets: [], cursor: delta.cursor });
      expect(await built()).toMatchObject({ cursor: delta.cursor, feed_cursor: delta.feed_cursor });
    });
  });

  describe('download feed', () => {
    it('pages through every change in commit order without skipping or repeating', async () => {
      const a = await device('Feed A');
      const reader = await device('Feed reader');
      const ts = await tickets(7);
      ts.forEach((t, i) => a.scan({ code: t.code, at: t0 + i * 1000, gateId: ev.gates.main }));
      await a.upload();
      // Read page by page, resuming from the cursor, until the uploaded scans have all appeared.
      const seen: Array<{ kind: string; scan_id?: string; ticket_id: string }> = [];
      let since: string | undefined;
      await eventually(async () => {
        for (let page = 0; page < 2000; page++) {
          const r = await reader.client.get(
            `/api/v1/offline/events?event_id=${ev.eventId}&limit=50${since ? `&since=${encodeURIComponent(since)}` : ''}`,
          );
          expect(r.status).toBe(200);
          seen.push(...r.body.events);
          since = r.body.next_cursor;
          if (!r.body.has_more) break;
        }
        expect(seen.filter((e) => e.kind === 'scan' && ts.some((t) => t.id === e.ticket_id))).toHaveLength(7);
      });
      const scanIds = seen.filter((e) => e.kind === 'scan').map((e) => e.scan_id);
      expect(new Set(scanIds).size).toBe(scanIds.length);
      // Nothing new: an empty page; then a change appears after the cursor.
      const empty = await reader.client.get(
        `/api/v1/offline/events?event_id=${ev.eventId}&since=${encodeURIComponent(since!)}`,
      );
      expect(empty.body).toMatchObject({ events: [], has_more: false });
      await server.admin.post(`/api/v1/tickets/${ts[0]!.id}/block`);
      await eventually(async () => {
        const next = await reader.client.get(
          `/api/v1/offline/events?event_id=${ev.eventId}&since=${encodeURIComponent(empty.body.next_cursor)}`,
        );
        expect(next.body.events).toEqual([
          expect.objectContaining({ kind: 'ticket', ticket_id: ts[0]!.id, status: 'blocked' }),
        ]);
      });
      expect((await reader.client.get(`/api/v1/offline/events?event_id=${ev.eventId}&since=forged`)).status).toBe(400);
    });

    it("its cursor moves with the event's own changes only, and pages stay gap-free while other organisations are busy", async () => {
      const own = await seedEvent(server.admin, { name: 'Own feed' });
      const ownTickets = await issueTickets(
        server.admin,
        own.eventId,
        Array.from({ length: 5 }, () => ({ ticket_type_id: own.types.ga })),
      );
      const scanner = await registerDevice(server.admin, 'Own feed scanner');
      const reader = server.client((await registerDevice(server.admin, 'Own feed reader')).token);
      const d = new TestDevice(server.client(scanner.token), scanner.deviceId, own.eventId);
      ownTickets.forEach((t, i) => d.scan({ code: t.code, at: t0 + i, gateId: own.gates.main }));
      expect((await d.upload()).status).toBe(200);

      const neighbourActivity = await busyNeighbour();

      // Paging two items at a time, the neighbour busy between pages: every change of the event exactly once.
      const seen: string[] = [];
      let since: string | undefined;
      await eventually(async () => {
        for (let page = 0; page < 200; page++) {
          const r = await reader.get(
            `/api/v1/offline/events?event_id=${own.eventId}&limit=2${since ? `&since=${encodeURIComponent(since)}` : ''}`,
          );
          expect(r.status).toBe(200);
          seen.push(
            ...r.body.events.map((e: { kind: string; ticket_id: string; scan_id?: string }) =>
              e.kind === 'ticket' ? `ticket ${e.ticket_id}` : `scan ${e.scan_id}`,
            ),
          );
          since = r.body.next_cursor;
          await neighbourActivity();
          if (!r.body.has_more) break;
        }
        expect(seen.filter((k) => k.startsWith('scan'))).toHaveLength(5);
      });
      expect(seen.filter((k) => k.startsWith('ticket')).sort()).toEqual(ownTickets.map((t) => `ticket ${t.id}`).sort());
      expect(new Set(seen).size).toBe(seen.length);

      // Nothing new at the event: the same cursor back, however busy the neighbour is.
      for (let i = 0; i < 3; i++) {
        await neighbourActivity();
        const again = await reader.get(
          `/api/v1/offline/events?event_id=${own.eventId}&since=${encodeURIComponent(since!)}`,
        );
        expect(again.body).toEqual({ event_id: own.eventId, events: [], next_cursor: since, has_more: false });
      }
      // A change at the event moves it, and is served once.
      await server.admin.post(`/api/v1/tickets/${ownTickets[0]!.id}/cancel`);
      const moved = await eventually(async () => {
        const r = await reader.get(
          `/api/v1/offline/events?event_id=${own.eventId}&since=${encodeURIComponent(since!)}`,
        );
        expect(r.body.events).toEqual([
          expect.objectContaining({ kind: 'ticket', ticket_id: ownTickets[0]!.id, status: 'cancelled' }),
        ]);
        return r.body.next_cursor as string;
      });
      expect(moved).not.toBe(since);
      expect(
        (await reader.get(`/api/v1/offline/events?event_id=${own.eventId}&since=${encodeURIComponent(moved)}`)).body,
      ).toMatchObject({ events: [], next_cursor: moved });
    });

    it("only=double_entries shows a device only the other devices' losing admissions of tickets it admitted, including a verdict that changes later", async () => {
      const winner = await device('DE winner');
      const loser = await device('DE loser');
      const late = await device('DE late');
      const bystander = await device('DE bystander');
      const [shared, lateShared, mineAlone, others] = await tickets(4);
      const start = async (d: typeof winner): Promise<string> => {
        const r = await d.client.get(`/api/v1/offline/events?event_id=${ev.eventId}&only=double_entries`);
        expect(r.status).toBe(200);
        return r.body.next_cursor as string;
      };
      const since = await start(winner);
      const bystanderSince = await start(bystander);
      winner.scan({ code: shared!.code, at: t0, gateId: ev.gates.main });
      winner.scan({ code: lateShared!.code, at: t0 + 20_000, gateId: ev.gates.main });
      winner.scan({ code: mineAlone!.code, at: t0, gateId: ev.gates.main });
      await winner.upload();
      loser.scan({ code: shared!.code, at: t0 + 10_000, gateId: ev.gates.main }); // loses: the winner's scan is earlier
      loser.scan({ code: others!.code, at: t0, gateId: ev.gates.main }); // a ticket the winner never scanned
      await loser.upload();
      // A late upload with an earlier scan takes lateShared over: the winner's own scan becomes the conflict, no double entry for it
      // (but the winner learns that its scan lost, which its upload's answer could not say).
      late.scan({ code: lateShared!.code, at: t0 + 5_000, gateId: ev.gates.main });
      await late.upload();

      const read = async (d: typeof winner, from: string): Promise<Array<Record<string, unknown>>> => {
        const events: Array<Record<string, unknown>> = [];
        let cursor = from;
        for (let page = 0; page < 100; page++) {
          const r = await d.client.get(
            `/api/v1/offline/events?event_id=${ev.eventId}&only=double_entries&limit=1&since=${encodeURIComponent(cursor)}`,
          );
          expect(r.status).toBe(200);
          events.push(...r.body.events);
          cursor = r.body.next_cursor;
          if (!r.body.has_more) break;
        }
        return events;
      };
      await eventually(async () => {
        const seen = await read(winner, since);
        expect(seen).toEqual([
          expect.objectContaining({
            kind: 'scan',
            ticket_id: shared!.id,
            device_id: loser.deviceId,
            verdict: 'conflict',
            conflict_reason: 'already_used',
          }),
          expect.objectContaining({
            kind: 'scan',
            ticket_id: lateShared!.id,
            device_id: winner.deviceId,
            seq: 2,
            verdict: 'conflict',
            revision: 1,
          }),
        ]);
      });
      // The late device admitted lateShared and the winner's scan of it lost: a double entry in the late device's view.
      await eventually(async () => {
        expect(await read(late, since)).toEqual([
          expect.objectContaining({ ticket_id: lateShared!.id, device_id: winner.deviceId, verdict: 'conflict' }),
        ]);
      });
      expect(await read(bystander, bystanderSince)).toEqual([]);
      // The organisers' feed has no "own scans" to relate to.
      expect((await server.admin.get(`/api/v1/offline/events?event_id=${ev.eventId}&only=double_entries`)).status).toBe(
        400,
      );
      expect((await winner.client.get(`/api/v1/offline/events?event_id=${ev.eventId}&only=everything`)).status).toBe(
        400,
      );
    });
    it('a double-entries page looks through a bounded window of scans, and the pages still find every double entry once', async () => {
      const winner = await device('Window winner');
      const loser = await device('Window loser');
      const feed = new FeedService(tdb.db, new Cursors(Buffer.from(TEST_SECRET)), 4);
      const ctx = { event: { id: ev.eventId } } as EventContext;
      const [{ pk }] = (await tdb.db.query<{ pk: string }>(`SELECT id AS pk FROM devices WHERE device_id = $1`, [
        winner.deviceId,
      ])) as [{ pk: string }];
      // The head of the view: earlier tests' scans lie before it, in windows of 4.
      let start: string | undefined;
      for (let more = true; more;) {
        const p = (await feed.page(ctx, { since: start, limit: 2, excludeDevicePk: pk, doubleEntries: true })) as {
          next_cursor: string;
          has_more: boolean;
        };
        start = p.next_cursor;
        more = p.has_more;
      }
      const ts = await tickets(15);
      ts.slice(0, 5).forEach((t, i) => winner.scan({ code: t.code, at: t0 + i * 1000, gateId: ev.gates.main }));
      await winner.upload();
      // Each of the winner's 5 tickets admitted later by the loser (5 double entries), among 10 more of its scans.
      ts.forEach((t, i) => loser.scan({ code: t.code, at: t0 + 60_000 + i * 1000, gateId: ev.gates.main }));
      await loser.upload();
      await eventually(async () => {
        const seen: string[] = [];
        let since = start!;
        let pages = 0;
        for (; pages < 100; pages++) {
          const p = (await feed.page(ctx, { since, limit: 2, excludeDevicePk: pk, doubleEntries: true })) as {
            events: Array<{ ticket_id: string }>;
            next_cursor: string;
            has_more: boolean;
          };
          expect(p.events.length).toBeLessThanOrEqual(2);
          seen.push(...p.events.map((e) => e.ticket_id));
          since = p.next_cursor;
          if (!p.has_more) break;
        }
        expect(seen.sort()).toEqual(
          ts
            .slice(0, 5)
            .map((t) => t.id)
            .sort(),
        );
        // 20 scans after the cursor, at most 4 looked through per page.
        expect(pages).toBeGreaterThanOrEqual(4);
      });
    });
  });

  describe('conflict resolution and revocation', () => {
    it('resolving a conflict as legitimate accepts the admission and corrects the counts', async () => {
      const a = await device('Res A');
      const b = await device('Res B');
      const [t] = await issueTickets(server.admin, ev.eventId, [{ ticket_type_id: ev.types.reentry }]);
      a.scan({ code: t!.code, at: t0, gateId: ev.gates.main });
      a.scan({ code: t!.code, at: t0 + 60_000, direction: 'exit', gateId: ev.gates.main });
      b.scan({ code: t!.code, at: t0 + 30_000, gateId: ev.gates.main });
      await a.upload();
      await b.upload();
      const conflict = (
        await server.admin.get(`/api/v1/events/${ev.eventId}/conflicts?status=open`)
      ).body.conflicts.find((c: { ticket: { id: string } }) => c.ticket.id === t!.id);
      expect(conflict).toMatchObject({ reason: 'already_inside' });
      const resolved = await server.admin.post(`/api/v1/conflicts/${conflict.id}/resolve`, {
        resolution: 'legitimate',
        note: 'two wristbands, checked',
      });
      expect(resolved.status).toBe(200);
      expect(resolved.body).toMatchObject({
        status: 'resolved',
        resolution: 'legitimate',
        note: 'two wristbands, checked',
      });
      expect(resolved.body.resolved_by).toMatch(/^token:/);
      expect(Date.parse(resolved.body.resolved_at)).not.toBeNaN();
      const again = await server.admin.post(`/api/v1/conflicts/${conflict.id}/resolve`, { resolution: 'fraud' });
      expect(again.status).toBe(409);
      const scans = (await server.admin.get(`/api/v1/tickets/${t!.id}`)).body.scans;
      expect(scans).toHaveLength(3);
      expect(
        (await server.admin.post(`/api/v1/conflicts/${crypto.randomUUID()}/resolve`, { resolution: 'dismissed' }))
          .status,
      ).toBe(404);
      expect(
        (await server.admin.post(`/api/v1/conflicts/${conflict.id}/resolve`, { resolution: 'maybe' })).status,
      ).toBe(400);
    });

    it('revoking a device stops its token and quarantines its scans from effective_at for review', async () => {
      const d = await device('Stolen');
      const [before, after] = await tickets(2);
      d.scan({ code: before!.code, at: t0, gateId: ev.gates.main });
      d.scan({ code: after!.code, at: t0 + 30 * 60_000, gateId: ev.gates.main });
      await d.upload();
      const rv = await server.admin.post(`/api/v1/devices/${d.deviceId}/revoke`, {
        reason: 'stolen at gate 3',
        effective_at: new Date(t0 + 10 * 60_000).toISOString(),
      });
      expect(rv.body).toMatchObject({ status: 'revoked', status_reason: 'stolen at gate 3' });
      clock += 3_000;
      const denied = await d.upload();
      expect(denied.status).toBe(403);
      expect(denied.body.error).toBe('DEVICE_REVOKED');
      clock = Date.now();
      expect((await server.admin.get(`/api/v1/tickets/${before!.id}`)).body.scans_used).toBe(1);
      expect((await server.admin.get(`/api/v1/tickets/${after!.id}`)).body).toMatchObject({
        scans_used: 0,
        inside: false,
      });
      const inbox = (await server.admin.get(`/api/v1/events/${ev.eventId}/conflicts?status=open`)).body.conflicts.find(
        (c: { ticket: { id: string } }) => c.ticket.id === after!.id,
      );
      expect(inbox).toMatchObject({ reason: 'device_revoked', winner: null, loser: { device_id: d.deviceId } });
      await server.admin.post(`/api/v1/conflicts/${inbox.id}/resolve`, {
        resolution: 'legitimate',
        note: 'scanned before the theft, checked CCTV',
      });
      expect((await server.admin.get(`/api/v1/tickets/${after!.id}`)).body.scans_used).toBe(1);
    });
  });

  describe('seed 000 reconcile', () => {
    it('stores and reconciles by ticket id, idempotent per device, ticket and time', async () => {
      const d = await device('Legacy');
      const [a, b] = await tickets(2);
      const at = new Date(t0).toISOString();
      const body = {
        device_id: d.deviceId,
        scans: [
          { ticket_id: a!.id, scanned_at: at, result: 'ALLOW', scan_count: 1 },
          { ticket_id: b!.id, scanned_at: at, result: 'DENY', reason: 'wrong gate' },
          { ticket_id: crypto.randomUUID(), scanned_at: at, result: 'ALLOW' },
        ],
      };
      const r = await d.client.post('/api/v1/offline/reconcile', body);
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ success: true, reconciled: 2, failed: 1 });
      expect(r.body.results.map((x: { status: string }) => x.status)).toEqual(['SUCCESS', 'SUCCESS', 'ERROR']);
      expect(r.body.results[2].message).toBe('Ticket not found');
      const again = await d.client.post('/api/v1/offline/reconcile', body);
      expect(again.body.results.map((x: { status: string }) => x.status)).toEqual(['DUPLICATE', 'DUPLICATE', 'ERROR']);
      expect((await server.admin.get(`/api/v1/tickets/${a!.id}`)).body.scans_used).toBe(1);
      expect((await server.admin.get(`/api/v1/tickets/${b!.id}`)).body.scans_used).toBe(0);
    });
  });
});
