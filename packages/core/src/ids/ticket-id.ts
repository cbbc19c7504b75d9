/**
 * Ticket ids are UUIDv8 (RFC 9562) derived from the event's compact ref and the
 * ticket's serial. Offline devices compute a ticket's id from a signed code or
 * a manifest serial, so the manifest does not carry 16 random bytes per ticket,
 * and an id names its event (useful to route look-ups when data is sharded by
 * event). Ids are not secrets: codes are.
 *
 *   bytes 0-3  event ref (uint32, big-endian)
 *   bytes 4-5  0x454e ("EN")
 *   byte 6     0x80 (version 8), byte 7 0x00
 *   byte 8     0x80 | serial bits 56..61 (variant 10), bytes 9-15 serial bits 0..55
 */
const MARKER = '454e';
const ID_PATTERN = /^([0-9a-f]{8})-454e-8000-([89ab][0-9a-f]{3})-([0-9a-f]{12})$/;

export function ticketIdOf(eventRef: number, serial: number): string {
  if (!Number.isInteger(eventRef) || eventRef < 1 || eventRef > 0xffff_ffff)
    throw new RangeError(`eventRef out of range: ${eventRef}`);
  if (!Number.isSafeInteger(serial) || serial < 1) throw new RangeError(`serial out of range: ${serial}`);
  const hex = serial.toString(16).padStart(16, '0');
  const high = (parseInt(hex.slice(0, 2), 16) & 0x3f) | 0x80;
  return `${eventRef.toString(16).padStart(8, '0')}-${MARKER}-8000-${high.toString(16)}${hex.slice(2, 4)}-${hex.slice(4)}`;
}

export function parseTicketId(id: string): { eventRef: number; serial: number } | null {
  const m = ID_PATTERN.exec(id);
  if (!m) return null;
  const eventRef = parseInt(m[1]!, 16);
  const serial = Number(
    BigInt(`0x${(parseInt(m[2]!.slice(0, 2), 16) & 0x3f).toString(16).padStart(2, '0')}${m[2]!.slice(2)}${m[3]}`),
  );
  if (eventRef < 1 || serial < 1 || !Number.isSafeInteger(serial)) return null;
  return { eventRef, serial };
}
