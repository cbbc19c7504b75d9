import { createReadStream } from 'node:fs';
import { parse, type CsvError } from 'csv-parse';
import { MAX_CODE_LENGTH, parseScannedCode, type NewTicket } from '@entrada/core';
import { count } from './format.ts';

export interface Problem {
  line: number;
  message: string;
}

export interface TicketFile {
  tickets: NewTicket[];
  /** CSV line of each ticket, to point at the row the server complains about. */
  lines: number[];
  problems: Problem[];
  importedCodes: number;
}

export interface TicketTypeRef {
  id: string;
  name: string;
}

const COLUMNS = ['ticket_type', 'code', 'number', 'holder_name'] as const;
type Column = (typeof COLUMNS)[number];

// Mirrors the NewTicket schema in @entrada/core, so a file that passes here is not rejected batch by batch.
const MAX_NUMBER_LENGTH = 64;
const MAX_HOLDER_LENGTH = 200;

const normalizeHeader = (h: string): string =>
  h
    .trim()
    .toLowerCase()
    .replace(/[\s-]+/g, '_');

/** Maps what a CSV says (a name in any case, or an id) to a ticket type id. */
export function ticketTypeResolver(types: TicketTypeRef[]): (value: string) => string | undefined {
  const byKey = new Map<string, string>();
  const byLowerName = new Map<string, string | null>();
  for (const t of types) {
    byKey.set(t.id.toLowerCase(), t.id);
    byKey.set(t.name, t.id);
    const lower = t.name.trim().toLowerCase();
    // Two types differing only in case are ambiguous without the exact spelling.
    byLowerName.set(lower, byLowerName.has(lower) ? null : t.id);
  }
  return (value) =>
    byKey.get(value) ?? byKey.get(value.toLowerCase()) ?? byLowerName.get(value.toLowerCase()) ?? undefined;
}

/**
 * Streams the file through csv-parse and checks every row against what the
 * server would reject, so a bad file is refused whole instead of failing at
 * batch 7 of 20.
 */
export async function readTicketCsv(file: string, types: TicketTypeRef[]): Promise<TicketFile> {
  const resolve = ticketTypeResolver(types);
  const typeNames = types.map((t) => t.name).join(', ') || '(none: add ticket types to the event first)';
  const result: TicketFile = { tickets: [], lines: [], problems: [], importedCodes: 0 };
  const problem = (line: number, message: string): void => void result.problems.push({ line, message });
  const codeLines = new Map<string, number>();
  const numberLines = new Map<string, number>();
  let index: Partial<Record<Column, number>> | null = null;

  const parser = createReadStream(file).pipe(
    parse({
      bom: true,
      info: true,
      skip_empty_lines: true,
      skip_records_with_error: true,
      on_skip: (err: CsvError | undefined) => {
        if (err) problem(Number(err.lines) || 0, `malformed CSV: ${err.message.replace(/ (?:on|at) line \d+/, '')}`);
      },
    }),
  );

  for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
    // csv-parse reports the line a record ends on; a quoted field may span lines.
    const line = info.lines - record.reduce((n, f) => n + (f.match(/\r\n|\r|\n/g)?.length ?? 0), 0);
    if (index === null) {
      index = readHeader(record, problem);
      continue;
    }
    const cell = (c: Column): string => {
      const i = index?.[c];
      return i === undefined ? '' : (record[i] ?? '').trim();
    };

    const ticket: NewTicket = { ticket_type_id: '' };
    // A missing ticket_type column is reported once, on the header, not on every row.
    if (index.ticket_type !== undefined) {
      const typeText = cell('ticket_type');
      const typeId = typeText === '' ? undefined : resolve(typeText);
      if (typeText === '') problem(line, 'ticket_type is empty');
      else if (!typeId) problem(line, `unknown ticket type "${typeText}" (this event has: ${typeNames})`);
      else ticket.ticket_type_id = typeId;
    }

    const rawCode = index.code === undefined ? '' : (record[index.code] ?? '');
    if (rawCode.trim() !== '') {
      const parsed = parseScannedCode(rawCode);
      if (parsed.kind === 'invalid') {
        problem(
          line,
          parsed.reason === 'too_long'
            ? `code is ${count(rawCode.trim().length)} characters long; the maximum is ${MAX_CODE_LENGTH}`
            : `code is not usable (${parsed.reason.replaceAll('_', ' ')})`,
        );
      } else if (parsed.kind === 'signed') {
        problem(line, 'code looks like an Entrada-signed code; leave code empty to have Entrada issue one');
      } else {
        const twin = codeLines.get(parsed.code);
        if (twin !== undefined) problem(line, `code "${parsed.code}" repeats line ${twin}`);
        else codeLines.set(parsed.code, line);
        ticket.code = parsed.code;
        result.importedCodes++;
      }
    }

    const number = cell('number');
    if (number !== '') {
      const twin = numberLines.get(number);
      if (number.length > MAX_NUMBER_LENGTH)
        problem(line, `number is ${number.length} characters long; the maximum is ${MAX_NUMBER_LENGTH}`);
      else if (twin !== undefined) problem(line, `number "${number}" repeats line ${twin}`);
      else numberLines.set(number, line);
      ticket.number = number;
    }

    const holder = cell('holder_name');
    if (holder.length > MAX_HOLDER_LENGTH)
      problem(line, `holder_name is ${holder.length} characters long; the maximum is ${MAX_HOLDER_LENGTH}`);
    if (holder !== '') ticket.holder_name = holder;

    result.tickets.push(ticket);
    result.lines.push(line);
  }
  if (index === null) problem(1, `the file is empty; expected a header row such as "${COLUMNS.join(',')}"`);
  result.problems.sort((a, b) => a.line - b.line);
  return result;
}

function readHeader(
  record: string[],
  problem: (line: number, message: string) => void,
): Partial<Record<Column, number>> {
  const index: Partial<Record<Column, number>> = {};
  record.forEach((raw, i) => {
    const name = normalizeHeader(raw);
    if (!(COLUMNS as readonly string[]).includes(name)) {
      problem(1, `unknown column "${raw}" (expected ${COLUMNS.join(', ')})`);
    } else if (index[name as Column] !== undefined) {
      problem(1, `column "${name}" appears twice`);
    } else {
      index[name as Column] = i;
    }
  });
  if (index.ticket_type === undefined)
    problem(1, 'the header has no ticket_type column (required: a ticket type name or id)');
  return index;
}
