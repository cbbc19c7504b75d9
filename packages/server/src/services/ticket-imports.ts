import { randomUUID } from 'node:crypto';
import type { CreateTicketImportBody, TicketImportRowsBody, TicketImportView } from '@entrada/core';
import { MAX_IMPORT_ROWS } from '@entrada/core';
import type { Database } from '../db/database.ts';
import { insertAudit } from '../store/audit.ts';
import { allocateSerials } from '../store/tickets.ts';
import {
  commitStagedRows,
  committedClashes,
  deleteImport,
  deleteStaleImports,
  failImport,
  firstRowWithoutType,
  getImport,
  insertImport,
  stagedClashes,
  stageRows,
  ticketClashes,
  type StagedClash,
  type TicketImportRecord,
} from '../store/ticket-imports.ts';
import type { Caller } from './audit.ts';
import { DomainError, notFound } from './errors.ts';
import type { EventService } from './event-service.ts';
import type { TableStats } from './table-stats.ts';
import type { IssuedTicket, TicketService } from './ticket-service.ts';

/** An import nobody touched for this long is abandoned: deleted (with its staged rows) when another import starts. */
export const STALE_IMPORT_MS = 60 * 60_000;

const rowLabel = (n: number): string => `row ${n.toLocaleString('en-GB')}`;

/** "rows 7, 12 and 30,001" */
function rowList(rows: number[]): string {
  const labels = rows.map((n) => n.toLocaleString('en-GB'));
  return labels.length === 1 ? `row ${labels[0]}` : `rows ${labels.slice(0, -1).join(', ')} and ${labels.at(-1)}`;
}

function clashError(clashes: StagedClash[], what: string): DomainError {
  const byCode = clashes.filter((c) => c.byDigest).map((c) => c.rowNo);
  if (byCode.length > 0)
    return new DomainError(
      'DUPLICATE_CODE',
      `The code of ${rowList(byCode.slice(0, 20))} ${what}; nothing was imported`,
    );
  return new DomainError(
    'DUPLICATE_NUMBER',
    `The number of ${rowList(clashes.map((c) => c.rowNo).slice(0, 20))} ${what}; nothing was imported`,
  );
}

const view = (i: TicketImportRecord): TicketImportView => ({
  id: i.id,
  event_id: i.eventId,
  state: i.state,
  total_rows: i.totalRows,
  staged_rows: i.stagedRows,
  failure: i.failure,
  created_at: new Date(i.createdAt).toISOString(),
});

/**
 * Ticket imports of any size as one all-or-nothing operation. A session is opened, chunks of rows are
 * validated and staged (each chunk gets its serials, codes and digests then, so signing is spread over
 * the upload), and the commit moves every staged row into tickets with one INSERT … SELECT in one
 * transaction. A refused chunk fails the whole import: its commit is refused from then on, so a client
 * cannot commit the chunks around a bad one by mistake.
 */
export class TicketImportService {
  constructor(
    private readonly db: Database,
    private readonly events: EventService,
    private readonly tickets: TicketService,
    private readonly now: () => number = Date.now,
    private readonly stats?: TableStats,
  ) {}

  async open(c: Caller, eventId: string, body: CreateTicketImportBody): Promise<TicketImportView> {
    await this.events.get(c.organisationId, eventId);
    const at = new Date(this.now());
    // Sessions left behind (a closed tab, a crashed script) go here, set-based, on every instance's first use.
    await deleteStaleImports(this.db, new Date(at.getTime() - STALE_IMPORT_MS));
    return view(
      await insertImport(this.db, {
        eventId,
        id: randomUUID(),
        organisationId: c.organisationId,
        actor: c.actor,
        totalRows: body.total_rows ?? null,
        at,
      }),
    );
  }

  async get(c: Caller, eventId: string, importId: string): Promise<TicketImportView> {
    return view(await this.find(c, eventId, importId));
  }

