import { describe, expect, it } from 'vitest';
import { ARCHIVE_ANSWERED_AFTER_MS, enforceStorageLimits, META_ARCHIVED } from '../src/storage-limits.ts';
import { MemoryStore } from '../src/storage/memory-store.ts';
import { Scanner } from '../src/scanner.ts';
import { fakeScan } from './store-contract.ts';

const EVENT = '33333333-3333-4333-8333-333333333333';
const DAY = 86_400_000;

describe('storage limits after a sync', () => {
  it('archives answered failed/conflict scans 30 days after they were scanned, keeps a count, and never touches a pending one', async () => {
    const store = new MemoryStore();
    const t0 = 1_000_000_000_000;
    // seq 1–4 scanned at t0 + seq; seq 5 forty days later (the newest).
    for (let i = 0; i < 4; i++) await store.appendScan(EVENT, (n) => fakeScan(n, { scannedAt: t0 + n.seq }));
    await store.appendScan(EVENT, (n) => fakeScan(n, { scannedAt: t0 + 40 * DAY }));
    const answer = (seq: number, syncStatus: 'failed' | 'conflict' | 'synced') => ({
      seq,
      syncStatus,
      verdict: syncStatus,
      reason: null,
      message: 'm',
      ambiguous: false,
    });
    await store.acknowledge(EVENT, 0, [answer(1, 'failed'), answer(2, 'conflict'), answer(3, 'synced')]);
    // seq 4 never answered: pending.

    // 29 days on: nothing is old enough.
    expect(await enforceStorageLimits(store, EVENT, { now: t0 + 29 * DAY, keep: 100 })).toBe(0);
    expect(await store.getMeta(META_ARCHIVED(EVENT))).toBeUndefined();
    // Past 30 days: the failed and the conflicting scan go, counted; the admitted and the pending one stay.
    expect(await enforceStorageLimits(store, EVENT, { now: t0 + ARCHIVE_ANSWERED_AFTER_MS + 10, keep: 100 })).toBe(2);
    expect((await store.all(EVENT)).map((s) => s.seq)).toEqual([3, 4, 5]);
    expect(await store.getMeta(META_ARCHIVED(EVENT))).toEqual({
      count: 2,
      lastAt: t0 + ARCHIVE_ANSWERED_AFTER_MS + 10,
    });
    expect((await store.pending(EVENT, 10)).map((s) => s.seq)).toEqual([4, 5]);
    const scanner = new Scanner({
      store,
      baseUrl: 'http://127.0.0.1:9',
      eventId: EVENT,
      device: { deviceId: 'd', token: 't' },
      probeConnectivity: false,
    });
    expect(await scanner.archivedCount()).toBe(2);
  });
});
