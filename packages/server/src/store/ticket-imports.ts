import type { Sql } from '../db/database.ts';
import type { NewTicketRow } from './tickets.ts';

export type TicketImportState = 'open' | 'failed' | 'committed';

export interface TicketImportRecord {
  eventId: string;
  id: string;
  organisationId: string;
  actor: string;
  state: TicketImportState;
  totalRows: number | null;
  stagedRows: number;
  failure: string | null;
  createdAt: number;
}

interface RawImport {
  event_id: string;
  id: string;
  organisation_id: string;
  actor: string;
  state: TicketImportState;
  total_rows: number | null;
  staged_rows: number;
  failure: string | null;
  created_at: Date;
}

const IMPORT_COLUMNS = 'event_id, id, organisation_id, actor, state, total_rows, staged_rows, failure, created_at';

const toImport = (r: RawImport): TicketImportRecord => ({
  eventId: r.event_id,
  id: r.id,
  organisationId: r.organisation_id,
  actor: r.actor,
  state: r.state,
  totalRows: r.total_rows,
  stagedRows: r.staged_rows,
  failure: r.failure,
  createdAt: r.created_at.getTime(),
});

/** Deletes import sessions untouched since `before` (their staged rows go with them); returns how many. */
export async function deleteStaleImports(sql: Sql, before: Date): Promise<number> {
  const rows = await sql.query<{ id: string }>(`DELETE FROM ticket_imports WHERE touched_at < $1 RETURNING id`, [
    before,
  ]);
  return rows.length;
}

export async function insertImport(
  sql: Sql,
  i: { eventId: string; id: string; organisationId: string; actor: string; totalRows: number | null; at: Date },
): Promise<TicketImportRecord> {
  const [row] = await sql.query<RawImport>(
    `INSERT INTO ticket_imports (event_id, id, organisation_id, actor, total_rows, created_at, touched_at)
     VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING ${IMPORT_COLUMNS}`,
    [i.eventId, i.id, i.organisationId, i.actor, i.totalRows, i.at],
  );
  return toImport(row!);
}

/** The import, locked FOR UPDATE with `lock` (chunks and the commit of one import take turns). */
export async function getImport(
  sql: Sql,
  eventId: string,
  id: string,
  lock = false,
): Promise<TicketImportRecord | null> {
  const [row] = await sql.query<RawImport>(
    `SELECT ${IMPORT_COLUMNS} FROM ticket_imports WHERE event_id = $1 AND id = $2${lock ? ' FOR UPDATE' : ''}`,
    [eventId, id],
  );
  return row ? toImport(row) : null;
}

/** Marks the import failed with the reason (the row at fault) and drops what it staged: its commit is refused from now on. */
export async function failImport(sql: Sql, eventId: string, id: string, failure: string, at: Date): Promise<void> {
  await sql.query(`DELETE FROM ticket_import_rows WHERE event_id = $1 AND import_id = $2`, [eventId, id]);
  await sql.query(
    `UPDATE ticket_imports SET state = 'failed', failure = $3, touched_at = $4 WHERE event_id = $1 AND id = $2 AND state = 'open'`,
    [eventId, id, failure, at],
  );
}

export async function deleteImport(sql: Sql, eventId: string, id: string): Promise<boolean> {
  const rows = await sql.query<{ id: string }>(
    `DELETE FROM ticket_imports WHERE event_id = $1 AND id = $2 RETURNING id`,
    [eventId, id],
  );
  return rows.length > 0;
}

export interface StagedClash {
  rowNo: number;
  byNumber: boolean;
  byDigest: boolean;
}

/**
 * Rows already staged in this import that share a number or code digest (hex) with the chunk: two joins
 * of the chunk's keys with the staging's unique indexes. (An `= ANY(array) OR …` filter here scanned every
 * staged row against the whole array: quadratic, 1 s a chunk by the end of a 100,000-row import.)
 */
export async function stagedClashes(
  sql: Sql,
  eventId: string,
  importId: string,
  numbers: string[],
  digestsHex: string[],
): Promise<Array<StagedClash & { number: string; digestHex: string }>> {
  const rows = await sql.query<{
    row_no: number;
    number: string;
    digest: string;
    by_number: boolean;
    by_digest: boolean;
  }>(
    `WITH c AS (SELECT u.number, decode(u.digest, 'hex') AS digest FROM unnest($3::text[], $4::text[]) AS u(number, digest))
     SELECT row_no, number, encode(code_digest, 'hex') AS digest, bool_or(by_number) AS by_number, bool_or(by_digest) AS by_digest FROM (
       SELECT s.row_no, s.number, s.code_digest, true AS by_number, false AS by_digest
         FROM c JOIN ticket_import_rows s ON s.event_id = $1 AND s.import_id = $2 AND s.number = c.number
       UNION ALL
       SELECT s.row_no, s.number, s.code_digest, false, true
         FROM c JOIN ticket_import_rows s ON s.event_id = $1 AND s.import_id = $2 AND s.code_digest = c.digest
     ) x GROUP BY row_no, number, code_digest ORDER BY row_no LIMIT 100`,
    [eventId, importId, numbers, digestsHex],
  );
  return rows.map((r) => ({
    rowNo: r.row_no,
    number: r.number,
    digestHex: r.digest,
    byNumber: r.by_number,
    byDigest: r.by_digest,
  }));
}

