import { createHmac } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import type { Database, Sql } from '../src/db/database.ts';
import { createBus } from '../src/services/bus.ts';
import { TicketCache, type CachedCopy } from '../src/services/ticket-cache.ts';
import {
  describeEachBackend,
  issueTickets,
  seedEvent,
  startTestServer,
  type TestDatabase,
  type TestServer,
} from './harness.ts';

/** Counts the statements that reach the real database (the cache must spare them). */
function counting(db: Database): { sql: Sql; statements: () => number } {
  let n = 0;
  const sql: Sql = {
    query: (text, params, opts) => {
      n++;
      return db.query(text, params, opts);
    },
    exec: (text) => {
      n++;
      return db.exec(text);
    },
    copyRows: (table, columns, rows) => {
      n++;
      return db.copyRows(table, columns, rows);
    },
  };
  return { sql, statements: () => n };
}

describeEachBackend('ticket cache', (backend) => {
  let test: TestDatabase;
  let server: TestServer;
  let eventId: string;
  let digests: string[];
  let ticketIds: string[];

  beforeAll(async () => {
    test = await backend.open();
    server = await startTestServer(test.db);
    const ev = await seedEvent(server.admin);
    eventId = ev.eventId;
    const tickets = await issueTickets(
      server.admin,
      eventId,
      Array.from({ length: 6 }, () => ({ ticket_type_id: ev.types.ga })),
    );
    ticketIds = tickets.map((t) => t.id);
    const rows = await test.db.query<{ id: string; digest: string }>(
      `SELECT id, encode(code_digest, 'hex') AS digest FROM tickets WHERE event_id = $1`,
      [eventId],
    );
    const byId = new Map(rows.map((r) => [r.id, r.digest]));
    digests = ticketIds.map((id) => byId.get(id)!);
  });
  afterAll(async () => {
    await server?.close();
    await test?.drop();
  });

  const bus = () => createBus({ redisUrl: undefined, log: pino({ enabled: false }) });

  it('reads only the misses of a batch, in one statement, and knows unknown digests match nothing', async () => {
    const cache = new TicketCache(test.db, 100, bus());
    const { sql, statements } = counting(test.db);
    const unknown = createHmac('sha256', 'x').update('nobody').digest().subarray(0, 16).toString('hex');
    const first = await cache.findMany(eventId, [...digests.slice(0, 3), unknown], sql);
    expect(statements()).toBe(1);
    expect([...first.keys()].sort()).toEqual(digests.slice(0, 3).sort());
    const second = await cache.findMany(eventId, digests, sql);
    expect(statements()).toBe(2);
    expect(second.size).toBe(6);
    await cache.findMany(eventId, digests, sql);
    expect(statements()).toBe(2);
  });

  it("loads an event's tickets on its first miss, so later scans of other tickets read nothing (no session needed)", async () => {
    const { sql, statements } = counting(test.db);
    const cache = new TicketCache(sql, 100, bus());
    const digest = (i: number) => Buffer.from(digests[i]!, 'hex');
    expect((await cache.find(eventId, digest(0)))?.id).toBe(ticketIds[0]);
    // The miss's own look-up, then the one load it started in the background.
    await vi.waitFor(() => expect(statements()).toBe(2), { timeout: 10_000 });
    await cache.warm(eventId); // awaits that load if it is still running; starts none
    const afterWarm = statements();
    expect(afterWarm).toBe(2);
    for (let i = 1; i < 6; i++) expect((await cache.find(eventId, digest(i)))?.id).toBe(ticketIds[i]);
    expect(statements()).toBe(afterWarm);
  });

  it('evicts the oldest copies beyond its capacity', async () => {
    const cache = new TicketCache(test.db, 4, bus());
    const { sql, statements } = counting(test.db);
    await cache.findMany(eventId, digests.slice(0, 2), sql);
    await cache.findMany(eventId, digests.slice(2), sql);
    expect(statements()).toBe(2);
    // The last four loaded are still there; the first two were evicted.
    await cache.findMany(eventId, digests.slice(2), sql);
    expect(statements()).toBe(2);
    await cache.findMany(eventId, digests.slice(0, 1), sql);
    expect(statements()).toBe(3);
  });

  it('drops a copy when the bus reports a newer version, and advances only the copy a compare-and-set started from', async () => {
    const b = bus();
    const cache = new TicketCache(test.db, 100, b);
    const { sql, statements } = counting(test.db);
    const copies = new Map<string, CachedCopy>();
    const [ticket] = [...(await cache.findMany(eventId, digests.slice(0, 1), sql, copies)).values()];
    const copy = copies.get(ticketIds[0]!)!;
    expect(copy.ticket).toBe(ticket);
    const state = {
      entries: 1,
      first: { at: 1, direction: 'entry' as const, deviceId: 'd', gateId: null },
      last: { at: 1, direction: 'entry' as const, deviceId: 'd', gateId: null },
    };
    cache.advanceCopy(copy, ticket!.version + 5, state, ticket!.version + 6);
    expect((await cache.findMany(eventId, digests.slice(0, 1), sql)).get(digests[0]!)!.version).toBe(ticket!.version);
    cache.advanceCopy(copy, ticket!.version, state, ticket!.version + 1);
    const advanced = (await cache.findMany(eventId, digests.slice(0, 1), sql)).get(digests[0]!)!;
    expect(advanced.version).toBe(ticket!.version + 1);
    expect(advanced.state.entries).toBe(1);
    expect(statements()).toBe(1);
    // Its own version again: kept. A newer one: dropped, so the next lookup reads the row.
    b.publish({ type: 'tickets_changed', eventId, ticketIds: [ticketIds[0]!], versions: [ticket!.version + 1] });
    await cache.findMany(eventId, digests.slice(0, 1), sql);
    expect(statements()).toBe(1);
    b.publish({ type: 'ticket_changed', eventId, ticketId: ticketIds[0]!, version: ticket!.version + 2 });
    const reread = (await cache.findMany(eventId, digests.slice(0, 1), sql)).get(digests[0]!)!;
    expect(statements()).toBe(2);
    expect(reread.version).toBe(ticket!.version);
    // The copy the bus dropped is no longer the cache's: advancing it brings nothing back.
    cache.advanceCopy(copy, ticket!.version + 1, state, ticket!.version + 3);
    expect((await cache.findMany(eventId, digests.slice(0, 1), sql)).get(digests[0]!)!.version).toBe(ticket!.version);
    expect(statements()).toBe(2);
    await b.close();
  });
});
