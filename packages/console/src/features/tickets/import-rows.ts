/**
 * CSV rows to tickets: the column mapping, and every row's errors found before anything
 * is written (the server's own schema, NewTicket, plus the ticket type by name and
 * numbers or codes repeated within the file). Pure: unit-tested without a browser.
 */
import { NewTicket } from '@entrada/core';
import { Value } from 'typebox/value';

export interface Mapping {
  number: number | null;
  holder_name: number | null;
  code: number | null;
  type: number | null;
}
export interface RowError {
  line: number;
  message: string;
}
export interface Prepared {
  tickets: NewTicket[];
  errors: RowError[];
}

const GUESS: Record<keyof Mapping, RegExp> = {
  number: /^(ticket[ _-]?)?(number|no|nr|#)$/i,
  holder_name: /^(holder|name|holder[ _-]?name|attendee|guest)$/i,
  code: /^(code|barcode|qr|ticket[ _-]?code)$/i,
  type: /^(type|ticket[ _-]?type|tier|category)$/i,
};

/** Columns named like our fields are mapped at once; the rest is left to the organiser. */
export function guessMapping(headers: readonly string[]): Mapping {
  const find = (re: RegExp): number | null => {
    const i = headers.findIndex((h) => re.test(h.trim()));
    return i < 0 ? null : i;
  };
  return {
    number: find(GUESS.number),
    holder_name: find(GUESS.holder_name),
    code: find(GUESS.code),
    type: find(GUESS.type),
  };
}

/**
 * `line` numbers count the header as line 1, as a spreadsheet shows them.
 * `types` maps ticket type names (any case) to ids; `defaultType` is used when no type column is mapped.
 */
export function prepareRows(
  rows: readonly string[][],
  mapping: Mapping,
  types: ReadonlyMap<string, string>,
  defaultType: string | null,
): Prepared {
  const tickets: NewTicket[] = [];
  const errors: RowError[] = [];
  const numbers = new Map<string, number>();
  const codes = new Map<string, number>();
  const byName = new Map([...types].map(([name, id]) => [name.trim().toLowerCase(), id]));
  const cell = (row: readonly string[], i: number | null): string => (i === null ? '' : (row[i] ?? '').trim());
  rows.forEach((row, index) => {
    const line = index + 2;
    const problems: string[] = [];
    let typeId = defaultType;
    if (mapping.type !== null) {
      const name = cell(row, mapping.type);
      typeId = byName.get(name.toLowerCase()) ?? null;
      if (!typeId)
        problems.push(name ? `ticket type "${name}" does not exist in this event` : 'the ticket type is empty');
    } else if (!typeId) {
      problems.push('no ticket type chosen');
    }
    const t: NewTicket = { ticket_type_id: typeId ?? '00000000-0000-0000-0000-000000000000' };
    const number = cell(row, mapping.number);
    const holder = cell(row, mapping.holder_name);
    const code = cell(row, mapping.code);
    if (mapping.number !== null) {
      if (number === '') problems.push('the ticket number is empty');
      else t.number = number;
    }
    if (holder !== '') t.holder_name = holder;
    if (mapping.code !== null) {
      if (code === '') problems.push('the code is empty');
      else t.code = code;
    }
    if (problems.length === 0 && !Value.Check(NewTicket, t)) {
      for (const e of Value.Errors(NewTicket, t)) {
        const field = String((e as { instancePath?: string }).instancePath ?? '').replace(/^\//, '');
        const label =
          field === 'number'
            ? 'the ticket number'
            : field === 'holder_name'
              ? 'the holder name'
              : field === 'code'
                ? 'the code'
                : field;
        problems.push(`${label} is too long or not allowed`);
        break;
      }
    }
    if (t.number) {
      const first = numbers.get(t.number);
      if (first !== undefined) problems.push(`ticket number ${t.number} is already on line ${first}`);
      else numbers.set(t.number, line);
    }
    if (t.code) {
      const first = codes.get(t.code);
      if (first !== undefined) problems.push(`this code is already on line ${first}`);
      else codes.set(t.code, line);
    }
    if (problems.length) errors.push({ line, message: problems.join('; ') });
    else tickets.push(t);
  });
  return { tickets, errors };
}
