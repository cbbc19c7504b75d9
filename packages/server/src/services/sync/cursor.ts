import { createHmac, timingSafeEqual } from 'node:crypto';
import { deriveKey } from '../../crypto/seal.ts';

/**
 * Opaque, authenticated positions in an event's change stream. A position is
 * a transaction id (xid8, as text) plus, for the download feed, the kind and
 * id of the last item served inside that transaction. Clients cannot forge or
 * move them; a cursor for another event or stream is rejected.
 */
export interface Position {
  tx: string;
  kind: 0 | 1;
  id: string;
}

export const NIL_UUID = '00000000-0000-0000-0000-000000000000';
export const MAX_UUID = 'ffffffff-ffff-ffff-ffff-ffffffffffff';

export class Cursors {
  private readonly key: Buffer;
  constructor(serverSecret: Buffer) {
    this.key = deriveKey(serverSecret, 'cursors');
  }

  encode(stream: 'manifest' | 'feed', eventId: string, pos: Position): string {
    const body = Buffer.from(JSON.stringify([1, stream, eventId, pos.tx, pos.kind, pos.id])).toString('base64url');
    return `${body}.${this.mac(body)}`;
  }

  /** The position, or null when the cursor is not one of ours for this stream and event. */
  decode(stream: 'manifest' | 'feed', eventId: string, cursor: string): Position | null {
    const [body, mac] = cursor.split('.');
    if (!body || !mac || mac.length !== 22) return null;
    const expected = Buffer.from(this.mac(body));
    // 22 characters are not 22 bytes when some are not ASCII: timingSafeEqual throws on unequal lengths.
    const given = Buffer.from(mac);
    if (given.length !== expected.length || !timingSafeEqual(expected, given)) return null;
    try {
      const [v, s, e, tx, kind, id] = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as [
        number,
        string,
        string,
        string,
        number,
        string,
      ];
      if (v !== 1 || s !== stream || e !== eventId || !/^\d{1,20}$/.test(tx) || (kind !== 0 && kind !== 1)) return null;
      return { tx, kind, id };
    } catch {
      return null;
    }
  }

  private mac(body: string): string {
    return createHmac('sha256', this.key).update(body).digest().subarray(0, 16).toString('base64url');
  }
}
