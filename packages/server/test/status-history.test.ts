/**
 * Issue 14 §2, the other direction of the cancellation race: a ticket blocked
 * and unblocked while a device was offline. A scan made during the block on a
 * manifest from before it, uploaded after the unblock, is a `blocked`
 * conflict; a scan after the unblock is admitted — whatever the upload order
 * and batching. The status history travels in the manifest, the feed and the
 * ticket view, and migration 022 backfills it.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { replayTicket, type TicketStatus } from '@entrada/core';
import {
  describeEachBackend,
  issueTickets,
  registerDevice,
  seedEvent,
  startTestServer,
  type TestDatabase,
  type TestServer,
} from './harness.ts';
import { TestDevice } from './offline-helpers.ts';

const at = (hm: string): number => Date.parse(`2026-07-01T${hm}:00Z`);
const BLOCK = at('18:30');
const UNBLOCK = at('19:00');

interface Outcome {
  scans: Record<string, { status: string; conflict: string | null }>;
  openConflicts: string[];
  entries: number;
}

describeEachBackend('ticket status history: offline scans judged on the status at their scan time', (backend) => {
  let tdb: TestDatabase;
  let server: TestServer;
  let clock = at('17:00');

  beforeAll(async () => {
    tdb = await backend.open();
    server = await startTestServer(tdb.db, { now: () => clock });
  });
  afterAll(async () => {
    await server?.close();
    await tdb?.drop();
  });

  async function change(
    ticketId: string,
    call: 'block' | 'unblock' | 'cancel' | 'reinstate',
    when: number,
  ): Promise<void> {
    clock = when;
    const r = await server.admin.post(`/api/v1/tickets/${ticketId}/${call}`, { reason: `test ${call}` });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
  }

  async function setUp(): Promise<{
    eventId: string;
    gate: string;
    ticket: { id: string; code: string };
    other: { id: string; code: string };
    x: TestDevice;
    y: TestDevice;
  }> {
    clock = at('17:00');
    const ev = await seedEvent(server.admin, { starts_at: '2026-07-01T10:00:00Z', ends_at: '2026-07-02T10:00:00Z' });
    const [ticket, other] = await issueTickets(server.admin, ev.eventId, [
      { ticket_type_id: ev.types.ga },
      { ticket_type_id: ev.types.ga },
    ]);
    const device = async (name: string): Promise<TestDevice> => {
      const d = await registerDevice(server.admin, name);
      return new TestDevice(server.client(d.token), d.deviceId, ev.eventId);
    };
    return {
      eventId: ev.eventId,
      gate: ev.gates.main,
      ticket: ticket!,
      other: other!,
      x: await device('X (offline since 18:00)'),
      y: await device('Y'),
    };
  }

  async function outcome(eventId: string, ticketId: string): Promise<Outcome> {
    const rows = await tdb.db.query<{
      device_id: string;
      at: number;
      record_status: string;
      conflict_reason: string | null;
    }>(
      `SELECT device_id, (extract(epoch FROM scanned_at) * 1000)::float8 AS at, record_status, conflict_reason FROM scans WHERE event_id = $1 AND ticket_id = $2`,
      [eventId, ticketId],
    );
    const names = new Map<string, string>();
    const scans: Outcome['scans'] = {};
    for (const r of rows) {
      const key = `${names.get(r.device_id) ?? r.device_id}@${new Date(r.at).toISOString().slice(11, 16)}`;
      scans[key] = { status: r.record_status, conflict: r.conflict_reason };
    }
    const conflicts = await tdb.db.query<{ reason: string }>(
      `SELECT reason FROM conflicts WHERE event_id = $1 AND ticket_id = $2 AND status = 'open'`,
      [eventId, ticketId],
    );
    const view = (await server.admin.get(`/api/v1/tickets/${ticketId}`)).body as { scans_used: number };
    return { scans, openConflicts: conflicts.map((c) => c.reason).sort(), entries: view.scans_used };
  }

  /** Normalises device ids to X/Y for comparison across events. */
  function named(o: Outcome, x: TestDevice, y: TestDevice): Outcome {
    const scans: Outcome['scans'] = {};
    for (const [k, v] of Object.entries(o.scans)) scans[k.replace(x.deviceId, 'X').replace(y.deviceId, 'Y')] = v;
    return { ...o, scans };
  }

  const uploadOrders = [
    'X then Y',
    'Y then X',
    'X split, Y between',
    'X before the unblock is known, Y after',
  ] as const;

  it.each(uploadOrders)(
    'block 18:30, X scans at 18:50 on its old manifest, unblock 19:00, Y scans at 19:05 — uploaded %s',
    async (order) => {
      const { eventId, gate, ticket, other, x, y } = await setUp();
      // X went offline at 18:00 with a manifest on which the ticket was valid; it admits the holder at 18:50, during
      // the block, and another ticket at 18:55. Y, online again after the unblock, admits the holder at 19:05.
      x.scan({ code: ticket.code, at: at('18:50'), gateId: gate });
      x.scan({ code: other.code, at: at('18:55'), gateId: gate });
      y.scan({ code: ticket.code, at: at('19:05'), gateId: gate });
      const upload = async (d: TestDevice, from = 1, to = d.log.length): Promise<void> => {
        const r = await d.upload(from, to, { device_time: clock });
        expect(r.status, JSON.stringify(r.body)).toBe(200);
      };
      await change(ticket.id, 'block', BLOCK);
      if (order === 'X before the unblock is known, Y after') {
        clock = at('18:58');
        await upload(x);
        await change(ticket.id, 'unblock', UNBLOCK);
        clock = at('19:30');
        await upload(y);
      } else {
        await change(ticket.id, 'unblock', UNBLOCK);
        clock = at('19:30');
        if (order === 'X then Y') {
          await upload(x);
          await upload(y);
        }
        if (order === 'Y then X') {
          await upload(y);
          await upload(x);
        }
        if (order === 'X split, Y between') {
          await upload(x, 2, 2);
          await upload(y);
          await upload(x, 1, 1);
        }
      }

      const got = named(await outcome(eventId, ticket.id), x, y);
      expect(got).toEqual({
        scans: {
          'X@18:50': { status: 'conflict', conflict: 'blocked' },
          'Y@19:05': { status: 'admitted', conflict: null },
        },
        openConflicts: ['blocked'],
        entries: 1,
      });
      expect(named(await outcome(eventId, other.id), x, y).scans).toEqual({
        'X@18:55': { status: 'admitted', conflict: null },
      });

      // Control: on the ticket's status at upload time (valid since 19:00, no history) X's 18:50 scan would be the
      // admission and Y's a double entry: the history is what tells the two apart.
      const detail = (await server.admin.get(`/api/v1/tickets/${ticket.id}`)).body as {
        status: TicketStatus;
        status_changed_at: string;
      };
      const policy = {
        id: 'ga',
        name: 'GA',
        zoneIds: [],
        maxScans: 1,
        allowReentry: false,
        validFrom: null,
        validUntil: null,
      };
      const scans = [
        { ref: 'X@18:50', at: at('18:50'), deviceId: 'X', seq: 1, direction: 'entry' as const, gate: null },
        { ref: 'Y@19:05', at: at('19:05'), deviceId: 'Y', seq: 1, direction: 'entry' as const, gate: null },
      ];
      const onCurrentStatus = replayTicket(
        {
          event: { id: eventId, timezone: 'UTC', duplicateWindowMs: 0 },
          ticket: {
            id: ticket.id,
            eventId,
            status: detail.status,
            statusChangedAt: Date.parse(detail.status_changed_at),
          },
          type: policy,
        },
        scans,
      );
      expect(onCurrentStatus.outcomes.map((o) => `${o.scan.ref}:${o.verdict.reason}`)).toEqual([
        'X@18:50:admitted',
        'Y@19:05:already_used',
      ]);
    },
  );

  it('cancelled, reinstated, cancelled again: only the scans while it was valid count, and the device is told at upload', async () => {
    const { eventId, gate, ticket, x, y } = await setUp();
    await change(ticket.id, 'cancel', at('18:00'));
    await change(ticket.id, 'reinstate', at('18:20'));
    await change(ticket.id, 'cancel', at('18:40'));
    // X: an entry while cancelled (18:10), an exit while cancelled again (18:45). Y: the entry while reinstated (18:30).
    x.scan({ code: ticket.code, at: at('18:10'), gateId: gate });
    x.scan({ code: ticket.code, at: at('18:45'), gateId: gate, direction: 'exit' });
    y.scan({ code: ticket.code, at: at('18:30'), gateId: gate });
    clock = at('19:00');
    const rx = await x.upload(1, 2, { device_time: clock });
    expect(rx.status).toBe(200);
    expect((rx.body.results as Array<{ status: number; reason: string }>).map((r) => [r.status, r.reason])).toEqual([
      [409, 'cancelled'],
      [409, 'cancelled'],
    ]);
    expect((await y.upload(1, 1, { device_time: clock })).status).toBe(200);
    expect(named(await outcome(eventId, ticket.id), x, y)).toEqual({
      scans: {
        'X@18:10': { status: 'conflict', conflict: 'cancelled' },
        'X@18:45': { status: 'conflict', conflict: 'cancelled' },
        'Y@18:30': { status: 'admitted', conflict: null },
      },
      openConflicts: ['cancelled', 'cancelled'],
      entries: 1,
    });
  });

  it('the manifest, its delta, the feed and the ticket view carry the status history', async () => {
    const { eventId, ticket, other, x } = await setUp();
    await change(ticket.id, 'block', BLOCK);
    await change(ticket.id, 'unblock', UNBLOCK);
    const history = [
      { at: new Date(BLOCK).toISOString(), status: 'blocked' },
      { at: new Date(UNBLOCK).toISOString(), status: 'valid' },
    ];

    const manifest = await x.client.get(`/api/v1/offline/manifest/${eventId}?device_id=${x.deviceId}`);
    expect(manifest.status).toBe(200);
    const tickets = manifest.body.manifest.tickets;
    const mine = (tickets as Array<Record<string, unknown>>).find((t) => t.ticket_id === ticket.id)!;
    expect(mine).toMatchObject({
      status: 'valid',
      status_changed_at: new Date(UNBLOCK).toISOString(),
      status_history: history,
    });
    // A ticket whose status never changed carries neither (the manifest stays as small as before).
    const untouched = (tickets as Array<Record<string, unknown>>).find((t) => t.ticket_id === other.id)!;
    expect(untouched.status_history).toBeUndefined();
    expect(untouched.status_changed_at).toBeUndefined();

    // The feed serves changes below the database's oldest running transaction (on a shared PostgreSQL server, other
    // sessions' transactions hold it back for a moment): asked again until the change is below it.
    let changed: Record<string, unknown> | undefined;
    for (let tries = 0; tries < 100 && !changed; tries++) {
      if (tries > 0) await new Promise((r) => setTimeout(r, 200));
      const feed = await x.client.get(`/api/v1/offline/events?event_id=${eventId}`);
      expect(feed.status).toBe(200);
      changed = (feed.body.events as Array<Record<string, unknown>>)
        .filter((e) => e.kind === 'ticket' && e.ticket_id === ticket.id)
        .at(-1);
    }
    expect(changed).toMatchObject({ status: 'valid', status_history: history });

    expect((await server.admin.get(`/api/v1/tickets/${ticket.id}`)).body.status_history).toEqual(history);
    // Blocked again: the delta a device fetches with its cursor has the whole history.
    const cursor = manifest.body.manifest.cursor as string;
    await change(ticket.id, 'block', at('19:30'));
    // A delta, like the feed, holds what is below the horizon: asked again until the change is.
    let patched: Record<string, unknown> | undefined;
    for (let tries = 0; tries < 100 && patched?.status !== 'blocked'; tries++) {
      if (tries > 0) await new Promise((r) => setTimeout(r, 200));
      const delta = await x.client.get(
        `/api/v1/offline/manifest/${eventId}?device_id=${x.deviceId}&since=${encodeURIComponent(cursor)}`,
      );
      expect(delta.status).toBe(200);
      patched = (delta.body.manifest.tickets as Array<Record<string, unknown>>).find((t) => t.ticket_id === ticket.id);
    }
    expect(patched).toMatchObject({
      status: 'blocked',
      status_history: [...history, { at: new Date(at('19:30')).toISOString(), status: 'blocked' }],
    });
  });

  it("migration 022 backfills each changed ticket: the audit log's earlier changes, then the current status", async () => {
    const { eventId, ticket, other } = await setUp();
    // Audit entries are stamped by the database clock, status_changed_at by the server's: put the last change after now.
    const later = Date.now() + 3_600_000;
    await change(ticket.id, 'block', Date.now());
    await change(ticket.id, 'unblock', Date.now());
    await change(ticket.id, 'cancel', later);
    await tdb.db.query(`DELETE FROM ticket_status_changes`);
    const sql = readFileSync(path.resolve(import.meta.dirname, '../migrations/022_ticket_status_history.sql'), 'utf8');
    await tdb.db.query(sql.slice(sql.indexOf('INSERT INTO ticket_status_changes')));
    const rows = await tdb.db.query<{ ticket_id: string; seq: number; status: string; at: number }>(
      `SELECT ticket_id, seq, status, (extract(epoch FROM changed_at) * 1000)::float8 AS at FROM ticket_status_changes WHERE event_id = $1 ORDER BY ticket_id, seq`,
      [eventId],
    );
    expect(rows.filter((r) => r.ticket_id === other.id)).toEqual([]);
    const mine = rows.filter((r) => r.ticket_id === ticket.id);
    expect(mine.map((r) => [r.seq, r.status])).toEqual([
      [1, 'blocked'],
      [2, 'valid'],
      [3, 'cancelled'],
    ]);
    expect(mine.at(-1)!.at).toBe(later);
  });
});
