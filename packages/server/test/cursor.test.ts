import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Cursors } from '../src/services/sync/cursor.ts';

describe('cursors', () => {
  const cursors = new Cursors(randomBytes(32));
  const eventId = '7f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f';
  const cursor = cursors.encode('feed', eventId, { tx: '12345', kind: 1, id: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b' });

  it('reads back its own cursor, for its stream and event only', () => {
    expect(cursors.decode('feed', eventId, cursor)).toEqual({
      tx: '12345',
      kind: 1,
      id: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b',
    });
    expect(cursors.decode('manifest', eventId, cursor)).toBeNull();
    expect(cursors.decode('feed', '00000000-0000-4000-8000-000000000000', cursor)).toBeNull();
    expect(new Cursors(randomBytes(32)).decode('feed', eventId, cursor)).toBeNull();
  });

  it('refuses, without throwing, a MAC as long as a real one in characters but not in bytes', () => {
    // 22 characters of two bytes each: a length check in characters passes, a comparison of bytes would throw (a 500, found by the API fuzz test).
    const [body] = cursor.split('.');
    expect(cursors.decode('feed', eventId, `${body}.${'é'.repeat(22)}`)).toBeNull();
    expect(cursors.decode('feed', eventId, `${body}.${'x'.repeat(21)}`)).toBeNull();
    expect(cursors.decode('feed', eventId, `${body}.`)).toBeNull();
    expect(cursors.decode('feed', eventId, 'not a cursor')).toBeNull();
  });
});
