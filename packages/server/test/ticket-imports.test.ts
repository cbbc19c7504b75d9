/**
 * Ticket imports of any size as one all-or-nothing operation: an import session, chunks of up
 * to 5,000 rows validated and staged, one commit (INSERT … SELECT in one transaction). On PGlite
 * and PostgreSQL, through the API (Fastify inject; the import route goes over a socket in http-smoke.test.ts).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MAX_IMPORT_CHUNK_ROWS } from '@entrada/core';
import {
  describeEachBackend,
  issueTickets,
  seedEvent,
  startTestServer,
  type Client,
  type Reply,
  type SeededEvent,
  type TestDatabase,
  type TestServer,
} from './harness.ts';

describeEachBackend('ticket imports in chunks, committed all or nothing', (backend) => {
  let tdb: TestDatabase;
  let server: TestServer;
  let ev: SeededEvent;
  let other: { admin: Client; ev: SeededEvent };

  beforeAll(async () => {
    tdb = await backend.open();
    server = await startTestServer(tdb.db);
    ev = await seedEvent(server.admin);
    const org = await server.admin.post('/api/v1/organisations', { name: 'Other Org' });
    expect(org.status).toBe(201);
    const admin = server.client(org.body.admin_token);
    other = { admin, ev: await seedEvent(admin) };
  }, 120_000);
  afterAll(async () => {
    await server?.close();
    await tdb?.drop();
  });

  const base = (eventId = ev.eventId): string => `/api/v1/events/${eventId}/ticket-imports`;
  const ticketCount = async (eventId = ev.eventId): Promise<number> =>
    Number(
      (await tdb.db.query<{ n: number }>('SELECT count(*)::int AS n FROM tickets WHERE event_id = $1', [eventId]))[0]!
        .n,
    );
  const stagedCount = async (): Promise<number> =>
    Number((await tdb.db.query<{ n: number }>('SELECT count(*)::int AS n FROM ticket_import_rows'))[0]!.n);
  const open = async (
    body: Record<string, unknown> = {},
    admin = server.admin,
    eventId = ev.eventId,
  ): Promise<string> => {
    const r = await admin.post(base(eventId), body);
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body).toMatchObject({ state: 'open', staged_rows: 0, event_id: eventId });
    return r.body.id as string;
  };
  const rows = (id: string, start: number, tickets: unknown[]): Promise<Reply> =>
    server.admin.post(`${base()}/${id}/rows`, { start_row: start, tickets });
  const chunk = (
    prefix: string,
    from: number,
    n: number,
    extra: (i: number) => Record<string, unknown> = () => ({}),
  ): unknown[] =>
    Array.from({ length: n }, (_, k) => ({
      ticket_type_id: ev.types.ga,
      number: `${prefix}-${from + k}`,
      holder_name: `Guest ${from + k}`,
      ...extra(from + k),
    }));

  it("imports 12,000 rows (beyond one call's 10,000) in chunks of 5,000: one commit, one audit entry", async () => {
    const before = await ticketCount();
    const id = await open({ total_rows: 12_000 });
    for (const [start, n] of [
      [1, 5000],
      [5001, 5000],
      [10_001, 2000],
    ] as const) {
      const r = await rows(id, start, chunk('BIG', start, n));
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body.staged_rows).toBe(start + n - 1);
    }
    // Staged is not imported.
    expect(await ticketCount()).toBe(before);
    const done = await server.admin.post(`${base()}/${id}/commit`);
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    expect(done.body).toMatchObject({ imported: 12_000, import: { state: 'committed', staged_rows: 12_000 } });
    expect(await ticketCount()).toBe(before + 12_000);
    expect(await stagedCount()).toBe(0);
    // A repeated commit (its answer lost) answers the same and writes nothing.
    const again = await server.admin.post(`${base()}/${id}/commit`);
    expect(again.body.imported).toBe(12_000);
    expect(await ticketCount()).toBe(before + 12_000);
    // The imported tickets are real tickets: found by number, with the holder name.
    const found = await server.admin.get(`/api/v1/events/${ev.eventId}/tickets?q=BIG-11999`);
    expect(found.body.tickets.map((t: { holder_name: string }) => t.holder_name)).toEqual(['Guest 11999']);
    const audit = await server.admin.get(`/api/v1/events/${ev.eventId}/audit?limit=500`);
    const entry = audit.body.entries.find(
      (e: { action: string; subject_id: string }) => e.action === 'tickets.import' && e.subject_id === id,
    );
    expect(entry).toMatchObject({ subject_kind: 'ticket_import', after: { tickets: 12_000 } });
    expect(entry.actor).toMatch(/^token:/);
  });

  it('refuses the whole import when chunk 7 has a code already used by a ticket, naming the row; the commit is refused after', async () => {
    const [existing] = await issueTickets(server.admin, ev.eventId, [
      { ticket_type_id: ev.types.ga, code: 'EXISTING-CODE-0001', number: 'EX-1' },
    ]);
    expect(existing).toBeDefined();
    const before = await ticketCount();
    const id = await open({ total_rows: 1000 });
    const code = (i: number): Record<string, unknown> => ({
      code: i === 650 ? 'EXISTING-CODE-0001' : `IMPORT-CODE-${String(i).padStart(6, '0')}`,
    });
    for (let c = 0; c < 6; c++)
      expect((await rows(id, c * 100 + 1, chunk('C7', c * 100 + 1, 100, code))).status).toBe(200);
    const seventh = await rows(id, 601, chunk('C7', 601, 100, code));
    expect(seventh.status).toBe(409);
    expect(seventh.body.error).toBe('DUPLICATE_CODE');
    expect(seventh.body.message).toContain('row 650');
    expect(seventh.body.message).not.toContain('EXISTING-CODE');
    const state = await server.admin.get(`${base()}/${id}`);
    expect(state.body).toMatchObject({ state: 'failed', failure: expect.stringContaining('row 650') });
    // The chunks around the bad one cannot be committed by mistake, and nothing is left staged.
    expect(
      (
        await rows(
          id,
          601,
          chunk('C7', 601, 100, (i) => ({ code: `OTHER-${i}` })),
        )
      ).body.error,
    ).toBe('CONFLICT');
    const commit = await server.admin.post(`${base()}/${id}/commit`);
    expect({ status: commit.status, error: commit.body.error }).toEqual({ status: 409, error: 'CONFLICT' });
    expect(commit.body.message).toContain('row 650');
    expect(await ticketCount()).toBe(before);
    expect(await stagedCount()).toBe(0);
  });

  it('names both rows when a code repeats across chunks of the same import', async () => {
    const id = await open();
    expect(
      (
        await rows(
          id,
          1,
          chunk('REP', 1, 50, (i) => ({ code: `REPEAT-${i}` })),
        )
      ).status,
    ).toBe(200);
    const r = await rows(
      id,
      51,
      chunk('REP', 51, 50, (i) => ({ code: i === 77 ? 'REPEAT-12' : `REPEAT-${i}` })),
    );
    expect(r.body).toMatchObject({ error: 'DUPLICATE_CODE' });
    expect(r.body.message).toMatch(/row 77: code repeats row 12/);
  });

  it('leaves nothing when the commit fails: a ticket issued meanwhile took a staged number (named by row)', async () => {
    const before = await ticketCount();
    const id = await open();
    expect((await rows(id, 1, chunk('RACE', 1, 3000))).status).toBe(200);
    expect((await rows(id, 3001, chunk('RACE', 3001, 3000))).status).toBe(200);
    await issueTickets(server.admin, ev.eventId, [{ ticket_type_id: ev.types.ga, number: 'RACE-4321' }]);
    const commit = await server.admin.post(`${base()}/${id}/commit`);
    expect(commit.status).toBe(409);
    expect(commit.body.error).toBe('DUPLICATE_NUMBER');
    expect(commit.body.message).toContain('row 4,321');
    // Only the ticket issued meanwhile: none of the 6,000.
    expect(await ticketCount()).toBe(before + 1);
    expect((await server.admin.get(`/api/v1/events/${ev.eventId}/tickets?q=RACE-1`)).body.tickets).toEqual([]);
    // The import is still open: abandoning it removes what it staged.
    const gone = await server.admin.request('DELETE', `${base()}/${id}`);
    expect(gone.status).toBe(204);
    expect((await server.admin.get(`${base()}/${id}`)).status).toBe(404);
    expect(await stagedCount()).toBe(0);
  });

  it('fails the import on a row at fault, naming the row and the field', async () => {
    const id = await open();
    const bad = chunk('BAD', 1, 20);
    (bad[13] as Record<string, unknown>).ticket_type_id = other.ev.types.ga;
    const r = await rows(id, 1, bad);
    expect(r.status).toBe(400);
    expect(r.body).toEqual({
      error: 'INVALID_BODY',
      message: 'row 14: ticket_type_id is not a ticket type of this event',
    });
    expect((await server.admin.get(`${base()}/${id}`)).body.state).toBe('failed');
  });

  it('holds its limits: chunk size, rows declared, chunk order, commit of a partial upload', async () => {
    const big = await rows(await open(), 1, chunk('LIM', 1, MAX_IMPORT_CHUNK_ROWS + 1));
    expect(big.status).toBe(400);
    expect(big.body.error).toBe('INVALID_BODY');
    const id = await open({ total_rows: 150 });
    const over = await rows(id, 101, chunk('LIM', 101, 100));
    expect({ status: over.status, error: over.body.error }).toEqual({ status: 413, error: 'PAYLOAD_TOO_LARGE' });
    const gap = await rows(id, 2, chunk('LIM', 2, 10));
    expect({ status: gap.status, error: gap.body.error }).toEqual({ status: 409, error: 'CONFLICT' });
    expect(gap.body.message).toContain('starts at row 1');
    // Neither refused the import: the order is kept and the upload goes on.
    expect((await rows(id, 1, chunk('LIM', 1, 100))).status).toBe(200);
    expect((await rows(id, 1, chunk('LIM', 1, 100))).body.error).toBe('CONFLICT');
    const partial = await server.admin.post(`${base()}/${id}/commit`);
    expect({ status: partial.status, error: partial.body.error }).toEqual({ status: 409, error: 'CONFLICT' });
    expect(partial.body.message).toContain('send the rest');
    expect((await rows(id, 101, chunk('LIM', 101, 50))).status).toBe(200);
    expect((await server.admin.post(`${base()}/${id}/commit`)).body.imported).toBe(150);
    expect((await server.admin.post(`${base(`00000000-0000-4000-8000-000000000000`)}`, {})).status).toBe(404);
  });

  it("keeps organisations apart: another organisation's import is not found, nor its event", async () => {
    const id = await open();
    const theirs = `${base()}/${id}`;
    expect((await other.admin.get(theirs)).status).toBe(404);
    expect(
      (await other.admin.post(`${theirs}/rows`, { start_row: 1, tickets: [{ ticket_type_id: ev.types.ga }] })).status,
    ).toBe(404);
    expect((await other.admin.post(`${theirs}/commit`)).status).toBe(404);
    expect((await other.admin.request('DELETE', theirs)).status).toBe(404);
    expect((await other.admin.post(base())).status).toBe(404);
    // Its own event's path with our import id: not found either.
    expect((await other.admin.get(`${base(other.ev.eventId)}/${id}`)).status).toBe(404);
    expect((await server.admin.get(theirs)).body.state).toBe('open');
  });

  it('deletes stale sessions (untouched for an hour) when an import starts', async () => {
    const id = await open();
    expect((await rows(id, 1, chunk('STALE', 1, 10))).status).toBe(200);
    const later = await startTestServer(tdb.db, {
      adminToken: server.adminToken,
      now: () => Date.now() + 2 * 60 * 60_000,
    });
    try {
      await open({}, later.admin);
      expect((await server.admin.get(`${base()}/${id}`)).status).toBe(404);
      expect(
        (
          await tdb.db.query<{ n: number }>('SELECT count(*)::int AS n FROM ticket_import_rows WHERE import_id = $1', [
            id,
          ])
        )[0]!.n,
      ).toBe(0);
    } finally {
      await later.close();
    }
  });
});
