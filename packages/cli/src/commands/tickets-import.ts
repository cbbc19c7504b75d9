import { stat } from 'node:fs/promises';
import { MAX_IMPORT_CHUNK_ROWS } from '@entrada/core';
import type { CommittedImport, IssuedTicket, StagedImport, TicketImportView } from '../api-types.ts';
import { csvRow } from '../csv.ts';
import { ApiError, CliError } from '../errors.ts';
import { fetchEvent } from '../events-api.ts';
import { openFileWriter, type TextWriter } from '../file-writer.ts';
import { count, perSecond, plural, seconds } from '../format.ts';
import { HttpClient, type Connection } from '../http-client.ts';
import type { Output } from '../output.ts';
import { startProgress } from '../progress.ts';
import { readTicketCsv, type Problem } from '../ticket-csv.ts';

export const DEFAULT_IMPORT_BATCH = 5000;
const SHOWN_PROBLEMS = 20;

export interface ImportOptions {
  connection: Connection;
  file: string;
  eventId: string;
  batchSize?: number;
  dryRun?: boolean;
  /** CSV of the created tickets (id, number, code). */
  outFile?: string;
}

export interface ImportReport {
  rows: number;
  created: number;
  elapsedMs: number;
}

export async function importTickets(opts: ImportOptions, output: Output): Promise<ImportReport> {
  const batchSize = opts.batchSize ?? DEFAULT_IMPORT_BATCH;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_IMPORT_CHUNK_ROWS) {
    throw new CliError(`--batch must be a whole number from 1 to ${count(MAX_IMPORT_CHUNK_ROWS)}, got ${batchSize}`);
  }
  const client = new HttpClient(opts.connection, 'admin');
  await requireReadableFile(opts.file);
  const event = await fetchEvent(client, opts.eventId);

  const parseStarted = Date.now();
  const file = await readTicketCsv(opts.file, event.ticket_types);
  if (file.problems.length > 0) {
    reportProblems(file.problems, opts.file, output);
    throw new CliError(`${opts.file} has ${plural(file.problems.length, 'problem')}; nothing was imported`);
  }
  if (file.tickets.length === 0) throw new CliError(`${opts.file} has a header but no ticket rows; nothing to import`);
  const total = file.tickets.length;
  const batches = Math.ceil(total / batchSize);
  output.out(
    `Checked ${plural(total, 'row')} of ${opts.file} in ${seconds(Date.now() - parseStarted)}: ` +
      `${count(file.importedCodes)} with imported codes, ${count(total - file.importedCodes)} to get Entrada-signed codes.`,
  );
  if (opts.dryRun) {
    output.out(
      `Dry run: nothing was imported. Without --dry-run, ${plural(total, 'ticket')} would be created in "${event.name}" in one import (${plural(batches, 'chunk')} of up to ${count(batchSize)}, then one commit).`,
    );
    return { rows: total, created: 0, elapsedMs: 0 };
  }

  // One import session: chunks are checked and staged by the server, one commit writes them all or none.
  const started = Date.now();
  const base = `/api/v1/events/${event.id}/ticket-imports`;
  const session = await client.post<TicketImportView>(base, { total_rows: total });
  const progress = startProgress(output, { label: 'Importing', unit: 'tickets', total, to: 'stdout' });
  const issued: IssuedTicket[] = [];
  let created: number;
  let committing = false;
  try {
    for (let start = 0; start < total; start += batchSize) {
      const chunk = file.tickets.slice(start, start + batchSize);
      const staged = await client.post<StagedImport>(`${base}/${session.id}/rows`, {
        start_row: start + 1,
        tickets: chunk,
        ...(opts.outFile ? { return_codes: true } : {}),
      });
      if (staged.tickets) issued.push(...staged.tickets);
      progress.update(start + chunk.length);
    }
    progress.stop();
    committing = true;
    ({ imported: created } = await client.post<CommittedImport>(`${base}/${session.id}/commit`, {}));
  } catch (err) {
    progress.stop();
    // The import is abandoned (the server also drops stale ones); a committed one keeps its tickets either way.
    if (!committing || err instanceof ApiError) await client.delete(`${base}/${session.id}`).catch(() => undefined);
    throw importFailure(err, { committing, lines: file.lines }, output);
  }
  if (opts.outFile) {
    const out = await openFileWriter(opts.outFile);
    await out.write(csvRow(['id', 'number', 'code']));
    await writeIssued(out, issued);
    await out.close();
  }
  const elapsedMs = Date.now() - started;
  output.out(
    `Imported ${plural(created, 'ticket')} into "${event.name}" in ${seconds(elapsedMs)} (${perSecond(created, elapsedMs)}).`,
  );
  if (opts.outFile) output.out(`Created tickets (id, number, code) written to ${opts.outFile}.`);
  return { rows: total, created, elapsedMs };
}

async function requireReadableFile(file: string): Promise<void> {
  const info = await stat(file).catch((err: NodeJS.ErrnoException) => {
    throw new CliError(
      err.code === 'ENOENT' ? `cannot read ${file}: no such file` : `cannot read ${file}: ${err.message}`,
    );
  });
  if (!info.isFile()) throw new CliError(`cannot read ${file}: not a file`);
}

function reportProblems(problems: Problem[], file: string, output: Output): void {
  output.err(`${file}: ${plural(problems.length, 'problem')} found; fix them and run the import again:`);
  for (const p of problems.slice(0, SHOWN_PROBLEMS)) output.err(`  line ${p.line}: ${p.message}`);
  if (problems.length > SHOWN_PROBLEMS) output.err(`  … and ${count(problems.length - SHOWN_PROBLEMS)} more`);
}

async function writeIssued(out: TextWriter | null, issued: IssuedTicket[]): Promise<void> {
  if (!out) return;
  let chunk = '';
  for (const t of issued) chunk += csvRow([t.id, t.number, t.code]);
  await out.write(chunk);
}

/**
 * The import is all or nothing on the server: after a refusal nothing exists, and the server names
 * the row at fault ("row 8: …"), shown here as the CSV line.
 */
function importFailure(err: unknown, c: { committing: boolean; lines: number[] }, output: Output): unknown {
  if (!(err instanceof CliError)) return err;
  if (err instanceof ApiError) {
    output.err('The import was refused as a whole: no ticket from the file was created.');
    const row = /\brows? ([\d,]+)/.exec(err.serverMessage);
    const culprit = row ? c.lines[Number(row[1]!.replace(/,/g, '')) - 1] : undefined;
    return new CliError(
      `import failed: ${err.message}${culprit ? `; the offending row is CSV line ${count(culprit)}` : ''}`,
    );
  }
  // No answer: the commit may have gone through before the connection dropped.
  output.err(
    c.committing
      ? 'The commit got no answer: the tickets may or may not have been created; check with `entrada tickets export` before importing again.'
      : 'The upload got no answer: nothing was created.',
  );
  return new CliError(`import failed: ${err.message}`);
}
