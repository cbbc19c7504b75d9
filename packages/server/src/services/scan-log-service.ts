import { isoInZone, parseEventTime, type ScanExportQuery, type ScanLogPage, type ScanLogRow } from '@entrada/core';
import type { Database } from '../db/database.ts';
import { listScanLog, type ScanLogFilter, type ScanLogPosition, type ScanLogRecord } from '../store/scan-log.ts';
import { invalid } from './errors.ts';
import type { EventContext } from './event-context.ts';
import type { EventService } from './event-service.ts';

/** Rows read per statement while exporting: big enough that 100,000 rows are 20 statements, small enough to hold. */
const EXPORT_PAGE = 5000;

const CSV_COLUMNS = [
  'scanned_at',
  'received_at',
  'upload_delay_s',
  'direction',
  'verdict',
  'result',
  'reason',
  'conflict_reason',
  'source',
  'clock_uncertainty_ms',
  'gate',
  'device_id',
  'device',
  'staff',
  'ticket_number',
  'holder_name',
  'scan_id',
] as const;

/**
 * A CSV cell, safe to open in a spreadsheet: a text starting with `=`, `+`,
 * `-`, `@`, a tab or a carriage return would be read as a formula (OWASP's
 * CSV injection), so it is prefixed with `'`; any cell with a comma, quote or
 * line break is quoted (RFC 4180). Names come from organisers and staff.
 */
export function csvCell(value: string | number | null): string {
  if (value === null) return '';
  let text = String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

const encodeCursor = (p: ScanLogPosition): string => Buffer.from(JSON.stringify([p.at, p.id])).toString('base64url');
function decodeCursor(cursor: string): ScanLogPosition {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [unknown, unknown];
    if (
      typeof at === 'string' &&
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/.test(at) &&
      typeof id === 'string' &&
      /^[0-9a-f-]{36}$/.test(id)
    )
      return { at, id };
  } catch {
    /* answered below */
  }
  throw invalid('cursor is not one this server gave; start again without it');
}

/**
 * Every scan of an event, filtered, for organisers: pages for the console and
 * a streamed CSV export. Read-only; scanning never waits on it (plain reads,
 * no locks).
 */
export class ScanLogService {
  constructor(
    private readonly db: Database,
    private readonly events: EventService,
  ) {}

  async page(
    organisationId: string,
    eventId: string,
    q: ScanExportQuery & { cursor?: string; limit?: string },
  ): Promise<ScanLogPage> {
    const ctx = await this.events.get(organisationId, eventId);
    const limit = Number(q.limit ?? 200);
    if (limit < 1 || limit > 1000) throw invalid('limit must be between 1 and 1000');
    const rows = await listScanLog(
      this.db,
      eventId,
      filterOf(ctx, q),
      q.cursor ? decodeCursor(q.cursor) : null,
      limit + 1,
    );
    const page = rows.slice(0, limit);
    return {
      scans: page.map((r) => rowView(ctx, r)),
      next_cursor: rows.length > limit ? encodeCursor(page.at(-1)!.position) : null,
    };
  }

  /**
   * The CSV export: checks the event and the filters first (so a bad request
   * is a 400, not a broken download), then yields the file in chunks of one
   * statement's rows. The consumer pulls: with `Readable.from`, the next
   * statement runs only when the socket has taken the previous chunk, so a
   * slow download holds one chunk, never the whole log.
   */
  async export(
    organisationId: string,
    eventId: string,
    q: ScanExportQuery,
  ): Promise<{ filename: string; chunks: AsyncIterable<string> }> {
    const ctx = await this.events.get(organisationId, eventId);
    const filter = filterOf(ctx, q);
    const fmt = isoInZone(ctx.event.timezone);
    const gateName = (id: string | null): string | null => (id ? (ctx.gates.get(id)?.name ?? null) : null);
    const db = this.db;
    async function* chunks(): AsyncGenerator<string> {
      // A byte order mark: spreadsheets then read the file as UTF-8 (names with accents).
      yield `\ufeff${CSV_COLUMNS.join(',')}\r\n`;
      let after: ScanLogPosition | null = null;
      for (;;) {
        const rows = await listScanLog(db, eventId, filter, after, EXPORT_PAGE);
        if (rows.length === 0) return;
        let out = '';
        for (const r of rows) {
          out +=
            [
              fmt(r.scannedAt),
              fmt(r.receivedAt),
              Math.round((r.receivedAt - r.scannedAt) / 1000),
              r.direction,
              r.verdict,
              r.result,
              r.reason,
              r.conflictReason,
              r.source,
              r.clockUncertaintyMs,
              gateName(r.gateId),
              r.deviceId,
              r.deviceName,
              r.staffName,
              r.ticketNumber,
              r.holderName,
              r.id,
            ]
              .map(csvCell)
              .join(',') + '\r\n';
        }
        yield out;
        if (rows.length < EXPORT_PAGE) return;
        after = rows.at(-1)!.position;
      }
    }
    const safeName =
      ctx.event.name
        .replace(/[^A-Za-z0-9_-]+/g, '-')
        .replace(/^-+|-+$/g, '')
        .slice(0, 60) || 'event';
    return { filename: `scans-${safeName}.csv`, chunks: chunks() };
  }
}

function filterOf(ctx: EventContext, q: ScanExportQuery): ScanLogFilter {
  const time = (field: 'from' | 'to'): number | null => {
    const text = q[field];
    if (text === undefined) return null;
    const at = parseEventTime(text, ctx.event.timezone);
    if (at === null) throw invalid(`${field} is not a time`);
    return at;
  };
  return {
    from: time('from'),
    to: time('to'),
    gateId: q.gate_id?.toLowerCase() ?? null,
    deviceId: q.device_id ?? null,
    staffId: q.staff_id?.toLowerCase() ?? null,
    direction: q.direction ?? null,
    verdict: q.verdict ?? null,
    result: q.result ?? null,
    reason: q.reason ?? null,
    source: q.source ?? null,
    conflictsOnly: q.conflicts === 'true',
  };
}

function rowView(ctx: EventContext, r: ScanLogRecord): ScanLogRow {
  return {
    id: r.id,
    scanned_at: new Date(r.scannedAt).toISOString(),
    received_at: new Date(r.receivedAt).toISOString(),
    direction: r.direction as 'entry' | 'exit',
    result: r.result,
    reason: r.reason,
    verdict: r.verdict,
    conflict_reason: r.conflictReason,
    source: r.source as 'online' | 'offline',
    clock_uncertainty_ms: r.clockUncertaintyMs,
    gate: r.gateId ? { id: r.gateId, name: ctx.gates.get(r.gateId)?.name ?? null } : null,
    device: { id: r.deviceId, name: r.deviceName },
    staff: r.staffId ? { id: r.staffId, name: r.staffName } : null,
    // Holder names: every organiser role reads them on the ticket routes (GET /tickets/:id, search), so the log shows them alike.
    ticket: r.ticketId ? { id: r.ticketId, number: r.ticketNumber, holder_name: r.holderName } : null,
  };
}
