import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { pgErrorCode, pgConstraint, PG_UNIQUE_VIOLATION, type Database } from '../src/db/database.ts';
import { migrate } from '../src/db/migrate.ts';
import { describeEachBackend } from './harness.ts';

const insertScan = (
  db: Database,
  eventId: string,
  id: string,
  clientScanId: string | null,
  winner: string | null = null,
): Promise<unknown> =>
  db.query(
    `INSERT INTO scans (event_id, id, client_scan_id, winner_scan_id, result, reason, admits, direction, device_pk, device_id, scanned_at, source)
   VALUES ($1, $2, $3, $4, 'valid', 'admitted_offline', true, 'entry', $5, 'gate-1', now(), 'offline')`,
    [eventId, id, clientScanId, winner, randomUUID()],
  );

async function failure(p: Promise<unknown>): Promise<{ code: string | undefined; constraint: string | undefined }> {
  try {
    await p;
  } catch (err) {
    return { code: pgErrorCode(err), constraint: pgConstraint(err) };
  }
  throw new Error('the statement succeeded');
}

/** Migration 023: the primary key is every scan's physical identity, so scans_physical_scan is gone and its guarantee kept. */
describeEachBackend('scan identity (migration 023)', (backend) => {
  describe('upgrading', () => {
    it('gives a stored row whose physical scan had a client id that id, and the conflicts and verdicts naming it follow', async () => {
      const tdb = await backend.open();
      try {
        await migrate(tdb.db, { before: '023' });
        const [eventId, oldId, clientId, winner] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
        await insertScan(tdb.db, eventId, oldId, clientId);
        await insertScan(tdb.db, eventId, winner, null, oldId);
        await tdb.db.query(
          `INSERT INTO conflicts (event_id, ticket_id, loser_scan_id, winner_scan_id, reason) VALUES ($1, $2, $3, $4, 'already_redeemed')`,
          [eventId, randomUUID(), oldId, oldId],
        );
        await migrate(tdb.db);

        const ids = await tdb.db.query<{ id: string; client_scan_id: string | null; winner_scan_id: string | null }>(
          `SELECT id, client_scan_id, winner_scan_id FROM scans WHERE event_id = $1 ORDER BY client_scan_id NULLS LAST`,
          [eventId],
        );
        expect(ids).toEqual([
          { id: clientId, client_scan_id: clientId, winner_scan_id: null },
          { id: winner, client_scan_id: null, winner_scan_id: clientId },
        ]);
        expect(
          await tdb.db.query(`SELECT loser_scan_id, winner_scan_id FROM conflicts WHERE event_id = $1`, [eventId]),
        ).toEqual([{ loser_scan_id: clientId, winner_scan_id: clientId }]);
      } finally {
        await tdb.drop();
      }
    });
  });

  it('one physical scan is one row through the primary key alone; a client id other than the row id is refused', async () => {
    const tdb = await backend.open();
    try {
      await migrate(tdb.db);
      expect(
        await tdb.db.query(
          `SELECT indexname FROM pg_indexes WHERE tablename = 'scans' AND indexname = 'scans_physical_scan'`,
        ),
      ).toEqual([]);
      const [eventId, scanId] = [randomUUID(), randomUUID()];
      // An offline copy that claimed a scan_id, then an online row of the same scan_id: the second is refused by the key.
      await insertScan(tdb.db, eventId, scanId, scanId);
      expect(await failure(insertScan(tdb.db, eventId, scanId, null))).toEqual({
        code: PG_UNIQUE_VIOLATION,
        constraint: 'scans_pkey',
      });
      // Control: a row keeping a client id apart from its own id would escape the key, so the schema refuses it.
      expect((await failure(insertScan(tdb.db, eventId, randomUUID(), randomUUID()))).constraint).toBe(
        'scans_client_scan_id_is_id',
      );
    } finally {
      await tdb.drop();
    }
  });
});
