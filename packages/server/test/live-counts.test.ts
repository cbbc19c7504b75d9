import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  describeEachBackend,
  eventually,
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

/**
 * Issue 13, bench:live: the live stream keeps its counts from the online scans' changes instead of recounting
 * every admission of the event 4 times a second. These tests hold the counts a dashboard shows after a mixed
 * sequence to a fresh recount (a second server on the same database, whose first stream reads everything),
 * and check that corrections — and only they — make the stream read everything again.
 */

type Occupancy = Record<string, unknown> & { inside: number; admitted: number; denied_total: number; at?: number };

/** A real SSE reader over HTTP (its own connection): the `occupancy` messages it received. */
class OccupancyReader {
  readonly seen: Occupancy[] = [];
  private readonly abort = new AbortController();
  private readonly agent = new Agent({ connections: 1 });

  static async open(baseUrl: string, eventId: string, token: string): Promise<OccupancyReader> {
    const r = new OccupancyReader();
    const res = await undiciFetch(`${baseUrl}/api/v1/events/${eventId}/live`, {
      headers: { authorization: `Bearer ${token}` },
      signal: r.abort.signal,
      dispatcher: r.agent,
    });
    expect(res.status).toBe(200);
    void r.read(res.body!);
    return r;
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
          if (!block.includes('\nevent: occupancy\n')) continue;
          this.seen.push(JSON.parse(block.slice(block.indexOf('data: ') + 6)) as Occupancy);
        }
      }
    } catch {
      // aborted
    }
  }

  last(): Occupancy | undefined {
    return this.seen.at(-1);
  }
  close(): void {
    this.abort.abort();
    void this.agent.destroy().catch(() => undefined);
  }
}

const withoutTime = (o: Occupancy | undefined): Occupancy | undefined => (o ? { ...o, at: 0 } : undefined);

