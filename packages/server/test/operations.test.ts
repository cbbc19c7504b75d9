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
import { TestDevice } from './offline-helpers.ts';
import { csvCell } from '../src/services/scan-log-service.ts';

/** Issue 13 §4: the scan log (pages, filters, CSV export) and the conflicts inbox (filters, pages, bulk resolution). */
describeEachBackend('scan log and conflicts inbox', (backend) => {
  let tdb: TestDatabase;
  let server: TestServer;
  let ev: SeededEvent;
  let a: TestDevice;
  let b: TestDevice;
  const t0 = Date.now() - 3600_000;
  // A summer instant: Amsterdam is at +02:00 then (the event is in December, +01:00): the export must use each instant's own offset.
  const summer = Date.UTC(2026, 6, 4, 17, 2, 3, 120);

  beforeAll(async () => {
    tdb = await backend.open();
    server = await startTestServer(tdb.db);
    ev = await seedEvent(server.admin);
    const device = async (name: string): Promise<TestDevice> => {
      const d = await registerDevice(server.admin, name);
      return new TestDevice(server.client(d.token), d.deviceId, ev.eventId);
    };
    a = await device('North, "door" 1');
    b = await device('=HYPERLINK("http://evil.example")');
  });
  afterAll(async () => {
    await server?.close();
    await tdb?.drop();
  });

  const tickets = (n: number) =>
    issueTickets(
      server.admin,
      ev.eventId,
      Array.from({ length: n }, () => ({ ticket_type_id: ev.types.ga })),
    );
  /** Two offline devices admit the same tickets: A first (by device time), B a minute later; B's scans become the conflicts. */
  const doubleEntries = async (
    n: number,
    offset: number,
  ): Promise<Array<{ id: string; code: string; number: string }>> => {
    const ts = await tickets(n);
    const fromA = a.log.length + 1;
    const fromB = b.log.length + 1;
    ts.forEach((t, i) => {
      a.scan({ code: t.code, at: t0 + offset + i * 1000, gateId: ev.gates.main });
      b.scan({ code: t.code, at: t0 + offset + 60_000 + i * 1000, gateId: ev.gates.any });
    });
    expect((await a.upload(fromA, a.log.length)).status).toBe(200);
    expect((await b.upload(fromB, b.log.length)).status).toBe(200);
    return ts;
  };
  // prettier-ignore
  const conflictsOf = async (q = ''): Promise<Array<Record<string, any>>> => { // eslint-disable-line @typescript-eslint/no-explicit-any
    const r = await server.admin.get(`/api/v1/events/${ev.eventId}/conflicts${q}`);
    expect(r.status).toBe(200);
    return r.body.conflicts;
  };

  describe('scan log', () => {
    it('pages through every scan newest first, filters, and shows device time and upload time side by side', async () => {
      const [t1, t2] = await doubleEntries(2, 0);
      // An online scan with an exit, to filter on source and direction.
      const dev = server.client((await registerDevice(server.admin, 'Online gate')).token);
      const [t3] = await tickets(1);
      expect(
        (await dev.post('/api/v1/scanning/scan', { code: t3!.code, event_id: ev.eventId, gate_id: ev.gates.main })).body
          .result,
      ).toBe('valid');

      // prettier-ignore
      const all: Array<Record<string, any>> = []; // eslint-disable-line @typescript-eslint/no-explicit-any
      let cursor: string | null = null;
      do {
        const r: { status: number; body: { scans: typeof all; next_cursor: string | null } } = await server.admin.get(
          `/api/v1/events/${ev.eventId}/scans?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        );
        expect(r.status).toBe(200);
        expect(r.body.scans.length).toBeLessThanOrEqual(2);
        all.push(...r.body.scans);
        cursor = r.body.next_cursor;
      } while (cursor);
      expect(all).toHaveLength(5);
      expect(new Set(all.map((s) => s.id)).size).toBe(5);
      const times = all.map((s) => Date.parse(s.scanned_at));
      expect([...times].sort((x, y) => y - x)).toEqual(times);

      const offline = all.find((s) => s.ticket?.id === t1!.id && s.device.id === b.deviceId)!;
      expect(offline).toMatchObject({
        source: 'offline',
        direction: 'entry',
        verdict: 'conflict',
        conflict_reason: 'already_used',
        scanned_at: new Date(t0 + 60_000).toISOString(),
        gate: { id: ev.gates.any, name: 'Any' },
        device: { id: b.deviceId, name: '=HYPERLINK("http://evil.example")' },
        ticket: { id: t1!.id, number: t1!.number },
      });
      // Upload time is the server's: an hour after the device's.
      expect(Date.parse(offline.received_at) - Date.parse(offline.scanned_at)).toBeGreaterThan(3_000_000);
      expect(JSON.stringify(all)).not.toContain(t1!.code);
      expect(JSON.stringify(all)).not.toContain(t2!.code);

      const ids = async (q: string): Promise<string[]> => {
        const r = await server.admin.get(`/api/v1/events/${ev.eventId}/scans?${q}`);
        expect(r.status, q).toBe(200);
        return r.body.scans.map((s: { id: string }) => s.id).sort();
      };
      // prettier-ignore
      const where = (f: (s: Record<string, any>) => boolean): string[] => all.filter(f).map((s) => s.id).sort(); // eslint-disable-line @typescript-eslint/no-explicit-any
      expect(await ids(`device_id=${b.deviceId}`)).toEqual(where((s) => s.device.id === b.deviceId));
      expect(await ids(`gate_id=${ev.gates.main}`)).toEqual(where((s) => s.gate?.id === ev.gates.main));
      expect(await ids('source=online')).toEqual(where((s) => s.source === 'online'));
      expect(await ids('source=online')).toHaveLength(1);
      expect(await ids('conflicts=true')).toEqual(where((s) => s.verdict === 'conflict'));
      expect(await ids('conflicts=true')).toHaveLength(2);
      expect(await ids('verdict=admitted')).toEqual(where((s) => s.verdict === 'admitted'));
      expect(await ids('reason=already_used')).toEqual(where((s) => s.reason === 'already_used'));
      expect(await ids('direction=exit')).toEqual([]);
      // Time range: [from, to), in the event's zone when the text has no offset.
      expect(
        await ids(`from=${new Date(t0 + 30_000).toISOString()}&to=${new Date(t0 + 61_000).toISOString()}`),
      ).toEqual(where((s) => Date.parse(s.scanned_at) >= t0 + 30_000 && Date.parse(s.scanned_at) < t0 + 61_000));
      expect(
        await ids(`from=${new Date(t0 + 30_000).toISOString()}&to=${new Date(t0 + 61_000).toISOString()}`),
      ).toHaveLength(1);

      // Bad input is a 400 naming the field, never a 5xx.
      for (const q of [
        'limit=0',
        'limit=1001',
        'cursor=nonsense',
        'verdict=maybe',
        'from=yesterday',
        'direction=up',
        'staff_id=x',
      ]) {
        const r = await server.admin.get(`/api/v1/events/${ev.eventId}/scans?${q}`);
        expect(r.status, q).toBe(400);
        expect(r.body.error, q).toBe('INVALID_BODY');
      }
    });

    it("exports CSV in the event's time zone, each instant with its own offset, with formula-safe cells", async () => {
      const [t] = await tickets(1);
      const from = b.log.length + 1;
      b.scan({ code: t!.code, at: summer, gateId: ev.gates.main });
      expect((await b.upload(from, from)).status).toBe(200);
      const res = await fetch(`${server.url}/api/v1/events/${ev.eventId}/scans.csv?device_id=${b.deviceId}`, {
        headers: { authorization: `Bearer ${server.adminToken}` },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
      expect(res.headers.get('content-disposition')).toBe('attachment; filename="scans-Test-Event.csv"');
      const raw = Buffer.from(await res.arrayBuffer());
      // A byte order mark first: spreadsheets then read UTF-8.
      expect([...raw.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
      const text = raw.subarray(3).toString('utf8');
      const lines = text.split('\r\n');
      expect(lines[0]).toBe(
        'scanned_at,received_at,upload_delay_s,direction,verdict,result,reason,conflict_reason,source,clock_uncertainty_ms,' +
          'gate,device_id,device,staff,ticket_number,holder_name,scan_id',
      );
      const row = lines.find((l) => l.startsWith('2026-07-04'))!;
      expect(row.startsWith('2026-07-04T19:02:03.120+02:00,')).toBe(true);
      // The formula is neutralised and quoted (it holds quotes); the received time is December's +01:00.
      expect(row).toContain(`,${b.deviceId},"'=HYPERLINK(""http://evil.example"")",`);
      expect(row.split(',')[1]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+01:00$/);
      expect(text).not.toContain(t!.code);
      // Every offline scan of B, nothing else.
      expect(lines.filter((l) => l.includes(b.deviceId))).toHaveLength(b.log.length);
    });

    it('escapes every cell a spreadsheet would read as a formula', () => {
      expect(csvCell('=1+1')).toBe("'=1+1");
      expect(csvCell('+31 6')).toBe("'+31 6");
      expect(csvCell('-2')).toBe("'-2");
      expect(csvCell('@SUM(A1)')).toBe("'@SUM(A1)");
      expect(csvCell('\tx')).toBe("'\tx");
      expect(csvCell('\rx')).toBe('"\'\rx"');
      expect(csvCell('a,b')).toBe('"a,b"');
      expect(csvCell('say "hi"')).toBe('"say ""hi"""');
      expect(csvCell(-3)).toBe('-3');
      expect(csvCell(null)).toBe('');
      expect(csvCell('Zoë')).toBe('Zoë');
    });

    it('streams a large export as the client reads it, never built in memory first', async () => {
      // 40,000 scans (~8 MB of CSV, 8 statements of 5,000 rows), written straight into the table.
      const [dev] = await tdb.db.query<{ id: string }>('SELECT id FROM devices WHERE device_id = $1', [a.deviceId]);
      await tdb.db.query(
        `INSERT INTO scans (event_id, id, result, reason, admits, direction, device_pk, device_id, gate_id, scanned_at, received_at, source)
         SELECT $1, gen_random_uuid(), 'invalid_token', 'unknown_code', false, 'entry', $2, 'bulk-device', $3,
                $4::timestamptz - (g * interval '1 millisecond'), now(), 'offline'
         FROM generate_series(1, 40000) g`,
        [ev.eventId, dev!.id, ev.gates.main, new Date(t0 - 7 * 86_400_000)],
      );
      const res = await fetch(`${server.url}/api/v1/events/${ev.eventId}/scans.csv?device_id=bulk-device`, {
        headers: { authorization: `Bearer ${server.adminToken}` },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-length')).toBeNull();
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      let text = '';
      const first = await reader.read();
      text += decoder.decode(first.value, { stream: true });
      // The client stops reading. A scan older than all others (the export's very last row) is written now: the
      // export holds it only if its last statement runs after this, i.e. only if the server waits for the reader.
      await new Promise((r) => setTimeout(r, 500));
      await tdb.db.query(
        `INSERT INTO scans (event_id, id, result, reason, admits, direction, device_pk, device_id, scanned_at, source)
         VALUES ($1, '00000000-0000-4000-8000-00000000beef', 'invalid_token', 'unknown_code', false, 'entry', $2, 'bulk-device', $3, 'offline')`,
        [ev.eventId, dev!.id, new Date(t0 - 30 * 86_400_000)],
      );
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
      const lines = text.split('\r\n').filter((l) => l !== '');
      expect(lines).toHaveLength(1 + 40_001);
      expect(lines.at(-1)).toMatch(/,00000000-0000-4000-8000-00000000beef$/);
    });
  });

  describe('conflicts inbox', () => {
    it('filters by status, ambiguity, reason and device, in pages, with both scans side by side', async () => {
      const open = await conflictsOf('?status=open');
      expect(open.length).toBeGreaterThanOrEqual(2);
      const c = open[0]!;
      expect(c.loser).toMatchObject({
        device_id: b.deviceId,
        device_name: '=HYPERLINK("http://evil.example")',
        gate: 'Any',
        source: 'offline',
        ambiguous: false,
        received_at: expect.any(String),
        clock_uncertainty_ms: expect.anything(),
      });
      expect(c.winner).toMatchObject({
        device_id: a.deviceId,
        device_name: 'North, "door" 1',
        gate: 'Main',
        received_at: expect.any(String),
      });
      expect(Date.parse(c.winner.scanned_at)).toBeLessThan(Date.parse(c.loser.scanned_at));

      const r = await server.admin.get(`/api/v1/events/${ev.eventId}/conflicts?status=open`);
      expect(r.body.counts).toMatchObject({ open: open.length, resolved: 0 });
      // Pages of one, oldest first, each once.
      const paged: string[] = [];
      let cursor: string | null = null;
      do {
        const p: { body: { conflicts: Array<{ id: string }>; next_cursor: string | null } } = await server.admin.get(
          `/api/v1/events/${ev.eventId}/conflicts?status=open&limit=1${cursor ? `&cursor=${cursor}` : ''}`,
        );
        paged.push(...p.body.conflicts.map((x) => x.id));
        cursor = p.body.next_cursor;
      } while (cursor);
      expect(paged).toEqual(open.map((x) => x.id));

      expect((await conflictsOf(`?device_id=${a.deviceId}`)).map((x) => x.id)).toEqual(open.map((x) => x.id)); // the winner's device too
      expect(await conflictsOf('?device_id=nobody')).toEqual([]);
      expect((await conflictsOf('?reason=already_used')).length).toBe(open.length);
      expect(await conflictsOf('?reason=cancelled')).toEqual([]);
      expect((await conflictsOf('?ambiguous=false&status=open')).length).toBe(open.length);
      expect(await conflictsOf('?ambiguous=true')).toEqual([]);
      expect(await conflictsOf('?status=resolved')).toEqual([]);
      expect((await conflictsOf('?status=all')).length).toBe(open.length);
      for (const q of ['status=escalated', 'ambiguous=yes', 'cursor=x', 'limit=0']) {
        expect((await server.admin.get(`/api/v1/events/${ev.eventId}/conflicts?${q}`)).status, q).toBe(400);
      }
    });

    it('resolves many at once, all or none: one unknown or closed id resolves nothing and is named', async () => {
      const ts = await doubleEntries(3, 600_000);
      const open = await conflictsOf('?status=open');
      // In ticket order (conflicts opened in one upload share their creation time).
      const ids = ts.map((t) => open.find((c) => c.ticket.id === t.id)?.id as string).filter(Boolean);
      expect(ids).toHaveLength(3);
      const url = `/api/v1/events/${ev.eventId}/conflicts/resolve`;
      const unknown = '00000000-0000-4000-8000-000000000000';

      const missing = await server.admin.post(url, { conflict_ids: [ids[0], unknown], resolution: 'fraud' });
      expect(missing.status).toBe(404);
      expect(missing.body).toMatchObject({
        error: 'NOT_FOUND',
        conflict_id: unknown,
        message: expect.stringMatching(/^conflict_ids\/1: /),
      });
      expect((await conflictsOf('?status=open')).map((c) => c.id)).toEqual(expect.arrayContaining(ids));

      // The last one resolved alone first: a batch that includes it is refused whole.
      expect(
        (await server.admin.post(`/api/v1/conflicts/${ids[2]}/resolve`, { resolution: 'dismissed' })).body.status,
      ).toBe('resolved');
      const closed = await server.admin.post(url, { conflict_ids: ids, resolution: 'legitimate', note: 'x' });
      expect(closed.status).toBe(409);
      expect(closed.body).toMatchObject({
        error: 'CONFLICT',
        conflict_id: ids[2],
        message: expect.stringMatching(/^conflict_ids\/2: /),
      });
      const stillOpen = (await conflictsOf('?status=open')).map((c) => c.id);
      expect(stillOpen).toEqual(expect.arrayContaining([ids[0], ids[1]]));

      expect((await server.admin.post(url, { conflict_ids: [ids[0], ids[0]], resolution: 'fraud' })).status).toBe(400);
      expect((await server.admin.post(url, { conflict_ids: [], resolution: 'fraud' })).status).toBe(400);

      const verdicts = async (): Promise<string[]> =>
        (
          (await server.admin.get(`/api/v1/events/${ev.eventId}/scans?device_id=${b.deviceId}`)).body.scans as Array<{
            ticket: { id: string };
            verdict: string;
          }>
        )
          .filter((x) => x.ticket.id === ts[0]!.id)
          .map((x) => x.verdict);
      expect(await verdicts()).toEqual(['conflict']);
      const ok = await server.admin.post(url, {
        conflict_ids: [ids[0], ids[1]],
        resolution: 'legitimate',
        note: 'two wristbands',
      });
      expect(ok.status).toBe(200);
      expect(
        ok.body.conflicts.map((c: { id: string; status: string; resolution: string; note: string }) => [
          c.id,
          c.status,
          c.resolution,
          c.note,
        ]),
      ).toEqual([
        [ids[0], 'resolved', 'legitimate', 'two wristbands'],
        [ids[1], 'resolved', 'legitimate', 'two wristbands'],
      ]);
      // Accepted: the losing scan is an admission of record now.
      expect(await verdicts()).toEqual(['admitted']);
      const audited = await tdb.db.query<{ subject_id: string; action: string }>(
        `SELECT subject_id, action FROM audit_log WHERE event_id = $1 AND action = 'conflict.resolve' ORDER BY subject_id`,
        [ev.eventId],
      );
      expect(audited.map((x) => x.subject_id)).toEqual(expect.arrayContaining([ids[0], ids[1], ids[2]]));
      const r = await server.admin.get(`/api/v1/events/${ev.eventId}/conflicts?status=resolved`);
      expect(r.body.counts.resolved).toBe(3);
    });

    it('keeps other organisations out of the log, the export, the inbox and the bulk resolution', async () => {
      const open = await conflictsOf('?status=open');
      const org = await server.admin.post('/api/v1/organisations', { name: `Other ${crypto.randomUUID()}` });
      const other: Client = server.client(org.body.admin_token);
      for (const path of [
        `/api/v1/events/${ev.eventId}/scans`,
        `/api/v1/events/${ev.eventId}/scans.csv`,
        `/api/v1/events/${ev.eventId}/conflicts`,
      ]) {
        const r = await other.get(path);
        expect(r.status, path).toBe(404);
        expect(r.body.error, path).toBe('NOT_FOUND');
      }
      const theirs = await seedEvent(other);
      if (open[0]) {
        expect(
          (
            await other.post(`/api/v1/events/${ev.eventId}/conflicts/resolve`, {
              conflict_ids: [open[0].id],
              resolution: 'fraud',
            })
          ).status,
        ).toBe(404);
        // Their own event does not hold our conflict either.
        const r = await other.post(`/api/v1/events/${theirs.eventId}/conflicts/resolve`, {
          conflict_ids: [open[0].id],
          resolution: 'fraud',
        });
        expect(r.status).toBe(404);
        expect((await conflictsOf('?status=open')).map((c) => c.id)).toContain(open[0].id);
      }
      expect((await other.get(`/api/v1/events/${theirs.eventId}/scans`)).body.scans).toEqual([]);
    });
  });
});
