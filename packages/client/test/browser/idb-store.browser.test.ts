/**
 * The ClientStore conformance suite against DexieStore in REAL headless Chromium
 * (system binary, playwright-core, no downloads), plus two browser-only cases:
 * a page reload between writes and a reopen, and an abrupt tab close.
 *
 * Without Chromium the suite is skipped, unless ENTRADA_REQUIRE_SERVICES=1 (CI),
 * where it fails. Set CHROMIUM_PATH to use another binary.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { OutboxScan } from '../../src/storage/types.ts';
import { storeContract } from '../store-contract.ts';
import { contractRegistry } from './contract-shim.ts';
import { call, CHROMIUM_PATH, chromiumAvailable, launch, loadEntry, type Browser } from './harness.ts';

const EVENT = '33333333-3333-4333-8333-333333333333';
const SUITE = 'ClientStore contract: DexieStore (real Chromium IndexedDB)';

// The check names, learned in Node from the same contract the page runs, so each gets its own `it`.
const names = (() => {
  const { api, checks } = contractRegistry();
  storeContract('names only', { fresh: () => Promise.reject(new Error('runs in the browser')) }, api);
  return [...checks.keys()];
})();

function expectChain(all: OutboxScan[]): void {
  expect(all.map((s) => s.seq)).toEqual(all.map((_, i) => i + 1));
  all.forEach((s, i) => expect(s.prevLink).toBe(i === 0 ? 'genesis' : all[i - 1]!.link));
}

const required = process.env.ENTRADA_REQUIRE_SERVICES === '1';
const present = chromiumAvailable();

if (!present && !required) {
  console.warn(
    `[browser tests] SKIPPED: no Chromium at ${CHROMIUM_PATH} (apt-get install chromium, or set CHROMIUM_PATH).`,
  );
}

describe.skipIf(!present && !required)(SUITE, { timeout: 60_000 }, () => {
  let browser: Browser | undefined;
  let page: Page;

  beforeAll(async () => {
    if (!present) throw new Error(`ENTRADA_REQUIRE_SERVICES=1 but no Chromium at ${CHROMIUM_PATH} (set CHROMIUM_PATH)`);
    browser = await launch();
    page = await browser.openPage();
    const inPage = await call(page, 'checks');
    expect(inPage, 'the page bundles the same contract as Node').toEqual(names);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
  });

  for (const name of names) {
    it(name, async () => {
      const r = await call(page, 'runCheck', name);
      if (!r.ok) throw new Error(`in Chromium: ${r.error}`);
    });
  }

  it('keeps committed scans and acks across a page reload (no close), and continues the seqs', async () => {
    const db = 'entrada-reload';
    const p = await browser!.openPage();
    try {
      const before = await call(p, 'append', db, EVENT, 3);
      await call(p, 'acknowledge', db, EVENT, 2);
      await loadEntry(p); // real reload: the page's store is never closed
      const after = await call(p, 'read', db, EVENT);
      expect(after.counts).toEqual({ total: 3, pending: 1, synced: 2, lastSeq: 3 });
      expect(after.all.map((s) => ({ ...s, synced: false }))).toEqual(before);
      const [next] = await call(p, 'append', db, EVENT, 1);
      expect(next!.seq).toBe(4);
      expect(next!.prevLink).toBe(before[2]!.link);
      expectChain((await call(p, 'read', db, EVENT)).all);
    } finally {
      await p.close();
    }
  });

  it('keeps every acknowledged scan when the tab is closed abruptly mid-write', async () => {
    const db = 'entrada-abrupt-close';
    const p = await browser!.openPage();
    const acked = await call(p, 'append', db, EVENT, 30);
    // More writes in flight, then the tab goes away without the app closing its store.
    await call(p, 'appendUnawaited', db, EVENT, 20);
    await p.close({ runBeforeUnload: false });

    const q = await browser!.openPage();
    try {
      const { all, counts } = await call(q, 'read', db, EVENT);
      // Every acknowledged scan is there, unchanged; in-flight ones are whole or absent, never a gap.
      expect(all.slice(0, acked.length)).toEqual(acked);
      expect(all.length).toBeGreaterThanOrEqual(acked.length);
      expect(all.length).toBeLessThanOrEqual(acked.length + 20);
      expectChain(all);
      expect(counts).toEqual({ total: all.length, pending: all.length, synced: 0, lastSeq: all.length });
      const [next] = await call(q, 'append', db, EVENT, 1);
      expect(next!.seq).toBe(all.length + 1);
    } finally {
      await q.close();
    }
  });
});
