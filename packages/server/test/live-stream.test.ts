import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '@entrada/core';
import { openPostgres } from '../src/db/postgres.ts';
import type { Database } from '../src/db/database.ts';
import { upsertHeartbeat } from '../src/store/live.ts';
import type { LiveSink } from '../src/services/live-service.ts';
import {
  Client,
  describeEachBackend,
  describePostgres,
  eventually,
  eventOwner,
  freshPostgresDatabase,
  issueTickets,
  registerDevice,
  REQUIRE_SERVICES,
  seedEvent,
  startTestServer,
  type SeededEvent,
  type TestDatabase,
  type TestServer,
} from './harness.ts';
import { TestDevice } from './offline-helpers.ts';

// prettier-ignore
interface Message { id: string; event: string; data: any } // eslint-disable-line @typescript-eslint/no-explicit-any

/** A real SSE reader over HTTP: every message parsed as it arrives. */
class Stream {
  readonly messages: Message[] = [];
  status = 0;
  headers: Headers | null = null;
  body: unknown = null;
  private readonly abort = new AbortController();
  // Its own connection pool, destroyed on close: after an abort the shared pool may open a connection that never
  // sends a request, which the server's close then waits for (until its headers timeout).
  private readonly agent = new Agent({ connections: 1 });
  ended = false;

  static async open(baseUrl: string, eventId: string, headers: Record<string, string>): Promise<Stream> {
    const s = new Stream();
    const res = await undiciFetch(`${baseUrl}/api/v1/events/${eventId}/live`, {
      headers,
      signal: s.abort.signal,
      dispatcher: s.agent,
    });
    s.status = res.status;
    s.headers = res.headers;
    if (res.status !== 200) {
      s.body = await res.json();
      s.close();
      return s;
    }
    void s.read(res.body!);
    return s;
  }

