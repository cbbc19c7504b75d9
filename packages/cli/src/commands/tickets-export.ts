import type { TicketPage } from '../api-types.ts';
import { csvRow } from '../csv.ts';
import { explainEventError } from '../events-api.ts';
import { openFileWriter, ReaderGoneError, TextWriter } from '../file-writer.ts';
import { perSecond, plural, seconds } from '../format.ts';
import { HttpClient, requireUuid, type Connection } from '../http-client.ts';
import type { Output } from '../output.ts';
import { startProgress } from '../progress.ts';

export const EXPORT_PAGE_SIZE = 5000;
export const EXPORT_COLUMNS = [
  'id',
  'number',
  'tier',
  'holder_name',
  'status',
  'code',
  'scans_used',
  'inside',
] as const;

export interface ExportOptions {
  connection: Connection;
  eventId: string;
  /** Without a file, the CSV goes to stdout. */
  outFile?: string;
}

export async function exportTickets(
  opts: ExportOptions,
  output: Output,
): Promise<{ exported: number; elapsedMs: number }> {
  const client = new HttpClient(opts.connection, 'admin');
  requireUuid(opts.eventId, '--event', 'an event');
  // Fetch the first page before creating the file, so a wrong event id leaves no empty file behind.
  const first = await page(client, opts.eventId, 0);
  const writer = opts.outFile ? await openFileWriter(opts.outFile) : new TextWriter(output.stdout, 'stdout', false);
  const started = Date.now();
  // A bar only makes sense when it does not share the terminal with the CSV itself.
  const progress =
    opts.outFile || !output.stdoutIsTTY
      ? startProgress(output, { label: 'Exporting', unit: 'tickets', total: null, to: 'stderr' })
      : null;
  let exported = 0;
  try {
    await writer.write(csvRow([...EXPORT_COLUMNS]));
    let current: TicketPage | null = first;
    while (current) {
      let chunk = '';
      for (const t of current.tickets)
        chunk += csvRow([t.id, t.number, t.tier, t.holder_name, t.status, t.code, t.scans_used, t.inside]);
      await writer.write(chunk);
      exported += current.tickets.length;
      progress?.update(exported);
      current = current.next_after === null ? null : await page(client, opts.eventId, current.next_after);
    }
  } catch (err) {
    if (err instanceof ReaderGoneError) return { exported, elapsedMs: Date.now() - started };
    throw err;
  } finally {
    progress?.stop();
    await writer.close();
  }
  const elapsedMs = Date.now() - started;
  const summary = `Exported ${plural(exported, 'ticket')}${opts.outFile ? ` to ${opts.outFile}` : ''} in ${seconds(elapsedMs)} (${perSecond(exported, elapsedMs)}).`;
  // With the CSV on stdout, the summary must not end up inside it.
  if (opts.outFile) output.out(summary);
  else output.err(summary);
  return { exported, elapsedMs };
}

async function page(client: HttpClient, eventId: string, after: number): Promise<TicketPage> {
  try {
    return await client.get<TicketPage>(`/api/v1/events/${eventId}/tickets?after=${after}&limit=${EXPORT_PAGE_SIZE}`);
  } catch (err) {
    throw explainEventError(err, eventId);
  }
}
