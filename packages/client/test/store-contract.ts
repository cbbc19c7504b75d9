/**
 * One conformance suite for every ClientStore implementation. `open` must return
 * a store over the same persistent data each time it is called (a reopen after a
 * crash); `fresh` must start empty.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ManifestHeader, ManifestTicket } from '../src/manifest-types.ts';
import type { ClientStore, NextSlot, OutboxScan } from '../src/storage/types.ts';

export interface StoreFactory {
  /** A new, empty storage location; `open()` opens (or reopens) a store on it. */
  fresh(): Promise<{ open(): Promise<ClientStore> }>;
}

const EVENT = '11111111-1111-4111-8111-111111111111';
const OTHER = '22222222-2222-4222-8222-222222222222';

export function fakeScan(slot: NextSlot, extra: Partial<OutboxScan> = {}): OutboxScan {
  const prevLink = slot.prevLink ?? 'genesis';
  return {
    seq: slot.seq,
    prevLink,
    link: `${prevLink}>${slot.seq}`,
    scanId: null,
    qrcode: `CODE-${slot.seq}`,
    scannedAt: 1_000 + slot.seq,
    direction: 'entry',
    gateId: null,
    localResult: 'valid',
    localReason: 'admitted',
    ticketId: `t${slot.seq % 3}`,
    synced: false,
    ...extra,
  };
}

export function header(cursor = 'c0'): ManifestHeader {
  return {
    event_id: EVENT,
    event: { id: EVENT, ref: 7, name: 'E', timezone: 'UTC', starts_at: null, ends_at: null },
    generated_at: '2026-01-01T00:00:00.000Z',
    expires_at: '2026-01-01T12:00:00.000Z',
    cursor,
    full: true,
    policies: { duplicate_window_s: 5, default_allow_reentry: false, holder_names: false, timezone: 'UTC' },
    gates: [],
    zones: [],
    ticket_types: [],
    keys: [],
    code_digest: { algorithm: 'hmac-sha256', bytes: 8, key: 'AAAA' },
  };
}

function ticket(id: string, scans = 0): ManifestTicket {
  return { ticket_id: id, serial: 1, current_scans: scans, inside: false, status: 'valid', type_id: 'ty' };
}

/**
 * The slice of the test API the contract uses. Vitest's by default; the real-browser
 * run (test/browser/) passes a small shim so the same checks run without Vitest.
 */
export interface ContractApi {
  describe: (name: string, fn: () => void) => void;
  it: (name: string, fn: () => Promise<void>) => void;
  expect: typeof expect;
}

const vitestApi: ContractApi = { describe, it, expect };

