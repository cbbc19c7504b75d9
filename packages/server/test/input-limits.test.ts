import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unsafeSchemaValues } from '@entrada/core';
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

/**
 * Input the database cannot hold is refused at the boundary (400
 * `INVALID_BODY` naming the field), never a 500 from a statement: NUL
 * characters in any text, integers beyond PostgreSQL's integer, instants
 * outside what a timestamptz (and our ISO text) holds — in bodies, path
 * parameters and query strings alike.
 */
interface OpenApi {
  paths: Record<
    string,
    Record<
      string,
      {
        parameters?: Array<{ in: string; name: string; schema: unknown }>;
        requestBody?: { content?: Record<string, { schema?: unknown }> };
      }
    >
  >;
}

describeEachBackend('input the database cannot hold', (backend) => {
  let tdb: TestDatabase;
  let server: TestServer;
  let ev: SeededEvent;
  let device: { deviceId: string; token: string; client: Client };
  let ticketId: string;

  beforeAll(async () => {
    tdb = await backend.open();
    server = await startTestServer(tdb.db);
    ev = await seedEvent(server.admin);
    const d = await registerDevice(server.admin, 'Limits');
    device = { ...d, client: server.client(d.token) };
    ticketId = (await issueTickets(server.admin, ev.eventId, [{ ticket_type_id: ev.types.ga }]))[0]!.id;
  });
  afterAll(async () => {
    await server?.close();
    await tdb?.drop();
  });

  const NUL = 'a\u0000b';
  const event = (extra: Record<string, unknown>) => ({
    name: 'Limits',
    starts_at: '2026-08-01T19:00Z',
    ends_at: '2026-08-02T02:00Z',
    ...extra,
  });
  const syncBody = (extra: Record<string, unknown>) => ({
    event_id: ev.eventId,
    device_id: device.deviceId,
    session_token: 'sess-limits',
    scans: [],
    ...extra,
  });
  const logImport = (extra: Record<string, unknown>) => ({
    format: 'entrada/device-log/v1',
    event_id: ev.eventId,
    device_id: device.deviceId,
    exported_at: Date.now(),
    public_key: null,
    integrity: null,
    scans: [{ qrcode: 'X', scanned_at: Date.now(), seq: 1 }],
    ...extra,
  });

  type Case = [
    title: string,
    who: 'admin' | 'device',
    method: 'GET' | 'POST',
    path: () => string,
    body: () => unknown,
    field: string,
  ];
  const cases: Case[] = [
    ['event name', 'admin', 'POST', () => '/api/v1/events', () => event({ name: NUL }), '/name'],
    [
      'event time zone',
      'admin',
      'POST',
      () => '/api/v1/events',
      () => event({ timezone: `UTC${'\u0000'}` }),
      '/timezone',
    ],
    [
      'event start in year 0000',
      'admin',
      'POST',
      () => '/api/v1/events',
      () => event({ starts_at: '0000-01-01T00:00:00Z' }),
      '/starts_at',
    ],
    [
      'event start in year -200000',
      'admin',
      'POST',
      () => '/api/v1/events',
      () => event({ starts_at: '-200000-01-01T00:00:00Z' }),
      '/starts_at',
    ],
    [
      'event end in year 10000',
      'admin',
      'POST',
      () => '/api/v1/events',
      () => event({ ends_at: '+010000-01-01T00:00:00Z' }),
      '/ends_at',
    ],
    [
      'event start that is year 0 in UTC',
      'admin',
      'POST',
      () => '/api/v1/events',
      () => event({ starts_at: '0001-01-01T00:30:00+01:00' }),
      '/starts_at',
    ],
    ['zone name', 'admin', 'POST', () => `/api/v1/events/${ev.eventId}/zones`, () => ({ name: NUL }), '/name'],
    [
      'zone capacity of 2^31',
      'admin',
      'POST',
      () => `/api/v1/events/${ev.eventId}/zones`,
      () => ({ name: 'Big', capacity: 2 ** 31 }),
      '/capacity',
    ],
    [
      'gate name',
      'admin',
      'POST',
      () => `/api/v1/events/${ev.eventId}/gates`,
      () => ({ name: NUL, zone_ids: [] }),
      '/name',
    ],
    [
      'ticket type name',
      'admin',
      'POST',
      () => `/api/v1/events/${ev.eventId}/ticket-types`,
      () => ({ name: NUL, zone_ids: [] }),
      '/name',
    ],
    [
      'ticket type valid_from in year 0000',
      'admin',
      'POST',
      () => `/api/v1/events/${ev.eventId}/ticket-types`,
      () => ({ name: 'Old', zone_ids: [], valid_from: '0000-06-01T00:00' }),
      '/valid_from',
    ],
    ['organisation name', 'admin', 'POST', () => '/api/v1/organisations', () => ({ name: NUL }), '/name'],
    ['device name', 'admin', 'POST', () => '/api/v1/devices', () => ({ name: NUL }), '/name'],
    [
      'holder name',
      'admin',
      'POST',
      () => `/api/v1/events/${ev.eventId}/tickets`,
      () => ({ tickets: [{ ticket_type_id: ev.types.ga }, { ticket_type_id: ev.types.ga, holder_name: NUL }] }),
      '/tickets/1/holder_name',
    ],
    [
      'ticket number',
      'admin',
      'POST',
      () => `/api/v1/events/${ev.eventId}/tickets`,
      () => ({ tickets: [{ ticket_type_id: ev.types.ga, number: NUL }] }),
      '/tickets/0/number',
    ],
    [
      'imported code',
      'admin',
      'POST',
      () => `/api/v1/events/${ev.eventId}/tickets`,
      () => ({ tickets: [{ ticket_type_id: ev.types.ga, code: NUL }] }),
      '/tickets/0/code',
    ],
    [
      'cancellation reason',
      'admin',
      'POST',
      () => `/api/v1/tickets/${ticketId}/cancel`,
      () => ({ reason: NUL }),
      '/reason',
    ],
    [
      'suspension reason',
      'admin',
      'POST',
      () => `/api/v1/devices/${device.deviceId}/suspend`,
      () => ({ reason: NUL }),
      '/reason',
    ],
    ['revocation reason', 'admin', 'POST', () => '/api/v1/devices/nobody/revoke', () => ({ reason: NUL }), '/reason'],
    [
      'revocation time in year 0000',
      'admin',
      'POST',
      () => '/api/v1/devices/nobody/revoke',
      () => ({ reason: 'lost', effective_at: '0000-01-01T00:00:00Z' }),
      '/effective_at',
    ],
    ['device id in the path', 'admin', 'POST', () => '/api/v1/devices/%00/suspend', () => ({}), 'deviceId'],
    [
      'device id in the path (activate)',
      'admin',
      'POST',
      () => '/api/v1/devices/a%00b/activate',
      () => undefined,
      'deviceId',
    ],
    [
      'staff name',
      'admin',
      'POST',
      () => `/api/v1/events/${ev.eventId}/staff`,
      () => ({ username: 'nul', name: NUL, pin: '1234' }),
      '/name',
    ],
    [
      'staff username',
      'admin',
      'POST',
      () => `/api/v1/events/${ev.eventId}/staff`,
      () => ({ username: NUL, name: 'N', pin: '1234' }),
      '/username',
    ],
    [
      'login username',
      'device',
      'POST',
      () => `/api/v1/events/${ev.eventId}/login`,
      () => ({ username: NUL, pin: '1234' }),
      '/username',
    ],
    [
      'pairing code device name',
      'admin',
      'POST',
      () => '/api/v1/devices/pairing-codes',
      () => ({ event_id: ev.eventId, name: NUL }),
      '/name',
    ],
    [
      'sync session token',
      'device',
      'POST',
      () => '/api/v1/offline/sync',
      () => syncBody({ session_token: NUL }),
      '/session_token',
    ],
    [
      'sync device id',
      'device',
      'POST',
      () => '/api/v1/offline/sync',
      () => syncBody({ device_id: NUL }),
      '/device_id',
    ],
    [
      'reconcile reason',
      'device',
      'POST',
      () => '/api/v1/offline/reconcile',
      () => ({
        device_id: 'x',
        scans: [{ ticket_id: ticketId, scanned_at: '2026-08-01T19:00:00Z', result: 'DENY', reason: NUL }],
      }),
      '/scans/0/reason',
    ],
    [
      'reconcile scan count of 2^31',
      'device',
      'POST',
      () => '/api/v1/offline/reconcile',
      () => ({
        device_id: 'x',
        scans: [{ ticket_id: ticketId, scanned_at: '2026-08-01T19:00:00Z', result: 'ALLOW', scan_count: 2 ** 31 }],
      }),
      '/scans/0/scan_count',
    ],
    [
      'import exported_at 1e21',
      'admin',
      'POST',
      () => '/api/v1/offline/import',
      () => logImport({ exported_at: 1e21 }),
      '/exported_at',
    ],
    [
      'import device id',
      'admin',
      'POST',
      () => '/api/v1/offline/import',
      () => logImport({ device_id: NUL }),
      '/device_id',
    ],
    [
      'conflict note',
      'admin',
      'POST',
      () => `/api/v1/conflicts/${crypto.randomUUID()}/resolve`,
      () => ({ resolution: 'fraud', note: NUL }),
      '/note',
    ],
    [
      'sync status device id in the path',
      'admin',
      'GET',
      () => `/api/v1/offline/sync/status/${ev.eventId}/%00`,
      () => undefined,
      'deviceId',
    ],
    [
      'manifest device id in the query',
      'device',
      'GET',
      () => `/api/v1/offline/manifest/${ev.eventId}?device_id=%00`,
      () => undefined,
      'device_id',
    ],
    [
      'feed cursor in the query',
      'device',
      'GET',
      () => `/api/v1/offline/events?event_id=${ev.eventId}&since=%00`,
      () => undefined,
      'since',
    ],
    [
      'event id spelled as a URN',
      'admin',
      'GET',
      () => `/api/v1/events/urn:uuid:${ev.eventId}`,
      () => undefined,
      'eventId',
    ],
  ];

  it('every route takes only what the database can hold: its body, path parameters and query string are built from core/protocol/values.ts', () => {
    const doc = (server.app as unknown as { swagger(): OpenApi }).swagger();
    // Scanned strings are matched by keyed digest and never stored as text: any string is a verdict, not an error.
    const scanned: Record<string, string> = {
      'post /api/v1/scanning/scan': '/code',
      'post /api/v1/offline/sync': '/scans/*/qrcode',
      'post /api/v1/offline/import': '/scans/*/qrcode',
    };
    const problems: string[] = [];
    let checked = 0;
    for (const [url, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        const route = `${method} ${url}`;
        for (const p of op.parameters ?? [])
          problems.push(...unsafeSchemaValues(p.schema, `${route} ${p.in} ${p.name}`));
        const body = op.requestBody?.content?.['application/json']?.schema;
        if (body)
          problems.push(
            ...unsafeSchemaValues(body, '', new Set(scanned[route] ? [scanned[route]] : [])).map(
              (x) => `${route} body ${x}`,
            ),
          );
        checked += (op.parameters?.length ?? 0) + (body ? 1 : 0);
      }
    }
    expect(checked).toBeGreaterThan(40);
    expect(problems).toEqual([]);
  });

  it.each(cases)('refuses a %s with 400 naming the field', async (_title, who, method, path, body, field) => {
    const client = who === 'admin' ? server.admin : device.client;
    const r = await client.request(method, path(), body());
    expect({ status: r.status, error: r.body?.error }).toEqual({ status: 400, error: 'INVALID_BODY' });
    expect(r.body.message).toContain(field);
  });

  it("answers a reconcile scan time the database cannot hold as that scan's ERROR, storing the rest (seed 000 clients cannot fix one scan)", async () => {
    const r = await device.client.post('/api/v1/offline/reconcile', {
      device_id: device.deviceId,
      scans: [
        { ticket_id: ticketId, scanned_at: '-200000-01-01T00:00:00Z', result: 'ALLOW' },
        { ticket_id: ticketId, scanned_at: '2026-08-01T19:00:00Z', result: 'ALLOW' },
      ],
    });
    expect(r.status).toBe(200);
    expect(r.body.results.map((x: { status: string }) => x.status)).toEqual(['ERROR', 'SUCCESS']);
    expect(r.body.results[0].message).toContain('scanned_at');
  });

  describe('accepts what the database can hold', () => {
    it('text with characters outside the BMP, and instants at the ends of years 0001 and 9999', async () => {
      const r = await server.admin.post(
        '/api/v1/events',
        event({ name: 'Fête 🎟️ 𝄞', starts_at: '0001-01-01T00:00:00Z', ends_at: '9999-12-31T23:59:59.999Z' }),
      );
      expect(r.status).toBe(201);
      expect(r.body).toMatchObject({
        name: 'Fête 🎟️ 𝄞',
        starts_at: '0001-01-01T00:00:00.000Z',
        ends_at: '9999-12-31T23:59:59.999Z',
      });
      const local = await server.admin.post(
        '/api/v1/events',
        event({ starts_at: '0050-06-01T12:00', ends_at: '0050-06-02T12:00' }),
      );
      expect(local.body.starts_at).toBe('0050-06-01T12:00:00.000Z');
    });

    it('a zone capacity of 2^31 - 1', async () => {
      const r = await server.admin.post(`/api/v1/events/${ev.eventId}/zones`, { name: 'Huge', capacity: 2 ** 31 - 1 });
      expect(r.status).toBe(201);
      expect(r.body.capacity).toBe(2 ** 31 - 1);
    });

    it("offline scans timed anywhere from 1970 to the end of 9999 (the device clock itself is item 2's)", async () => {
      const d = await registerDevice(server.admin, 'Clock edges');
      const scans = [0, Date.UTC(2000, 0, 1), 253_402_300_799_999].map((at, i) => ({
        qrcode: `EDGE-${i}`,
        scanned_at: at,
        seq: i + 1,
      }));
      const r = await server.client(d.token).post('/api/v1/offline/sync', {
        event_id: ev.eventId,
        device_id: d.deviceId,
        session_token: 'edges',
        device_time: Date.now(),
        scans,
      });
      expect(r.status).toBe(200);
      expect(r.body.summary.total_uploaded).toBe(3);
      const stored = await tdb.db.query<{ at: Date }>(
        `SELECT scanned_at AS at FROM scans WHERE device_id = $1 ORDER BY seq`,
        [d.deviceId],
      );
      expect(stored.map((s) => s.at.toISOString())).toEqual([
        '1970-01-01T00:00:00.000Z',
        '2000-01-01T00:00:00.000Z',
        '9999-12-31T23:59:59.999Z',
      ]);
    });

    it('a scanned code with a NUL: it is matched by digest, never stored as text, so it is a verdict', async () => {
      const r = await device.client.post('/api/v1/scanning/scan', {
        code: NUL,
        event_id: ev.eventId,
        gate_id: ev.gates.main,
      });
      expect(r.status).toBe(200);
      expect(r.body.result).toBe('invalid_token');
    });
  });
});