  /**
   * Validates and stages one chunk. Rows are numbered from `start_row`, which must follow what is already
   * staged (a resent chunk is refused with CONFLICT and changes nothing). Any row at fault — a bad field, a
   * code or number repeated within the import or already a ticket's — fails the import, naming the row.
   */
  async stage(
    c: Caller,
    eventId: string,
    importId: string,
    body: TicketImportRowsBody,
  ): Promise<TicketImportView & { tickets?: IssuedTicket[] }> {
    const found = await this.find(c, eventId, importId);
    this.mustBeOpen(found);
    const ctx = await this.tickets.contextFor(c.organisationId, eventId, body.tickets);
    const first = body.start_row;
    if (first + body.tickets.length - 1 > (found.totalRows ?? MAX_IMPORT_ROWS)) {
      throw new DomainError(
        'PAYLOAD_TOO_LARGE',
        found.totalRows === null
          ? `An import takes at most ${MAX_IMPORT_ROWS.toLocaleString('en-GB')} rows; nothing was staged`
          : `This import was opened for ${found.totalRows.toLocaleString('en-GB')} rows; this chunk goes beyond; nothing was staged`,
      );
    }
    let failure: DomainError;
    try {
      const prepared = this.tickets.prepare(ctx, body.tickets, (i, field) => `${rowLabel(first + i)}: ${field}`);
      return await this.db.transaction(async (tx) => {
        const locked = await getImport(tx, eventId, importId, true);
        if (!locked) throw notFound('Ticket import');
        this.mustBeOpen(locked);
        if (locked.stagedRows + 1 !== first) {
          throw new DomainError(
            'CONFLICT',
            `This import has ${locked.stagedRows.toLocaleString('en-GB')} rows staged; the next chunk starts at row ${(locked.stagedRows + 1).toLocaleString('en-GB')}, not ${first.toLocaleString('en-GB')}`,
          );
        }
        const serial = await allocateSerials(tx, eventId, prepared.length);
        const { rows, created } = this.tickets.rowsOf(ctx, prepared, serial);
        const numbers = rows.map((r) => r.number);
        const digests = rows.map((r) => r.codeDigestHex);
        const rowOf = (pick: (i: number) => boolean): number => first + rows.findIndex((_, i) => pick(i));
        const staged = await stagedClashes(tx, eventId, importId, numbers, digests);
        if (staged.length > 0) {
          const s = staged[0]!;
          const here = s.byDigest ? rowOf((i) => digests[i] === s.digestHex) : rowOf((i) => numbers[i] === s.number);
          throw new DomainError(
            s.byDigest ? 'DUPLICATE_CODE' : 'DUPLICATE_NUMBER',
            `${rowLabel(here)}: ${s.byDigest ? 'code' : `number "${s.number}"`} repeats ${rowLabel(s.rowNo)}; nothing will be imported`,
          );
        }
        const existing = await ticketClashes(tx, eventId, numbers, digests);
        if (existing.digests.length > 0 || existing.numbers.length > 0) {
          const byCode = existing.digests.length > 0;
          const here = byCode
            ? rowOf((i) => existing.digests.includes(digests[i]!))
            : rowOf((i) => existing.numbers.includes(numbers[i]!));
          throw new DomainError(
            byCode ? 'DUPLICATE_CODE' : 'DUPLICATE_NUMBER',
            `${rowLabel(here)}: ${byCode ? 'the code' : `number "${numbers[here - first]}"`} is already used by a ticket of this event; nothing will be imported`,
          );
        }
        await stageRows(tx, eventId, importId, first, rows, new Date(this.now()));
        const answer = view({ ...locked, stagedRows: locked.stagedRows + rows.length });
        return body.return_codes ? { ...answer, tickets: created } : answer;
      });
    } catch (err) {
      // A resent or late chunk leaves the import as it was; anything wrong with the rows fails it.
      if (!(err instanceof DomainError) || err.code === 'CONFLICT' || err.code === 'NOT_FOUND') throw err;
      failure = err;
    }
    await failImport(this.db, eventId, importId, failure.message, new Date(this.now()));
    throw failure;
  }