export function storeContract(name: string, factory: StoreFactory, api: ContractApi = vitestApi): void {
  // Shadows the Vitest imports so the checks below read the same under either API.
  const { describe, it, expect } = api;
  describe(`ClientStore contract: ${name}`, () => {
    it('keeps meta values across a reopen', async () => {
      const loc = await factory.fresh();
      const a = await loc.open();
      await a.setMeta('device', { id: 'd1', token: 'x' });
      await a.setMeta('n', 3);
      expect(await a.getMeta('device')).toEqual({ id: 'd1', token: 'x' });
      await a.close();
      const b = await loc.open();
      expect(await b.getMeta('device')).toEqual({ id: 'd1', token: 'x' });
      expect(await b.getMeta('n')).toBe(3);
      expect(await b.getMeta('missing')).toBeUndefined();
      await b.close();
    });

    it('replaces the manifest whole and merges deltas with their cursors', async () => {
      const loc = await factory.fresh();
      const s = await loc.open();
      expect(await s.loadManifest(EVENT)).toBeUndefined();
      await expect(s.applyManifestDelta(EVENT, [], { refreshedAt: 1 })).rejects.toThrow();
      await s.saveManifest(EVENT, header('c1'), [ticket('a'), ticket('b')], 100);
      await s.applyManifestDelta(
        EVENT,
        [
          { ticket_id: 'a', current_scans: 1, inside: true },
          { ticket_id: 'c', serial: 9, current_scans: 0, inside: false, status: 'valid' },
        ],
        { manifest: 'c2', refreshedAt: 200 },
      );
      await s.applyManifestDelta(EVENT, [], { feed: 'f1', refreshedAt: 300 });
      await s.close();
      const r = await loc.open();
      const m = (await r.loadManifest(EVENT))!;
      expect(m.header.cursor).toBe('c2');
      expect(m.feedCursor).toBe('f1');
      expect(m.refreshedAt).toBe(300);
      expect([...m.tickets.keys()].sort()).toEqual(['a', 'b', 'c']);
      expect(m.tickets.get('a')).toMatchObject({ current_scans: 1, inside: true, type_id: 'ty' });
      // A full manifest replaces every ticket, and keeps the feed cursor.
      await r.saveManifest(EVENT, header('c3'), [ticket('z')], 400);
      const m2 = (await r.loadManifest(EVENT))!;
      expect([...m2.tickets.keys()]).toEqual(['z']);
      expect(m2.header.cursor).toBe('c3');
      expect(m2.feedCursor).toBe('f1');
      expect(await r.loadManifest(OTHER)).toBeUndefined();
      await r.close();
    });

    it('allocates gap-free seqs with chained links, per event', async () => {
      const s = await (await factory.fresh()).open();
      const a1 = await s.appendScan(EVENT, (n) => fakeScan(n));
      const a2 = await s.appendScan(EVENT, (n) => fakeScan(n));
      const b1 = await s.appendScan(OTHER, (n) => fakeScan(n));
      expect([a1.seq, a2.seq, b1.seq]).toEqual([1, 2, 1]);
      expect(a1.prevLink).toBe('genesis');
      expect(a2.prevLink).toBe(a1.link);
      expect(await s.counts(EVENT)).toEqual({ total: 2, pending: 2, synced: 0, lastSeq: 2 });
      await s.close();
    });

    it('rejects a builder that returns another seq, and a throwing builder leaves nothing', async () => {
      const s = await (await factory.fresh()).open();
      await expect(s.appendScan(EVENT, (n) => fakeScan({ ...n, seq: n.seq + 1 }))).rejects.toThrow();
      await expect(
        s.appendScan(EVENT, () => {
          throw new Error('crash before commit');
        }),
      ).rejects.toThrow('crash before commit');
      expect((await s.appendScan(EVENT, (n) => fakeScan(n))).seq).toBe(1);
      await s.close();
    });

    it('gives no duplicate seq to concurrent appends', async () => {
      const s = await (await factory.fresh()).open();
      const made = await Promise.all(Array.from({ length: 40 }, () => s.appendScan(EVENT, (n) => fakeScan(n))));
      expect(made.map((m) => m.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
      const all = await s.all(EVENT);
      expect(all.map((m) => m.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
      for (let i = 1; i < all.length; i++) expect(all[i]!.prevLink).toBe(all[i - 1]!.link);
      await s.close();
    });

    it('acknowledges by keeping scans, marking them synced with the server answer', async () => {
      const s = await (await factory.fresh()).open();
      for (let i = 0; i < 5; i++) await s.appendScan(EVENT, (n) => fakeScan(n, { scannedAt: 10 * n.seq }));
      expect((await s.pending(EVENT, 2)).map((p) => p.seq)).toEqual([1, 2]);
      expect(await s.oldestPendingAt(EVENT)).toBe(10);
      await s.acknowledge(EVENT, 3, [
        {
          seq: 2,
          syncStatus: 'conflict',
          verdict: 'conflict',
          reason: 'already_used',
          message: 'Already used',
          ambiguous: false,
        },
      ]);
      expect((await s.pending(EVENT, 10)).map((p) => p.seq)).toEqual([4, 5]);
      expect(await s.oldestPendingAt(EVENT)).toBe(40);
      expect(await s.counts(EVENT)).toEqual({ total: 5, pending: 2, synced: 3, lastSeq: 5 });
      const all = await s.all(EVENT);
      expect(all[1]).toMatchObject({ synced: true, server: { syncStatus: 'conflict', reason: 'already_used' } });
      expect((await s.scansOfTicket(EVENT, 't1')).map((x) => x.seq)).toEqual([1, 4]);
      await s.acknowledge(EVENT, 5, []);
      expect(await s.pending(EVENT, 10)).toEqual([]);
      expect(await s.oldestPendingAt(EVENT)).toBeNull();
      await s.close();
    });

    it('marks a scan the server answered by itself synced, even above the acknowledged prefix (it is stored past a gap)', async () => {
      const s = await (await factory.fresh()).open();
      for (let i = 0; i < 4; i++) await s.appendScan(EVENT, (n) => fakeScan(n, { scannedAt: 10 * n.seq }));
      await s.acknowledge(EVENT, 1, [
        { seq: 3, syncStatus: 'synced', verdict: 'admitted', reason: null, message: 'Synced', ambiguous: false },
      ]);
      expect((await s.pending(EVENT, 10)).map((p) => p.seq)).toEqual([2, 4]);
      expect(await s.counts(EVENT)).toEqual({ total: 4, pending: 2, synced: 2, lastSeq: 4 });
      expect((await s.all(EVENT))[2]).toMatchObject({ synced: true, server: { syncStatus: 'synced' } });
      await s.close();
    });

    it('prunes the oldest acknowledged scans to a limit, never a pending one nor the newest, and the chain goes on', async () => {
      const loc = await factory.fresh();
      const s = await loc.open();
      for (let i = 0; i < 8; i++) await s.appendScan(EVENT, (n) => fakeScan(n));
      await s.acknowledge(EVENT, 6, []);
      expect(await s.pruneSynced(EVENT, 2)).toBe(4);
      expect((await s.all(EVENT)).map((x) => x.seq)).toEqual([5, 6, 7, 8]);
      expect(await s.counts(EVENT)).toEqual({ total: 4, pending: 2, synced: 2, lastSeq: 8 });
      expect(await s.pruneSynced(EVENT, 2)).toBe(0);
      await s.acknowledge(EVENT, 8, []);
      // Everything acknowledged and nothing to keep: the newest scan stays, its link is where the chain continues.
      expect(await s.pruneSynced(EVENT, 0)).toBe(3);
      expect((await s.all(EVENT)).map((x) => x.seq)).toEqual([8]);
      const reopened = await loc.open();
      expect((await reopened.all(EVENT)).map((x) => x.seq)).toEqual([8]);
      const next = await reopened.appendScan(EVENT, (n) => fakeScan(n));
      expect(next.seq).toBe(9);
      expect(next.prevLink).toBe((await reopened.all(EVENT))[0]!.link);
      await reopened.close();
      await s.close().catch(() => undefined);
    });

    it('archives failed and conflicting scans the server answered once older than the cutoff — never a pending, refused, admitted or the newest one', async () => {
      const loc = await factory.fresh();
      const s = await loc.open();
      // seq n scanned at 1000 + n; the cutoff 1008 makes seqs 1–7 old enough.
      for (let i = 0; i < 9; i++) await s.appendScan(EVENT, (n) => fakeScan(n));
      const answer = (seq: number, syncStatus: 'synced' | 'conflict' | 'failed', reason: string | null = null) => ({
        seq,
        syncStatus,
        verdict: syncStatus === 'synced' ? 'admitted' : syncStatus,
        reason,
        message: 'm',
        ambiguous: false,
      });
      await s.acknowledge(EVENT, 0, [
        answer(1, 'failed', 'unknown_code'),
        answer(2, 'synced'),
        answer(3, 'conflict', 'already_used'),
        // Refused by name: the server never stored it, so it stays however old.
        answer(5, 'failed', 'refused'),
        answer(6, 'failed', 'unknown_code'),
        answer(8, 'failed', 'unknown_code'),
        answer(9, 'conflict'),
      ]);
      // seq 4 and 7: still pending (no answer) — never archived. seq 8: answered but too young. seq 9: the newest scan.
      expect(await s.archiveAnswered(EVENT, 1_008)).toBe(3);
      expect((await s.all(EVENT)).map((x) => x.seq)).toEqual([2, 4, 5, 7, 8, 9]);
      expect((await s.pending(EVENT, 10)).map((x) => x.seq)).toEqual([4, 7]);
      expect(await s.archiveAnswered(EVENT, 1_008)).toBe(0);
      expect(await s.archiveAnswered(EVENT, 10_000)).toBe(1);
      const reopened = await loc.open();
      expect((await reopened.all(EVENT)).map((x) => x.seq)).toEqual([2, 4, 5, 7, 9]);
      const next = await reopened.appendScan(EVENT, (n) => fakeScan(n));
      expect(next).toMatchObject({ seq: 10, prevLink: (await reopened.all(EVENT)).at(-2)!.link });
      await reopened.close();
      await s.close().catch(() => undefined);
    });

    it('survives a crash mid-way: reopening keeps every committed scan and ack and continues the seqs', async () => {
      const loc = await factory.fresh();
      const a = await loc.open();
      for (let i = 0; i < 3; i++) await a.appendScan(EVENT, (n) => fakeScan(n));
      await a.acknowledge(EVENT, 2, []);
      const lost = a.appendScan(EVENT, () => {
        throw new Error('power cut');
      });
      await expect(lost).rejects.toThrow();
      // No close(): the process "died". A second instance opens the same data.
      const b = await loc.open();
      expect(await b.counts(EVENT)).toEqual({ total: 3, pending: 1, synced: 2, lastSeq: 3 });
      const next = await b.appendScan(EVENT, (n) => fakeScan(n));
      expect(next.seq).toBe(4);
      expect(next.prevLink).toBe((await b.all(EVENT))[2]!.link);
      await b.close();
      await a.close().catch(() => undefined);
    });

    it('never gaps or reuses a seq under random appends, acks and crashes (fast-check)', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(
            fc.oneof(
              fc.record({ op: fc.constant('append' as const), n: fc.integer({ min: 1, max: 4 }), fail: fc.boolean() }),
              fc.record({ op: fc.constant('ack' as const), upTo: fc.nat({ max: 30 }) }),
              fc.record({ op: fc.constant('crash' as const) }),
            ),
            { maxLength: 12 },
          ),
          async (ops) => {
            const loc = await factory.fresh();
            let store = await loc.open();
            const open: ClientStore[] = [store];
            let committed = 0;
            let acked = 0;
            for (const o of ops) {
              if (o.op === 'append') {
                const results = await Promise.allSettled(
                  Array.from({ length: o.n }, (_, i) =>
                    store.appendScan(EVENT, (n) => {
                      if (o.fail && i === 0) throw new Error('crash before commit');
                      return fakeScan(n);
                    }),
                  ),
                );
                committed += results.filter((r) => r.status === 'fulfilled').length;
              } else if (o.op === 'ack') {
                const through = Math.min(o.upTo, committed);
                await store.acknowledge(EVENT, through, []);
                acked = Math.max(acked, through);
              } else {
                store = await loc.open();
                open.push(store);
              }
            }
            const all = await store.all(EVENT);
            expect(all.map((s) => s.seq)).toEqual(Array.from({ length: committed }, (_, i) => i + 1));
            all.forEach((s, i) => expect(s.prevLink).toBe(i === 0 ? 'genesis' : all[i - 1]!.link));
            expect(all.filter((s) => s.synced).length).toBe(acked);
            for (const s of open) await s.close().catch(() => undefined);
          },
        ),
        { numRuns: 25 },
      );
    });
  });
}