describeEachBackend('live counts from increments', (backend) => {
  let tdb: TestDatabase;
  /** Scans and dashboards. */
  let server: TestServer;
  /** Only reads: each first stream of an event recounts from the database (its channels are dropped at once). */
  let fresh: TestServer;
  let ev: SeededEvent;
  let baseline = 0;
  const readers: OccupancyReader[] = [];

  const watch = async (eventId = ev.eventId, on = server): Promise<OccupancyReader> => {
    const r = await OccupancyReader.open(on.url, eventId, on.adminToken);
    readers.push(r);
    return r;
  };
  /** The counts a stream opened now on the other server shows: everything read from the database. */
  const recounted = async (eventId = ev.eventId): Promise<Occupancy> => {
    const r = await watch(eventId, fresh);
    try {
      return await eventually(async () => {
        const o = r.last();
        if (!o) throw new Error('no snapshot yet');
        return o;
      });
    } finally {
      r.close();
    }
  };
  /** The dashboard's counts (kept from increments) come to equal a fresh recount, and stay equal. */
  const agrees = async (dashboard: OccupancyReader, eventId = ev.eventId): Promise<Occupancy> => {
    return eventually(async () => {
      const truth = await recounted(eventId);
      expect(withoutTime(dashboard.last())).toEqual(withoutTime(truth));
      return truth;
    }, 20_000);
  };
  /** The full reads the scanning server's live stream made since `baseline`. */
  const serverReads = (): number => server.services.live.fullRecounts - baseline;
  const scanner = async (name: string): Promise<Client> =>
    server.client((await registerDevice(server.admin, name)).token);
  const scan = async (
    c: Client,
    code: string,
    gateId: string,
    direction: 'entry' | 'exit' = 'entry',
    eventId = ev.eventId,
  ): Promise<string> =>
    (await c.post('/api/v1/scanning/scan', { code, event_id: eventId, gate_id: gateId, direction })).body
      .result as string;

  beforeAll(async () => {
    tdb = await backend.open();
    server = await startTestServer(tdb.db, { live: { recountMs: 50, flushMs: 50 } });
    fresh = await startTestServer(tdb.db, {
      adminToken: server.adminToken,
      live: { recountMs: 50, flushMs: 50, lingerMs: 1 },
    });
    ev = await seedEvent(server.admin);
  });
  afterAll(async () => {
    for (const r of readers) r.close();
    await server?.close();
    await fresh?.close();
    await tdb?.drop();
  });

  it('online admissions, exits, re-entries and refusals at every gate are added up without reading the event again, to what a recount says', async () => {
    const dashboard = await watch();
    await agrees(dashboard);
    baseline = server.services.live.fullRecounts;
    const gate = await scanner('Gate');
    const [ga1, ga2, re, vip, multi] = await issueTickets(server.admin, ev.eventId, [
      { ticket_type_id: ev.types.ga },
      { ticket_type_id: ev.types.ga },
      { ticket_type_id: ev.types.reentry },
      { ticket_type_id: ev.types.vip },
      { ticket_type_id: ev.types.multi },
    ]);
    const steps: Array<[string, string, 'entry' | 'exit']> = [
      [ga1!.code, ev.gates.main, 'entry'],
      [ga1!.code, ev.gates.main, 'entry'], // refused: already inside
      [ga2!.code, ev.gates.any, 'entry'],
      [re!.code, ev.gates.main, 'entry'],
      [re!.code, ev.gates.any, 'exit'],
      [re!.code, ev.gates.main, 'entry'], // back in: inside once
      [vip!.code, ev.gates.vip, 'entry'],
      [vip!.code, ev.gates.main, 'entry'], // moves from the VIP zone's gate to Main (or is refused: counted either way)
      [multi!.code, ev.gates.main, 'entry'],
      [multi!.code, ev.gates.main, 'exit'],
      [multi!.code, ev.gates.any, 'entry'],
      ['NOT-A-TICKET', ev.gates.main, 'entry'], // refused: unknown code
    ];
    const results: string[] = [];
    for (const [code, gateId, direction] of steps) {
      results.push(await scan(gate, code, gateId, direction));
      await agrees(dashboard);
    }
    expect(results.filter((r) => r === 'valid').length).toBeGreaterThanOrEqual(8);
    expect(results.filter((r) => r !== 'valid').length).toBeGreaterThanOrEqual(2);
    const final = dashboard.last()!;
    expect(final.inside).toBeGreaterThanOrEqual(4);
    expect(final.denied_total).toBeGreaterThanOrEqual(2);
    // The counts moved twelve times and were never read again.
    expect(serverReads()).toBe(0);
  });

  it("scans recorded while a dashboard's first recount reads are neither lost nor counted twice", async () => {
    const other = await seedEvent(server.admin);
    const tickets = await issueTickets(
      server.admin,
      other.eventId,
      Array.from({ length: 30 }, () => ({ ticket_type_id: other.types.ga })),
    );
    const gate = await scanner('Burst');
    // The recount is held up before its statement runs (scans recorded then are in its snapshot: not to be added
    // again) and after (scans recorded then are not: to be added), while scans go on all along.
    const db = tdb.db as unknown as { query: (...args: unknown[]) => Promise<unknown> };
    const query = db.query;
    let slowed = 0;
    db.query = async function (this: unknown, ...args: unknown[]) {
      if ((args[2] as { name?: string } | undefined)?.name !== 'live_counts') return query.apply(this, args);
      slowed++;
      await new Promise((r) => setTimeout(r, 400));
      const rows = await query.apply(this, args);
      await new Promise((r) => setTimeout(r, 400));
      return rows;
    };
    try {
      const dashboard = await watch(other.eventId);
      const results: string[] = [];
      for (const t of tickets) {
        results.push(await scan(gate, t.code, other.gates.main, 'entry', other.eventId));
        await new Promise((r) => setTimeout(r, 30));
      }
      expect(results.every((r) => r === 'valid')).toBe(true);
      expect(slowed).toBe(1);
      db.query = query;
      const truth = await agrees(dashboard, other.eventId);
      expect(truth.inside).toBe(30);
      expect(truth.admitted).toBe(30);
    } finally {
      db.query = query;
    }
  });

  it('corrections read everything again: an offline sync with a conflict, its resolution, a cancellation, a late earlier scan', async () => {
    const dashboard = await watch();
    await agrees(dashboard);
    baseline = server.services.live.fullRecounts;
    const gate = await scanner('Gate 2');
    const [a, b, c] = await issueTickets(server.admin, ev.eventId, [
      { ticket_type_id: ev.types.ga },
      { ticket_type_id: ev.types.ga },
      { ticket_type_id: ev.types.ga },
    ]);

    // Online scans: added up, no read.
    expect(await scan(gate, a!.code, ev.gates.main)).toBe('valid');
    expect(await scan(gate, b!.code, ev.gates.main)).toBe('valid');
    await agrees(dashboard);
    expect(serverReads()).toBe(0);

    // An offline sync: two offline scanners admitted the same ticket (a conflict), one of them also a ticket
    // already admitted online, earlier than it was (the late earlier scan takes over).
    const d1 = await registerDevice(server.admin, 'Offline 1');
    const d2 = await registerDevice(server.admin, 'Offline 2');
    const off1 = new TestDevice(server.client(d1.token), d1.deviceId, ev.eventId);
    const off2 = new TestDevice(server.client(d2.token), d2.deviceId, ev.eventId);
    off1.scan({ code: c!.code, at: Date.now() - 120_000, gateId: ev.gates.main });
    off2.scan({ code: c!.code, at: Date.now() - 110_000, gateId: ev.gates.vip });
    off1.scan({ code: a!.code, at: Date.now() - 600_000, gateId: ev.gates.any });
    expect((await off1.upload()).status).toBe(200);
    expect((await off2.upload()).status).toBe(200);
    await agrees(dashboard);
    const afterSync = serverReads();
    expect(afterSync).toBeGreaterThanOrEqual(1);

    // The conflict's resolution: fraud (the admission of record stands or goes as the resolution says).
    const conflicts = (await server.admin.get(`/api/v1/events/${ev.eventId}/conflicts?status=open`)).body
      .conflicts as Array<{ id: string; ticket: { id: string } }>;
    const conflict = conflicts.find((x) => x.ticket.id === c!.id);
    expect(conflict).toBeDefined();
    expect(
      (
        await server.admin.post(`/api/v1/conflicts/${conflict!.id}/resolve`, {
          resolution: 'fraud',
          note: 'two devices',
        })
      ).status,
    ).toBe(200);
    await eventually(async () => expect(serverReads()).toBeGreaterThan(afterSync));
    await agrees(dashboard);

    // A cancellation of a ticket that is inside.
    const beforeCancel = serverReads();
    expect((await server.admin.post(`/api/v1/tickets/${b!.id}/cancel`, { reason: 'refunded' })).status).toBe(200);
    await eventually(async () => expect(serverReads()).toBeGreaterThan(beforeCancel));
    await agrees(dashboard);
    expect(await scan(gate, b!.code, ev.gates.main, 'exit')).not.toBe('');
    await agrees(dashboard);
  });
});
