import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseTicketId, ticketIdOf } from '../src/index.ts';

describe('derived ticket ids', () => {
  it('is a valid UUIDv8 naming the event and serial', () => {
    const id = ticketIdOf(4242, 123456);
    expect(id).toBe('00001092-454e-8000-8000-00000001e240');
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(parseTicketId(id)).toEqual({ eventRef: 4242, serial: 123456 });
  });

  it('round-trips every event ref and safe serial', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 0xffff_ffff }),
        fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
        (ref, serial) => {
          expect(parseTicketId(ticketIdOf(ref, serial))).toEqual({ eventRef: ref, serial });
        },
      ),
    );
  });

  it('does not parse random UUIDs or garbage', () => {
    expect(parseTicketId('7beeb7de-7a24-4ebc-a365-717554dcf42c')).toBeNull();
    expect(parseTicketId('nonsense')).toBeNull();
    expect(() => ticketIdOf(0, 1)).toThrow(RangeError);
    expect(() => ticketIdOf(1, 0)).toThrow(RangeError);
  });
});