  private async read(body: AsyncIterable<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buf = '';
    try {
      for await (const chunk of body) {
        buf += decoder.decode(chunk, { stream: true });
        let cut: number;
        while ((cut = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          const m: Partial<Message> = {};
          for (const line of block.split('\n')) {
            if (line.startsWith('id: ')) m.id = line.slice(4);
            else if (line.startsWith('event: ')) m.event = line.slice(7);
            else if (line.startsWith('data: ')) m.data = JSON.parse(line.slice(6));
          }
          if (m.event) this.messages.push(m as Message);
        }
      }
    } catch {
      // aborted
    }
    this.ended = true;
  }

  of(event: string): Message[] {
    return this.messages.filter((m) => m.event === event);
  }
  last(event: string): Message | undefined {
    return this.of(event).at(-1);
  }
  /** Waits (generously: a loaded machine) for a message that passes `test`. */
  // prettier-ignore
  async next(event: string, test: (data: any) => boolean = () => true, timeoutMs = 20_000): Promise<Message> { // eslint-disable-line @typescript-eslint/no-explicit-any
    return eventually(async () => {
      const m = this.messages.find((x) => x.event === event && test(x.data));
      if (!m) throw new Error(`no ${event} message yet: ${JSON.stringify(this.messages.map((x) => x.event))}`);
      return m;
    }, timeoutMs);
  }
  close(): void {
    this.abort.abort();
    void this.agent.destroy().catch(() => undefined);
  }
}

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

describeEachBackend("the organisers' live stream", (backend) => {
  let tdb: TestDatabase;
  let server: TestServer;
  let ev: SeededEvent;
  const streams: Stream[] = [];
  const tokens = {} as Record<Role, string>;
  const t0 = Date.now() - 3600_000;

  const open = async (
    headers: Record<string, string> = bearer(server.adminToken),
    eventId = ev.eventId,
  ): Promise<Stream> => {
    const s = await Stream.open(server.url, eventId, headers);
    streams.push(s);
    return s;
  };
  const scanner = async (name: string): Promise<{ client: Client; deviceId: string; pk: string }> => {
    const d = await registerDevice(server.admin, name);
    const [row] = await tdb.db.query<{ id: string }>('SELECT id FROM devices WHERE device_id = $1', [d.deviceId]);
    return { client: server.client(d.token), deviceId: d.deviceId, pk: row!.id };
  };
  const scan = (c: Client, code: string, direction: 'entry' | 'exit' = 'entry') =>
    c.post('/api/v1/scanning/scan', { code, event_id: ev.eventId, gate_id: ev.gates.main, direction });

  beforeAll(async () => {
    tdb = await backend.open();
    server = await startTestServer(tdb.db, { live: { recountMs: 50, flushMs: 50 } });
    ev = await seedEvent(server.admin);
    for (const role of ['viewer', 'supervisor'] as const) {
      tokens[role] = (await server.admin.post('/api/v1/tokens', { name: `${role} token`, role })).body.token;
    }
  });
  afterAll(async () => {
    for (const s of streams) s.close();
    await server?.close();
    await tdb?.drop();
  });

  it("sends a snapshot on connect: occupancy per zone with the pending band from the devices' heartbeats, and the rate", async () => {
    const a = await scanner('Heartbeat A');
    const b = await scanner('Heartbeat B');
    await upsertHeartbeat(tdb.db, {
      eventId: ev.eventId,
      devicePk: a.pk,
      receivedAt: Date.now(),
      deviceTime: Date.now(),
      appVersion: 't',
      pendingScans: 12,
    });
    await upsertHeartbeat(tdb.db, {
      eventId: ev.eventId,
      devicePk: b.pk,
      receivedAt: Date.now(),
      deviceTime: Date.now(),
      appVersion: 't',
      pendingScans: 200,
    });
    await upsertHeartbeat(tdb.db, {
      eventId: ev.eventId,
      devicePk: b.pk,
      receivedAt: Date.now(),
      deviceTime: Date.now(),
      appVersion: 't',
      pendingScans: 30,
    });
    const s = await open();
    expect(s.status).toBe(200);
    expect(s.headers!.get('content-type')).toMatch(/^text\/event-stream/);
    const occ = await s.next('occupancy');
    expect(occ.id).toMatch(/^[0-9a-f]{8}\.[0-9]+$/);
    expect(occ.data).toMatchObject({ inside: 0, admitted: 0, capacity: 200, pending_max: 42, pending_devices: 2 });
    expect(occ.data.zones).toEqual(
      expect.arrayContaining([
        { zone_id: ev.zones.general, name: 'General', inside: 0, capacity: 100, entries: 0, exits: 0 },
        { zone_id: ev.zones.vip, name: 'VIP', inside: 0, capacity: 100, entries: 0, exits: 0 },
      ]),
    );
    const rate = await s.next('rate');
    expect(rate.data).toMatchObject({ mode: 'snapshot', buckets: [] });
    expect(rate.data.gates).toEqual(expect.arrayContaining([{ gate_id: ev.gates.main, name: 'Main' }]));
    s.close();
  });

  it('dashboards connecting at once share one snapshot read (50 recounts at once stalled scanning in bench:live)', async () => {
    // Counted at the database handle the server was given: the snapshot's rate query runs once per read.
    const db = tdb.db as unknown as { query: (...args: unknown[]) => Promise<unknown> };
    const query = db.query;
    let rateReads = 0;
    db.query = function (this: unknown, ...args: unknown[]) {
      if ((args[2] as { name?: string } | undefined)?.name === 'live_rate') rateReads++;
      return query.apply(this, args);
    };
    // Its own server: recounts 10 s apart, so a snapshot read stays fresh through the test. With the same admin
    // token: a server started with another one revokes it, and the main server's later requests were refused
    // once its cached copy expired (a slow run).
    const quiet = await startTestServer(tdb.db, {
      adminToken: server.adminToken,
      live: { recountMs: 10_000, flushMs: 50 },
    });
    try {
      const own = await seedEvent(quiet.admin);
      const many = await Promise.all(
        Array.from({ length: 12 }, async () => {
          const st = await Stream.open(quiet.url, own.eventId, bearer(quiet.adminToken));
          streams.push(st);
          return st;
        }),
      );
      const snapshots = await Promise.all(many.map((m) => m.next('occupancy')));
      expect(new Set(snapshots.map((o) => o.id)).size).toBe(1);
      expect(rateReads).toBe(1);
      for (const m of many) m.close();
    } finally {
      db.query = query;
      await quiet.close();
    }
  });

  it('an online scan reaches the stream (no code; holder names for supervisors, not for viewers) and the counts follow', async () => {
    const viewer = await open(bearer(tokens.viewer));
    const supervisor = await open(bearer(tokens.supervisor));
    await viewer.next('occupancy');
    await supervisor.next('occupancy');
    const d = await scanner('Online');
    const [t] = await issueTickets(server.admin, ev.eventId, [
      { ticket_type_id: ev.types.ga, holder_name: 'Ada Lovelace' },
    ]);
    expect((await scan(d.client, t!.code)).body.result).toBe('valid');
    const seen = await viewer.next('scan', (x) =>
      x.scans.some((sc: { device_id: string }) => sc.device_id === d.deviceId),
    );
    const one = seen.data.scans.find((sc: { device_id: string }) => sc.device_id === d.deviceId);
    expect(one).toMatchObject({
      gate_id: ev.gates.main,
      gate: 'Main',
      device: 'Online',
      direction: 'entry',
      verdict: 'valid',
      reason: 'admitted',
      offline: false,
    });
    expect(one).not.toHaveProperty('holder_name');
    expect(JSON.stringify(viewer.messages)).not.toContain(t!.code);
    const named = await supervisor.next('scan', (x) =>
      x.scans.some((sc: { device_id: string }) => sc.device_id === d.deviceId),
    );
    expect(named.data.scans.find((sc: { device_id: string }) => sc.device_id === d.deviceId).holder_name).toBe(
      'Ada Lovelace',
    );
    await viewer.next('occupancy', (x) => x.inside === 1);
    const rate = await viewer.next('rate', (x) => x.mode === 'increment');
    expect(rate.data.buckets).toContainEqual(expect.objectContaining({ gate_id: ev.gates.main, entries: 1, exits: 0 }));
    // A refusal is counted by its reason.
    expect((await scan(d.client, t!.code)).body.result).not.toBe('valid');
    const occ = await viewer.next('occupancy', (x) => x.denied_total === 1);
    expect(Object.values(occ.data.denied)).toEqual([1]);
    viewer.close();
    supervisor.close();
  });

  it('an offline sync reaches the stream, marked offline', async () => {
    const s = await open();
    const before = (await s.next('occupancy')).data.inside as number;
    const d = await registerDevice(server.admin, 'Offline');
    const dev = new TestDevice(server.client(d.token), d.deviceId, ev.eventId);
    const [t] = await issueTickets(server.admin, ev.eventId, [{ ticket_type_id: ev.types.ga }]);
    dev.scan({ code: t!.code, at: Date.now() - 60_000, gateId: ev.gates.main });
    expect((await dev.upload()).status).toBe(200);
    const m = await s.next('scan', (x) => x.scans.some((sc: { device_id: string }) => sc.device_id === d.deviceId));
    expect(m.data.scans[0]).toMatchObject({ offline: true, direction: 'entry', gate_id: ev.gates.main });
    await s.next('occupancy', (x) => x.inside === before + 1);
    s.close();
  });

  it('a burst lists the newest 50 scans of a flush and counts the rest in omitted (the counts take them all)', async () => {
    const s = await open();
    const before = (await s.next('occupancy')).data.inside as number;
    const d = await registerDevice(server.admin, 'Burst');
    const dev = new TestDevice(server.client(d.token), d.deviceId, ev.eventId);
    const tickets = await issueTickets(
      server.admin,
      ev.eventId,
      Array.from({ length: 130 }, () => ({ ticket_type_id: ev.types.ga })),
    );
    const start = Date.now() - 600_000;
    tickets.forEach((t, i) => dev.scan({ code: t.code, at: start + i * 1_000, gateId: ev.gates.main }));
    expect((await dev.upload()).status).toBe(200);
    await s.next('occupancy', (x) => x.inside === before + 130);
    const mine = (x: { scans: Array<{ device_id: string }> }): boolean =>
      x.scans.some((sc) => sc.device_id === d.deviceId);
    await s.next('scan', mine);
    await new Promise((r) => setTimeout(r, 200)); // any later flush of the burst
    const messages = s.of('scan').filter((m) => mine(m.data));
    const listed = messages.flatMap((m) => m.data.scans as Array<{ at: number }>);
    expect(Math.max(...messages.map((m) => m.data.scans.length))).toBeLessThanOrEqual(50);
    expect(listed.length + messages.reduce((n, m) => n + (m.data.omitted as number), 0)).toBe(130);
    // The newest are the ones listed (device times, a second apart; the server may correct them by its clock offset).
    expect(Math.max(...listed.map((x) => x.at))).toBeGreaterThan(start + 128_500);
    s.close();
  });

  it('one person re-entering after an exit is inside once (and the zone counts the entries and the exit)', async () => {
    const s = await open();
    const first = (await s.next('occupancy')).data;
    const general = (o: { zones: Array<{ zone_id: string; entries: number; exits: number; inside: number }> }) =>
      o.zones.find((z) => z.zone_id === ev.zones.general)!;
    const d = await scanner('Re-entry');
    const [t] = await issueTickets(server.admin, ev.eventId, [{ ticket_type_id: ev.types.reentry }]);
    expect((await scan(d.client, t!.code)).body.result).toBe('valid');
    expect((await scan(d.client, t!.code, 'exit')).body.result).toBe('valid');
    expect((await scan(d.client, t!.code)).body.result).toBe('valid');
    const occ = await s.next(
      'occupancy',
      (x) => general(x).entries === general(first).entries + 2 && general(x).exits === general(first).exits + 1,
    );
    expect(occ.data.inside).toBe(first.inside + 1);
    expect(general(occ.data).inside).toBe(general(first).inside + 1);
    expect(occ.data.admitted).toBe(first.admitted + 1);
    s.close();
  });

  it("a conflict resolution corrects the occupancy (a revoked device's quarantined admission accepted)", async () => {
    const s = await open();
    const start = (await s.next('occupancy')).data.inside as number;
    const d = await registerDevice(server.admin, 'Stolen');
    const dev = new TestDevice(server.client(d.token), d.deviceId, ev.eventId);
    const [t] = await issueTickets(server.admin, ev.eventId, [{ ticket_type_id: ev.types.ga }]);
    dev.scan({ code: t!.code, at: t0 + 30 * 60_000, gateId: ev.gates.main });
    await dev.upload();
    await s.next('occupancy', (x) => x.inside === start + 1);
    await server.admin.post(`/api/v1/devices/${d.deviceId}/revoke`, {
      reason: 'stolen',
      effective_at: new Date(t0).toISOString(),
    });
    await s.next('occupancy', (x) => x.inside === start && x.at > 0 && s.of('occupancy').length > 2);
    const inbox = (await server.admin.get(`/api/v1/events/${ev.eventId}/conflicts?status=open`)).body.conflicts.find(
      (c: { ticket: { id: string } }) => c.ticket.id === t!.id,
    );
    const count = s.of('occupancy').length;
    expect(
      (await server.admin.post(`/api/v1/conflicts/${inbox.id}/resolve`, { resolution: 'legitimate', note: 'checked' }))
        .status,
    ).toBe(200);
    await eventually(async () => {
      expect(s.of('occupancy').length).toBeGreaterThan(count);
      expect(s.last('occupancy')!.data.inside).toBe(start + 1);
    });
    s.close();
  });

  it('any organiser role may watch (a session cookie too); a device token and another organisation may not', async () => {
    const user = await server.admin.post('/api/v1/users', {
      email: 'wall@example.com',
      name: 'Wall',
      role: 'viewer',
      password: 'a-long-passphrase-for-tests',
    });
    expect(user.status).toBe(201);
    const login = await new Client(server.url, null).request('POST', '/api/v1/auth/login', {
      email: 'wall@example.com',
      password: 'a-long-passphrase-for-tests',
    });
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    const byCookie = await open({ cookie });
    expect(byCookie.status).toBe(200);
    await byCookie.next('occupancy');
    byCookie.close();
    const d = await registerDevice(server.admin, 'Nosy scanner');
    const device = await open(bearer(d.token));
    expect([401, 403]).toContain(device.status);
    const org = await server.admin.post('/api/v1/organisations', { name: 'Other Org' });
    const other = await open(bearer(org.body.admin_token));
    expect(other.status).toBe(404);
    expect(other.body).toMatchObject({ error: 'NOT_FOUND' });
    expect((await open({})).status).toBe(401);
  });

  it('resumes with Last-Event-ID without a gap (no snapshot); an unknown id gets a fresh snapshot', async () => {
    const s = await open();
    await s.next('rate', (x) => x.mode === 'snapshot');
    const lastId = s.messages.at(-1)!.id;
    s.close();
    const d = await scanner('While away');
    const [t] = await issueTickets(server.admin, ev.eventId, [{ ticket_type_id: ev.types.ga }]);
    expect((await scan(d.client, t!.code)).body.result).toBe('valid');
    // Give the batch time to be numbered and kept in the ring before reconnecting.
    await new Promise((r) => setTimeout(r, 300));
    const resumed = await open({ ...bearer(server.adminToken), 'last-event-id': lastId });
    const m = await resumed.next('scan', (x) =>
      x.scans.some((sc: { device_id: string }) => sc.device_id === d.deviceId),
    );
    expect(resumed.messages.some((x) => x.event === 'rate' && x.data.mode === 'snapshot')).toBe(false);
    const ids = resumed.messages.map((x) => Number(x.id.split('.')[1]));
    expect(ids[0]).toBeGreaterThan(Number(lastId.split('.')[1]));
    expect([...ids].sort((x, y) => x - y)).toEqual(ids);
    expect(m.id.split('.')[0]).toBe(lastId.split('.')[0]);
    resumed.close();
    const foreign = await open({ ...bearer(server.adminToken), 'last-event-id': '00000000.5' });
    await foreign.next('rate', (x) => x.mode === 'snapshot');
    await foreign.next('occupancy');
    foreign.close();
  });
});

describeEachBackend('live stream limits', (backend) => {
  let tdb: TestDatabase;
  let server: TestServer;
  let ev: SeededEvent;

  beforeAll(async () => {
    tdb = await backend.open();
    server = await startTestServer(tdb.db, {
      config: { liveMax: 2 },
      live: { recountMs: 50, flushMs: 50, bufferBytes: 1024 },
    });
    ev = await seedEvent(server.admin);
  });
  afterAll(async () => {
    await server?.close();
    await tdb?.drop();
  });

  it('answers 503 BUSY with Retry-After past ENTRADA_LIVE_MAX streams, and takes a stream again once one closed', async () => {
    const a = await Stream.open(server.url, ev.eventId, bearer(server.adminToken));
    const b = await Stream.open(server.url, ev.eventId, bearer(server.adminToken));
    expect([a.status, b.status]).toEqual([200, 200]);
    const c = await Stream.open(server.url, ev.eventId, bearer(server.adminToken));
    expect(c.status).toBe(503);
    expect(c.body).toMatchObject({ error: 'BUSY' });
    expect(Number(c.headers!.get('retry-after'))).toBeGreaterThan(0);
    // A refusal (another organisation's event) gives its slot back.
    expect((await Stream.open(server.url, crypto.randomUUID(), bearer(server.adminToken))).status).toBe(503);
    a.close();
    await eventually(async () => expect(server.services.live.size).toBe(1));
    expect((await Stream.open(server.url, crypto.randomUUID(), bearer(server.adminToken))).status).toBe(404);
    expect(server.services.live.size).toBe(1);
    const d = await Stream.open(server.url, ev.eventId, bearer(server.adminToken));
    expect(d.status).toBe(200);
    await d.next('occupancy');
    b.close();
    d.close();
    await eventually(async () => expect(server.services.live.size).toBe(0));
  });

  it('a reader that stops reading is dropped to a snapshot when it catches up, and never holds up scanning', async () => {
    // A socket whose client stopped reading: unread bytes pile up until it drains (the kernel's buffers are too
    // large to fill from a test, so the sink stands in for the response; the stream machinery is the real one).
    let unread = 0;
    let stalled = false;
    let drain: (() => void) | null = null;
    const written: string[] = [];
    const sink: LiveSink = {
      write: (text) => {
        written.push(text);
        if (stalled) unread += text.length;
      },
      buffered: () => unread,
      onDrain: (l) => {
        drain = l;
      },
      end: () => undefined,
    };
    const owner = await eventOwner(tdb.db, ev.eventId);
    const live = await server.services.live.admit(owner, ev.eventId);
    const stop = live.start(sink, undefined);
    await eventually(async () =>
      expect(written.some((w) => w.startsWith('id: ') && w.includes('event: rate'))).toBe(true),
    );
    stalled = true;
    const d = await registerDevice(server.admin, 'Busy gate');
    const c = server.client(d.token);
    const tickets = await issueTickets(
      server.admin,
      ev.eventId,
      Array.from({ length: 40 }, () => ({ ticket_type_id: ev.types.ga })),
    );
    for (const t of tickets) {
      const r = await c.post('/api/v1/scanning/scan', { code: t.code, event_id: ev.eventId, gate_id: ev.gates.main });
      expect(r.body.result).toBe('valid');
      await new Promise((res) => setTimeout(res, 5));
    }
    await new Promise((res) => setTimeout(res, 300));
    // Past 1 KiB unread, nothing more was written: the stream is dropped, scanning went on.
    const whenDropped = written.length;
    expect(unread).toBeGreaterThan(1024);
    expect(unread).toBeLessThan(1024 + 64 * 1024);
    const [extra] = await issueTickets(server.admin, ev.eventId, [{ ticket_type_id: ev.types.ga }]);
    expect(
      (await c.post('/api/v1/scanning/scan', { code: extra!.code, event_id: ev.eventId, gate_id: ev.gates.main })).body
        .result,
    ).toBe('valid');
    await new Promise((res) => setTimeout(res, 300));
    expect(written.length).toBe(whenDropped);
    // It reads again: a fresh snapshot with every admission, not the backlog.
    stalled = false;
    unread = 0;
    drain!();
    await eventually(async () => {
      const snap = written.slice(whenDropped).find((w) => w.includes('event: occupancy'));
      expect(snap).toBeDefined();
      expect(JSON.parse(snap!.split('data: ')[1]!).inside).toBe(41);
    });
    stop();
  });

  it("writes a flush's scan and rate messages to a stream in one write (one syscall per stream, not per message)", async () => {
    const written: string[] = [];
    const sink: LiveSink = {
      write: (text) => void written.push(text),
      buffered: () => 0,
      onDrain: () => undefined,
      end: () => undefined,
    };
    const owner = await eventOwner(tdb.db, ev.eventId);
    const live = await server.services.live.admit(owner, ev.eventId);
    const stop = live.start(sink, undefined);
    await eventually(async () => expect(written.some((w) => w.includes('event: rate'))).toBe(true));
    const before = written.length;
    const d = await registerDevice(server.admin, 'One-write gate');
    const [t] = await issueTickets(server.admin, ev.eventId, [{ ticket_type_id: ev.types.ga }]);
    const r = await server
      .client(d.token)
      .post('/api/v1/scanning/scan', { code: t!.code, event_id: ev.eventId, gate_id: ev.gates.main });
    expect(r.body.result).toBe('valid');
    await eventually(async () =>
      expect(written.slice(before).some((w) => w.includes('event: scan\n') && w.includes('event: rate\n'))).toBe(true),
    );
    // Each message in it is whole and numbered in order.
    const both = written.slice(before).find((w) => w.includes('event: scan\n'))!;
    const ids = [...both.matchAll(/^id: [0-9a-f]{8}\.([0-9]+)$/gm)].map((m) => Number(m[1]));
    expect(ids.length).toBeGreaterThanOrEqual(2);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(both.endsWith('\n\n')).toBe(true);
    stop();
  });

  it('closes open streams on shutdown without waiting for their clients', async () => {
    const tdb2 = await backend.open();
    const s2 = await startTestServer(tdb2.db);
    const ev2 = await seedEvent(s2.admin);
    const st = await Stream.open(s2.url, ev2.eventId, bearer(s2.adminToken));
    await st.next('occupancy');
    const started = Date.now();
    await s2.close();
    await eventually(async () => expect(st.ended).toBe(true), 5_000);
    expect(Date.now() - started).toBeLessThan(5_000);
    await tdb2.drop();
  });
});

const REDIS_URL = process.env.REDIS_URL;
if (!REDIS_URL && REQUIRE_SERVICES)
  throw new Error('ENTRADA_REQUIRE_SERVICES=1 but REDIS_URL is not set: Redis tests would be skipped');

(REDIS_URL ? describePostgres : (title: string) => describe.skip(title, () => undefined))(
  'the live stream across instances (Redis)',
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

    it("a scan on A reaches a dashboard on B, with B's occupancy recounted", async () => {
      const ev = await seedEvent(a.admin);
      const [t] = await issueTickets(a.admin, ev.eventId, [{ ticket_type_id: ev.types.ga }]);
      const d = await registerDevice(a.admin, 'On A');
      const onB = await Stream.open(b.url, ev.eventId, bearer(a.adminToken));
      await onB.next('occupancy', (x) => x.inside === 0);
      expect(
        (
          await a
            .client(d.token)
            .post('/api/v1/scanning/scan', { code: t!.code, event_id: ev.eventId, gate_id: ev.gates.main })
        ).body.result,
      ).toBe('valid');
      const m = await onB.next(
        'scan',
        (x) => x.scans.some((sc: { device_id: string }) => sc.device_id === d.deviceId),
        10_000,
      );
      expect(m.data.scans[0]).toMatchObject({ verdict: 'valid', offline: false, device: 'On A' });
      await onB.next('occupancy', (x) => x.inside === 1, 10_000);
      onB.close();
    });
  },
);
