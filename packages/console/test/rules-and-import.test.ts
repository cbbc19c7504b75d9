/** Pure pieces of the console: ticket-type rules in words, CSV rows to tickets, form errors that name the field. */
import { CreateEventBody, CreateZoneBody } from '@entrada/core';
import { describe, expect, it } from 'vitest';
import { guessMapping, prepareRows } from '../src/features/tickets/import-rows.ts';
import { describeTicketType } from '../src/lib/ticket-type-words.ts';
import { dateTime, fromLocalInput, toLocalInput } from '../src/lib/time.ts';
import { validate } from '../src/lib/validate.ts';

const zones = new Map([
  ['z1', 'Main'],
  ['z2', 'VIP'],
]);
const base = { max_scans: 1, allow_reentry: false, valid_from: null, valid_until: null, zone_ids: ['z1'] };

describe('ticket type rules in words', () => {
  it("writes the example of the issue, in the event's time zone", () => {
    // 08:00Z and 21:00Z on Saturday 15 June 2030 are 10:00 and 23:00 in Amsterdam (summer time).
    expect(
      describeTicketType(
        {
          ...base,
          allow_reentry: true,
          valid_from: '2030-06-15T08:00:00Z',
          valid_until: '2030-06-15T21:00:00Z',
          zone_ids: ['z1', 'z2'],
        },
        zones,
        'Europe/Amsterdam',
      ),
    ).toBe('one entry; re-entry after exit; valid Sat 10:00–23:00; zones Main, VIP');
  });
  it('says several entries, open windows and days apart', () => {
    expect(describeTicketType({ ...base, max_scans: 3 }, zones, 'UTC')).toBe(
      'three entries; no re-entry; valid the whole event; zone Main',
    );
    expect(
      describeTicketType({ ...base, max_scans: 25, valid_from: '2030-06-14T08:00:00Z' }, zones, 'Europe/Amsterdam'),
    ).toBe('25 entries; no re-entry; valid from Fri 10:00; zone Main');
    expect(
      describeTicketType(
        { ...base, valid_from: '2030-06-14T08:00:00Z', valid_until: '2030-06-16T21:00:00Z' },
        zones,
        'Europe/Amsterdam',
      ),
    ).toBe('one entry; no re-entry; valid Fri 10:00 – Sun 23:00; zone Main');
  });
});

describe('event times', () => {
  it("round-trips a datetime-local value through the event's zone, whatever the browser's", () => {
    const iso = fromLocalInput('2030-06-14T10:00', 'Europe/Amsterdam');
    expect(iso).toBe('2030-06-14T08:00:00.000Z');
    expect(toLocalInput(iso, 'Europe/Amsterdam')).toBe('2030-06-14T10:00');
    expect(dateTime(iso, 'America/New_York')).toBe('Fri 2030-06-14 04:00');
  });
});

describe('CSV rows to tickets', () => {
  const T1 = '11111111-1111-4111-8111-111111111111';
  const T2 = '22222222-2222-4222-8222-222222222222';
  const types = new Map([
    ['Weekend', T1],
    ['VIP', T2],
  ]);
  it('guesses the mapping from the header names', () => {
    expect(guessMapping(['Ticket Number', 'Name', 'Ticket type', 'Barcode'])).toEqual({
      number: 0,
      holder_name: 1,
      type: 2,
      code: 3,
    });
    expect(guessMapping(['a', 'b'])).toEqual({ number: null, holder_name: null, code: null, type: null });
  });
  it('finds every bad row before anything is written, with its line as a spreadsheet shows it', () => {
    const rows = [
      ['1', 'Ada', 'weekend'],
      ['2', 'Bob', 'Backstage'],
      ['1', 'Cy', 'VIP'],
      ['', 'Di', 'VIP'],
      ['5', 'x'.repeat(201), 'VIP'],
    ];
    const r = prepareRows(rows, { number: 0, holder_name: 1, code: null, type: 2 }, types, null);
    expect(r.tickets).toEqual([{ ticket_type_id: T1, number: '1', holder_name: 'Ada' }]);
    expect(r.errors).toEqual([
      { line: 3, message: 'ticket type "Backstage" does not exist in this event' },
      { line: 4, message: 'ticket number 1 is already on line 2' },
      { line: 5, message: 'the ticket number is empty' },
      { line: 6, message: 'the holder name is too long or not allowed' },
    ]);
  });
  it('uses one type for every row when no type column is mapped', () => {
    const r = prepareRows([['Ada'], ['Bob']], { number: null, holder_name: 0, code: null, type: null }, types, T2);
    expect(r.errors).toEqual([]);
    expect(r.tickets.map((t) => t.ticket_type_id)).toEqual([T2, T2]);
  });
});

describe("form errors in words, from the server's schemas", () => {
  it('names the field', () => {
    expect(validate(CreateZoneBody, { name: '', capacity: -1 }, { name: 'Zone name', capacity: 'Capacity' })).toEqual({
      name: 'Zone name cannot be empty.',
      capacity: 'Capacity must be 0 or more.',
    });
    expect(validate(CreateEventBody, { name: 'X' }, { starts_at: 'Starts', ends_at: 'Ends' })).toEqual({
      starts_at: 'Starts is needed.',
      ends_at: 'Ends is needed.',
    });
    expect(validate(CreateZoneBody, { name: 'Main', capacity: 10 }, {})).toEqual({});
  });
});
