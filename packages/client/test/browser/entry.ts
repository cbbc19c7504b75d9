/**
 * Browser entry, bundled by harness.ts and loaded by a real Chromium page. Runs the
 * ClientStore conformance suite (store-contract.ts, through contract-shim.ts instead
 * of Vitest) against DexieStore on the browser's own IndexedDB, and exposes a few
 * helpers the reload and abrupt-close tests drive from Node. Everything is reached
 * through `globalThis.__entrada` (see PageApi); nothing runs until Node calls it.
 */
import { DexieStore } from '../../src/storage/dexie-store.ts';
import type { OutboxCounts, OutboxScan } from '../../src/storage/types.ts';
import { fakeScan, storeContract } from '../store-contract.ts';
import { contractRegistry } from './contract-shim.ts';

export const SUITE = 'DexieStore (Chromium IndexedDB)';

export interface CheckResult {
  name: string;
  ok: boolean;
  error: string | null;
  ms: number;
}

export interface PageApi {
  /** The contract's check names, in declaration order. */
  checks(): string[];
  runCheck(name: string): Promise<CheckResult>;
  /** Appends `count` scans one after another on the page's store for `db` (opened once, never closed); returns each acknowledged scan. */
  append(db: string, event: string, count: number): Promise<OutboxScan[]>;
  /** Starts `count` concurrent appends and returns without waiting for any of them. */
  appendUnawaited(db: string, event: string, count: number): Promise<void>;
  acknowledge(db: string, event: string, through: number): Promise<void>;
  read(db: string, event: string): Promise<{ all: OutboxScan[]; counts: OutboxCounts }>;
}

// Unique per page load, so reruns in one profile never share a contract database.
const run = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
let dbCounter = 0;
const { api, checks } = contractRegistry();
storeContract(
  SUITE,
  {
    async fresh() {
      const name = `entrada-contract-${run}-${++dbCounter}`;
      return { open: () => DexieStore.open(name) };
    },
  },
  api,
);

// Like the app: one store per database, opened on first use and held open (no close on unload).
const stores = new Map<string, Promise<DexieStore>>();
function store(db: string): Promise<DexieStore> {
  let s = stores.get(db);
  if (!s) {
    s = DexieStore.open(db);
    stores.set(db, s);
  }
  return s;
}

const pageApi: PageApi = {
  checks: () => [...checks.keys()],
  async runCheck(name) {
    const check = checks.get(name);
    const started = performance.now();
    if (!check) return { name, ok: false, error: `no such check: ${name}`, ms: 0 };
    try {
      await check();
      return { name, ok: true, error: null, ms: performance.now() - started };
    } catch (e) {
      const error = e instanceof Error ? `${e.name}: ${e.message}\n${e.stack ?? ''}` : String(e);
      return { name, ok: false, error, ms: performance.now() - started };
    }
  },
  async append(db, event, count) {
    const s = await store(db);
    const made: OutboxScan[] = [];
    for (let i = 0; i < count; i++) made.push(await s.appendScan(event, (slot) => fakeScan(slot)));
    return made;
  },
  async appendUnawaited(db, event, count) {
    const s = await store(db);
    for (let i = 0; i < count; i++) void s.appendScan(event, (slot) => fakeScan(slot)).catch(() => undefined);
  },
  async acknowledge(db, event, through) {
    await (await store(db)).acknowledge(event, through, []);
  },
  async read(db, event) {
    const s = await store(db);
    return { all: await s.all(event), counts: await s.counts(event) };
  },
};

(globalThis as unknown as { __entrada: PageApi }).__entrada = pageApi;
