import { describe, expect, it } from 'vitest';
import { SizedLru } from '../src/cache/sized-lru.ts';

describe('SizedLru', () => {
  it('keeps at most its capacity in bytes, evicting the least recently used', () => {
    const lru = new SizedLru<string, Buffer>(10, (b) => b.length);
    lru.set('a', Buffer.alloc(4));
    lru.set('b', Buffer.alloc(4));
    expect(lru.get('a')?.length).toBe(4); // a is now the most recent
    lru.set('c', Buffer.alloc(4));
    expect(lru.peek('b')).toBeUndefined();
    expect([lru.peek('a')?.length, lru.peek('c')?.length]).toEqual([4, 4]);
    expect(lru.bytes).toBe(8);
    // Replacing an entry counts only the new value.
    lru.set('a', Buffer.alloc(2));
    expect(lru.bytes).toBe(6);
    // One large value pushes out several small ones.
    lru.set('d', Buffer.alloc(9));
    expect([lru.size, lru.bytes]).toEqual([1, 9]);
  });

  it('does not keep a value larger than the whole capacity, and drops the old value under its key', () => {
    const lru = new SizedLru<string, Buffer>(10, (b) => b.length);
    lru.set('a', Buffer.alloc(3));
    lru.set('a', Buffer.alloc(11));
    expect(lru.peek('a')).toBeUndefined();
    expect([lru.size, lru.bytes]).toEqual([0, 0]);
    lru.set('b', Buffer.alloc(5));
    lru.delete('b');
    expect(lru.bytes).toBe(0);
  });
});
