/**
 * The sync's compare-and-set of ticket states (store/ticket-states.ts): it
 * writes only the rows still at the version a state was computed from, and
 * answers the new version of exactly those (it learns them from the writes
 * that missed, not from a row per written ticket), whatever the order of the
 * writes, a stale version or an id of another event.
 */
import { randomUUID } from 'node:crypto';
import type { TicketScanState } from '@entrada/core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { compareAndSetTicketStates } from '../src/store/ticket-states.ts';
import {
  describeEachBackend,
  issueTickets,
  seedEvent,
  startTestServer,
  type TestDatabase,
  type TestServer,
} from './harness.ts';

const state = (at: number): TicketScanState => ({
  entries: 1,
  first: { at, direction: 'entry', deviceId: 'd-1', gateId: null },
  last: { at, direction: 'entry', deviceId: 'd-1', gateId: null },
});

describeEachBackend('compare-and-set of ticket states', (backend) => {
  let test: TestDatabase;
  let server: TestServer;
  let eventId: string;
  let ids: string[];

  beforeAll(async () => {
    test = await backend.open();
    server = await startTestServer(test.db);
    const ev = await seedEvent(server.admin);
    eventId = ev.eventId;
    ids = (
      await issueTickets(
        server.admin,
        eventId,
        Array.from({ length: 8 }, () => ({ ticket_type_id: ev.types.ga })),
      )
    ).map((t) => t.id);
  });
  afterAll(async () => {
    await server?.close();
    await test?.drop();
  });

  const versions = async (): Promise<Map<string, { version: number; entries: number }>> =>
    new Map(
      (
        await test.db.query<{ id: string; version: number; entries: number }>(
          'SELECT id, version, entries FROM tickets WHERE event_id = $1',
          [eventId],
        )
      ).map((r) => [r.id, { version: r.version, entries: r.entries }]),
    );

  it('writes the rows still at their expected version and answers exactly their new versions', async () => {
    const before = await versions();
    const stale = ids[2]!;
    const foreign = randomUUID();
    // Not in id order (the store sorts), one stale expected version, one id that is no ticket of the event.
    const writes = [ids[5]!, ids[0]!, stale, ids[3]!, foreign].map((ticketId, i) => ({
      ticketId,
      expectedVersion: ticketId === stale ? before.get(stale)!.version + 7 : (before.get(ticketId)?.version ?? 0),
      state: state(1_000 + i),
    }));
    const written = await test.db.transaction((tx) => compareAndSetTicketStates(tx, eventId, writes));
    const after = await versions();
    expect([...written.keys()].sort()).toEqual([ids[0]!, ids[3]!, ids[5]!].sort());
    for (const [id, version] of written) {
      expect(version).toBe(before.get(id)!.version + 1);
      expect(after.get(id)).toEqual({ version, entries: 1 });
    }
    expect(after.get(stale)).toEqual(before.get(stale));
    // Once more from the old versions: every one misses now, and nothing is written.
    const again = await test.db.transaction((tx) => compareAndSetTicketStates(tx, eventId, writes));
    expect(again.size).toBe(0);
    expect(await versions()).toEqual(after);
  });

  it('answers every write when none misses', async () => {
    const before = await versions();
    const writes = ids.slice(6).map((ticketId) => ({
      ticketId,
      expectedVersion: before.get(ticketId)!.version,
      state: state(5_000),
    }));
    const written = await test.db.transaction((tx) => compareAndSetTicketStates(tx, eventId, writes));
    expect(written).toEqual(new Map(writes.map((x) => [x.ticketId, x.expectedVersion + 1])));
  });
});