  /**
   * Every staged row into tickets, in one transaction: first the checks against the tickets as they are now
   * (a ticket written since a chunk was staged may hold one of its codes or numbers), naming the rows, then
   * one INSERT … SELECT. Nothing is written unless everything is. A commit repeated after it succeeded answers
   * the same (the client may not have seen the first answer).
   */
  async commit(c: Caller, eventId: string, importId: string): Promise<{ import: TicketImportView; imported: number }> {
    await this.find(c, eventId, importId);
    const result = await this.db.transaction(async (tx) => {
      const locked = await getImport(tx, eventId, importId, true);
      if (!locked) throw notFound('Ticket import');
      if (locked.state === 'committed') return { record: locked, imported: 0, repeated: true };
      this.mustBeOpen(locked);
      if (locked.stagedRows === 0)
        throw new DomainError('CONFLICT', 'Nothing is staged in this import yet; send its rows first');
      if (locked.totalRows !== null && locked.stagedRows !== locked.totalRows) {
        throw new DomainError(
          'CONFLICT',
          `This import was opened for ${locked.totalRows.toLocaleString('en-GB')} rows and has ${locked.stagedRows.toLocaleString('en-GB')}; send the rest before committing`,
        );
      }
      const clashes = await committedClashes(tx, eventId, importId, 20);
      if (clashes.length > 0)
        throw clashError(
          clashes,
          clashes.length === 1
            ? 'is already used by a ticket of this event'
            : 'are already used by tickets of this event',
        );
      const orphan = await firstRowWithoutType(tx, eventId, importId);
      if (orphan !== null)
        throw new DomainError(
          'CONFLICT',
          `${rowLabel(orphan)}: its ticket type was deleted after the row was sent; nothing was imported`,
        );
      const imported = await commitStagedRows(tx, eventId, importId, new Date(this.now()));
      if (imported !== locked.stagedRows) {
        // A ticket written between the checks above and the insert took a code or number: roll everything back.
        throw new DomainError(
          'CONFLICT',
          'Tickets were added to this event while the import was committed, and one of them took a code or number of the import; commit again to see which row',
        );
      }
      await insertAudit(tx, {
        organisationId: c.organisationId,
        eventId,
        actor: c.actor,
        action: 'tickets.import',
        subjectKind: 'ticket_import',
        subjectId: importId,
        before: null,
        after: { tickets: imported },
      });
      return { record: { ...locked, state: 'committed' as const }, imported, repeated: false };
    });
    if (!result.repeated) this.stats?.recordWrites('tickets', result.imported);
    return { import: view(result.record), imported: result.repeated ? result.record.stagedRows : result.imported };
  }

  /** Abandons an import: it and what it staged are deleted (a committed import's tickets stay). */
  async abandon(c: Caller, eventId: string, importId: string): Promise<void> {
    await this.find(c, eventId, importId);
    await deleteImport(this.db, eventId, importId);
  }

  /** The import, if it is of this organisation's event (another organisation's is not found either). */
  private async find(c: Caller, eventId: string, importId: string): Promise<TicketImportRecord> {
    await this.events.get(c.organisationId, eventId);
    const found = await getImport(this.db, eventId, importId);
    if (!found || found.organisationId !== c.organisationId) throw notFound('Ticket import');
    return found;
  }

  private mustBeOpen(i: TicketImportRecord): void {
    if (i.state === 'failed')
      throw new DomainError(
        'CONFLICT',
        `This import failed (${i.failure ?? 'a row was refused'}); start a new one with the corrected file`,
      );
    if (i.state === 'committed') throw new DomainError('CONFLICT', 'This import is already committed');
  }
}