/** Numbers and code digests (hex) of the chunk that tickets of the event already hold: two joins with tickets' unique indexes. */
export async function ticketClashes(
  sql: Sql,
  eventId: string,
  numbers: string[],
  digestsHex: string[],
): Promise<{ numbers: string[]; digests: string[] }> {
  const rows = await sql.query<{ number: string | null; digest: string | null }>(
    `WITH c AS (SELECT u.number, decode(u.digest, 'hex') AS digest FROM unnest($2::text[], $3::text[]) AS u(number, digest))
     SELECT t.number, NULL AS digest FROM c JOIN tickets t ON t.event_id = $1 AND t.number = c.number
     UNION ALL
     SELECT NULL, encode(t.code_digest, 'hex') FROM c JOIN tickets t ON t.event_id = $1 AND t.code_digest = c.digest`,
    [eventId, numbers, digestsHex],
  );
  return {
    numbers: rows.flatMap((r) => (r.number === null ? [] : [r.number])),
    digests: rows.flatMap((r) => (r.digest === null ? [] : [r.digest])),
  };
}

/** Stages a chunk (one statement) and counts it on the import. */
export async function stageRows(
  sql: Sql,
  eventId: string,
  importId: string,
  firstRowNo: number,
  rows: NewTicketRow[],
  at: Date,
): Promise<void> {
  await sql.query(
    `INSERT INTO ticket_import_rows (event_id, import_id, row_no, id, serial, ticket_type_id, number, holder_name, code_kind, code_digest, sealed_code)
     SELECT $1, $2, $3 + u.ord - 1, u.id, u.serial, u.type_id, u.number, u.holder_name, u.code_kind, decode(u.digest, 'hex'), decode(u.sealed, 'hex')
     FROM unnest($4::uuid[], $5::bigint[], $6::uuid[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[]) WITH ORDINALITY
       AS u(id, serial, type_id, number, holder_name, code_kind, digest, sealed, ord)`,
    [
      eventId,
      importId,
      firstRowNo,
      rows.map((r) => r.id),
      rows.map((r) => r.serial),
      rows.map((r) => r.typeId),
      rows.map((r) => r.number),
      rows.map((r) => r.holderName),
      rows.map((r) => r.codeKind),
      rows.map((r) => r.codeDigestHex),
      rows.map((r) => r.sealedCodeHex),
    ],
  );
  await sql.query(
    `UPDATE ticket_imports SET staged_rows = staged_rows + $3, touched_at = $4 WHERE event_id = $1 AND id = $2`,
    [eventId, importId, rows.length, at],
  );
}

/**
 * Staged rows whose number or code an existing ticket of the event already has, in row order (at most `limit`):
 * two index joins (tickets' unique keys), so it costs one probe per staged row, not a scan of the tickets.
 */
export async function committedClashes(
  sql: Sql,
  eventId: string,
  importId: string,
  limit: number,
): Promise<StagedClash[]> {
  const rows = await sql.query<{ row_no: number; by_number: boolean; by_digest: boolean }>(
    `SELECT row_no, bool_or(by_number) AS by_number, bool_or(by_digest) AS by_digest FROM (
       SELECT s.row_no, true AS by_number, false AS by_digest FROM ticket_import_rows s
         JOIN tickets t ON t.event_id = s.event_id AND t.number = s.number WHERE s.event_id = $1 AND s.import_id = $2
       UNION ALL
       SELECT s.row_no, false, true FROM ticket_import_rows s
         JOIN tickets t ON t.event_id = s.event_id AND t.code_digest = s.code_digest WHERE s.event_id = $1 AND s.import_id = $2
     ) c GROUP BY row_no ORDER BY row_no LIMIT $3`,
    [eventId, importId, limit],
  );
  return rows.map((r) => ({ rowNo: r.row_no, byNumber: r.by_number, byDigest: r.by_digest }));
}

/** The first staged row whose ticket type is no longer one of the event's (deleted since it was staged). */
export async function firstRowWithoutType(sql: Sql, eventId: string, importId: string): Promise<number | null> {
  const [row] = await sql.query<{ row_no: number }>(
    `SELECT s.row_no FROM ticket_import_rows s
     WHERE s.event_id = $1 AND s.import_id = $2
       AND NOT EXISTS (SELECT 1 FROM ticket_types tt WHERE tt.event_id = s.event_id AND tt.id = s.ticket_type_id)
     ORDER BY s.row_no LIMIT 1`,
    [eventId, importId],
  );
  return row?.row_no ?? null;
}

/**
 * Every staged row into tickets: one INSERT … SELECT. Returns how many went in (fewer than staged means a
 * unique key clashed with a ticket written meanwhile; the caller rolls back). Then the staging is emptied and
 * the import marked committed, in the same transaction.
 */
export async function commitStagedRows(sql: Sql, eventId: string, importId: string, at: Date): Promise<number> {
  const [row] = await sql.query<{ n: number }>(
    `WITH ins AS (
       INSERT INTO tickets (event_id, id, serial, ticket_type_id, number, holder_name, code_kind, code_digest, sealed_code)
       SELECT event_id, id, serial, ticket_type_id, number, holder_name, code_kind, code_digest, sealed_code
       FROM ticket_import_rows WHERE event_id = $1 AND import_id = $2
       ORDER BY serial
       ON CONFLICT DO NOTHING
       RETURNING 1)
     SELECT count(*)::int AS n FROM ins`,
    [eventId, importId],
  );
  await sql.query(`DELETE FROM ticket_import_rows WHERE event_id = $1 AND import_id = $2`, [eventId, importId]);
  await sql.query(`UPDATE ticket_imports SET state = 'committed', touched_at = $3 WHERE event_id = $1 AND id = $2`, [
    eventId,
    importId,
    at,
  ]);
  return row?.n ?? 0;
}
