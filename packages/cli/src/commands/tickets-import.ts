import { stat } from 'node:fs/promises';
import { MAX_TICKETS_PER_CALL } from '@entrada/core';
import type { IssuedTicket } from '../api-types.ts';
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
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_TICKETS_PER_CALL) {
    throw new CliError(`--batch must be a whole number from 1 to ${count(MAX_TICKETS_PER_CALL)}, got ${batchSize}`);
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
  output.out(`Checked ${plural(total, 'row')} of ${opts.file} in ${seconds(Date.now() - parseStarted)}: `
    + `${count(file.importedCodes)} with imported codes, ${count(total - file.importedCodes)} to get Entrada-signed codes.`);
  if (opts.dryRun) {
    output.out(`Dry run: nothing was imported. Without --dry-run, ${plural(total, 'ticket')} would be created in "${event.name}" in ${plural(batches, 'batch', 'batches')} of up to ${count(batchSize)}.`);
    return { rows: total, created: 0, elapsedMs: 0 };
  }

  const out = opts.outFile ? await openFileWriter(opts.outFile) : null;
  await out?.write(csvRow(['id', 'number', 'code']));
  const started = Date.now();
  const progress = startProgress(output, { label: 'Importing', unit: 'tickets', total, to: 'stdout' });
  let created = 0;
  try {
    for (let start = 0; start < total; start += batchSize) {
      const batch = file.tickets.slice(start, start + batchSize);
      let issued: IssuedTicket[];
      try {
        ({ tickets: issued } = await client.post<{ tickets: IssuedTicket[] }>(`/api/v1/events/${event.id}/tickets`, { tickets: batch }));
      } catch (err) {
        progress.stop();
        await out?.close();
        throw batchFailure(err, { start, batch: batch.length, batchNumber: start / batchSize + 1, batches, created, total, lines: file.lines, outFile: opts.outFile }, output);
      }
      await writeIssued(out, issued);
      created += issued.length;
      progress.update(created);
    }
  } finally {
    progress.stop();
  }
  await out?.close();
  const elapsedMs = Date.now() - started;
  output.out(`Imported ${plural(created, 'ticket')} into "${event.name}" in ${seconds(elapsedMs)} (${perSecond(created, elapsedMs)}).`);
  if (opts.outFile) output.out(`Created tickets (id, number, code) written to ${opts.outFile}.`);
  return { rows: total, created, elapsedMs };
}

async function requireReadableFile(file: string): Promise<void> {
  const info = await stat(file).catch((err: NodeJS.ErrnoException) => {
    throw new CliError(err.code === 'ENOENT' ? `cannot read ${file}: no such file` : `cannot read ${file}: ${err.message}`);
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

interface BatchContext {
  start: number; batch: number; batchNumber: number; batches: number; created: number; total: number; lines: number[]; outFile: string | undefined;
}

/**
 * Batches are all-or-nothing on the server, so after a rejected batch the
 * user knows exactly which rows exist and where to resume.
 */
function batchFailure(err: unknown, c: BatchContext, output: Output): unknown {
  if (!(err instanceof CliError)) return err;
  const firstLine = c.lines[c.start] ?? 0;
  const lastLine = c.lines[c.start + c.batch - 1] ?? firstLine;
  const done = c.created > 0
    ? `${count(c.created)} of ${plural(c.total, 'row')} were imported (CSV lines ${count(c.lines[0] ?? 2)}–${count(c.lines[c.created - 1] ?? 2)})`
    : `0 of ${plural(c.total, 'row')} were imported`;
  output.err(`${done}${c.outFile && c.created > 0 ? `; they are listed in ${c.outFile}` : ''}.`);
  if (err instanceof ApiError) {
    output.err(`Batch ${c.batchNumber} of ${c.batches} (CSV lines ${count(firstLine)}–${count(lastLine)}) was rejected as a whole: nothing from it was created, and later batches were not sent.`);
    if (c.created > 0) output.err(`To finish, remove the imported rows (lines ${count(c.lines[0] ?? 2)}–${count(c.lines[c.created - 1] ?? 2)}) from the file, fix the problem, and import it again.`);
    const row = /\/tickets\/(\d+)\//.exec(err.serverMessage);
    const culprit = row ? c.lines[c.start + Number(row[1])] : undefined;
    return new CliError(`batch starting at CSV line ${count(firstLine)} failed: ${err.message}${culprit ? `; the offending row is CSV line ${count(culprit)}` : ''}`);
  }
  // No answer: the server may have committed the batch before the connection dropped.
  output.err(`Batch ${c.batchNumber} of ${c.batches} (CSV lines ${count(firstLine)}–${count(lastLine)}) got no answer: it may or may not have been created; check with \`entrada tickets export\` before importing again.`);
  return new CliError(`batch starting at CSV line ${count(firstLine)} failed: ${err.message}`);
}
