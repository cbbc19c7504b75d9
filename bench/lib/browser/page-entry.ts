/**
 * The page side of bench/client-scanner.ts: bundled by esbuild (chromium.ts)
 * with the real client engine (@entrada/client: DexieStore, SyncLoop,
 * Scanner, ManifestIndex, decideLocally, recordScan) and @entrada/core, and
 * loaded by headless Chromium from the bench's own origin, whose /api is a
 * proxy to the Entrada server. Nothing runs until Node calls
 * `globalThis.__bench` (see PageApi in protocol.ts), except the app-start
 * measurement: a page opened with `?start=<json>` begins it with the bundle's
 * first statement, as an app would on launch.
 *
 * The engine is used as the app uses it: the same classes, default options
 * (IndexedDB durability, core's Ed25519 verifier), the browser's fetch. The
 * page only adds timing wrappers around the store and fetch, which cost
 * microseconds per call.
 */
import { ed25519, fromBase64Url } from '@entrada/core';
import {
  ApiClient,
  decideLocally,
  DexieStore,
  ManifestIndex,
  Scanner,
  SyncLoop,
  systemClock,
  type ClientStore,
  type FetchLike,
  type LocalDecision,
  type ManifestTicket,
  type OutboxScan,
  type OwnAdmission,
} from '@entrada/client';
import type {
  AppStartParams,
  AppStartResult,
  DecisionResultCounts,
  DecisionsResult,
  DeviceConfig,
  DownloadResult,
  DurableScansResult,
  FetchCall,
  IdbCeilingResult,
  PageApi,
  StoreCall,
  SyncResult,
  UploadStep,
} from './protocol.ts';

// The first statement of the bundle: navigation start → here is the page load and script evaluation.
const scriptStartedAt = performance.now();

/** The few IndexedDB types the ceiling phase uses (bench/ is typechecked without the DOM library). */
interface IdbRequest<T> {
  result: T;
  error: unknown;
  onsuccess: (() => void) | null;
  onerror: (() => void) | null;
}
interface IdbObjectStore {
  put(value: unknown): IdbRequest<unknown>;
  getAll(): IdbRequest<unknown[]>;
}
interface IdbTransaction {
  objectStore(name: string): IdbObjectStore;
  error: unknown;
  oncomplete: (() => void) | null;
  onerror: (() => void) | null;
  onabort: (() => void) | null;
}
interface IdbDatabase {
  transaction(stores: string[], mode: 'readonly' | 'readwrite'): IdbTransaction;
  createObjectStore(name: string, o: { keyPath: string[] }): IdbObjectStore;
  close(): void;
}
interface IdbOpenRequest extends IdbRequest<IdbDatabase> {
  onupgradeneeded: (() => void) | null;
  onblocked: (() => void) | null;
}

interface BrowserGlobals {
  location: { origin: string; search: string };
  indexedDB: {
    open(name: string, version: number): IdbOpenRequest;
    deleteDatabase(name: string): {
      onsuccess: (() => void) | null;
      onerror: (() => void) | null;
      onblocked: (() => void) | null;
    };
  };
  performance: typeof performance & {
    memory?: { usedJSHeapSize: number };
    clearResourceTimings(): void;
  };
}
const browser = globalThis as unknown as BrowserGlobals;
const now = (): number => performance.now();

/** A ClientStore whose every call is timed; otherwise the store as is. */
type TimedStore = ClientStore & { calls: StoreCall[]; readonly inner: ClientStore };

/**
 * Wraps every method of the store (a Proxy, so methods the interface gains
 * later are timed too). `rows`: the length of an array result, the tickets of
 * a loaded manifest, or else the length of the first array argument (tickets
 * saved, patches applied, results acknowledged).
 */
function timedStore(inner: ClientStore): TimedStore {
  const state = { calls: [] as StoreCall[] };
  const rowsOf = (result: unknown, args: unknown[]): number | undefined => {
    if (Array.isArray(result)) return result.length;
    const tickets = (result as { tickets?: unknown } | null | undefined)?.tickets;
    if (tickets instanceof Map) return tickets.size;
    const arr = args.find((a) => Array.isArray(a)) as unknown[] | undefined;
    return arr?.length;
  };
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'calls') return state.calls;
      if (prop === 'inner') return target;
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function' || typeof prop !== 'string' || prop === 'close')
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      return async (...args: unknown[]) => {
        const start = now();
        const result = await (v as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        const rows = rowsOf(result, args);
        state.calls.push({ op: prop, start, end: now(), ...(rows === undefined ? {} : { rows }) });
        return result;
      };
    },
    set(target, prop, value) {
      if (prop === 'calls') {
        state.calls = value as StoreCall[];
        return true;
      }
      return Reflect.set(target, prop, value);
    },
  }) as TimedStore;
}

/** The browser's fetch, timed per request (headers, body read); Resource Timing adds the bytes afterwards (see withWireBytes). */
function timedFetch(log: Array<FetchCall & { url: string }>): FetchLike {
  return async (url, init) => {
    const start = now();
    const res = await fetch(url, init);
    const entry: FetchCall & { url: string } = {
      url,
      method: init.method,
      path: url.slice(browser.location.origin.length),
      start,
      headers: now(),
      end: 0,
      status: res.status,
      requestChars: init.body?.length ?? 0,
      responseChars: 0,
      encodedBytes: null,
      decodedBytes: null,
    };
    log.push(entry);
    return {
      status: res.status,
      headers: res.headers,
      async text() {
        const t = await res.text();
        entry.end = now();
        entry.responseChars = t.length;
        return t;
      },
    };
  };
}

interface ResourceEntry {
  name: string;
  encodedBodySize: number;
  decodedBodySize: number;
}

/** Bytes on the wire of each request, from Resource Timing (matched by URL, in order). */
function withWireBytes(log: Array<FetchCall & { url: string }>): FetchCall[] {
  const entries = performance.getEntriesByType('resource') as unknown as ResourceEntry[];
  const used = new Set<number>();
  return log.map(({ url, ...call }) => {
    const i = entries.findIndex((e, k) => !used.has(k) && e.name === url);
    if (i >= 0) {
      used.add(i);
      return { ...call, encodedBytes: entries[i]!.encodedBodySize, decodedBytes: entries[i]!.decodedBodySize };
    }
    return call;
  });
}

function signer(cfg: DeviceConfig): (m: Uint8Array) => Uint8Array {
  const sk = fromBase64Url(cfg.secretKey);
  return (m) => ed25519.sign(sk, m);
}

/** As scanner.ts: own scans that admitted someone at the gate and that the server has not turned into a conflict. */
function admittedLocally(s: OutboxScan): boolean {
  if (s.localResult !== 'valid') return false;
  return !s.server || s.server.syncStatus === 'synced' || s.server.syncStatus === 'duplicate';
}

interface TimedDecision {
  d: LocalDecision;
  lookupMs: number;
  ownMs: number;
  decideMs: number;
  own: number;
}

/**
 * The decision half of Scanner.scanOffline, step for step (lookup, own scans
 * from the outbox, decideLocally), without recording the scan: Scanner keeps
 * its index private and has no decide-only call.
 */
async function decide(
  index: ManifestIndex,
  store: ClientStore,
  cfg: DeviceConfig,
  code: string,
): Promise<TimedDecision> {
  const t0 = now();
  const lookup = index.lookup(code);
  const t1 = now();
  let own: OwnAdmission[] = [];
  if (lookup.kind === 'ticket') {
    const logged = await store.scansOfTicket(cfg.eventId, lookup.ticket.ticket_id);
    own = logged.filter(admittedLocally).map((s) => ({
      at: s.scannedAt,
      direction: s.direction,
      gateId: s.gateId,
      consumesEntry: s.localReason === 'admitted',
    }));
  }
  const t2 = now();
  const d = decideLocally({
    eventId: cfg.eventId,
    manifest: index,
    lookup,
    gateId: cfg.gateId,
    direction: 'entry',
    now: Date.now(),
    deviceId: cfg.deviceId,
    own,
    staleAfterMs: 10 * 60_000,
  });
  const t3 = now();
  return { d, lookupMs: t1 - t0, ownMs: t2 - t1, decideMs: t3 - t2, own: own.length };
}

const verdictOf = (d: LocalDecision): string => `${d.verdict.result}/${d.verdict.reason}`;

function count(into: DecisionResultCounts, key: string): void {
  into[key] = (into[key] ?? 0) + 1;
}

function request<T>(r: IdbRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error instanceof Error ? r.error : new Error(String(r.error)));
  });
}

/** Runs `fill` in one readwrite transaction on `store` and resolves when it has committed. */
function writeAll(db: IdbDatabase, store: string, fill: (s: IdbObjectStore) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const tx = db.transaction([store], 'readwrite');
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error instanceof Error ? tx.error : new Error(String(tx.error)));
    tx.onabort = () => reject(new Error(`transaction on ${store} aborted`));
    fill(tx.objectStore(store));
  });
}

const sum = (calls: StoreCall[], op: string): number =>
  calls.filter((c) => c.op === op).reduce((a, c) => a + (c.end - c.start), 0);

// ---- the app's composition, kept per database for the phases that share it (durable scans, decisions, sync) ----
interface AppState {
  store: TimedStore;
  scanner: Scanner;
  fetches: Array<FetchCall & { url: string }>;
  signMs: { total: number };
  index: ManifestIndex | null;
}
const apps = new Map<string, Promise<AppState>>();

function app(cfg: DeviceConfig, db: string): Promise<AppState> {
  let a = apps.get(db);
  if (!a) {
    a = (async () => {
      const store = timedStore(await DexieStore.open(db));
      const fetches: Array<FetchCall & { url: string }> = [];
      const signMs = { total: 0 };
      const sign = signer(cfg);
      const scanner = new Scanner({
        store,
        baseUrl: browser.location.origin,
        eventId: cfg.eventId,
        device: {
          deviceId: cfg.deviceId,
          token: cfg.token,
          publicKey: fromBase64Url(cfg.publicKey),
          sign: (m) => {
            const t = now();
            const s = sign(m);
            signMs.total += now() - t;
            return s;
          },
        },
        fetch: timedFetch(fetches),
      });
      return { store, scanner, fetches, signMs, index: null };
    })();
    apps.set(db, a);
  }
  return a;
}

const api: PageApi = {
  ready: true,

  async download(cfg, db, firstCode) {
    const store = timedStore(await DexieStore.open(db));
    const fetches: Array<FetchCall & { url: string }> = [];
    // A holder, not a `let`: the callback below fills it in.
    const built: { index: ManifestIndex | null; indexMs: number } = { index: null, indexMs: 0 };
    const loop = new SyncLoop({
      store,
      api: new ApiClient(browser.location.origin, cfg.token, timedFetch(fetches), systemClock),
      clock: systemClock,
      random: Math.random,
      newId: () => globalThis.crypto.randomUUID(),
      eventId: cfg.eventId,
      deviceId: cfg.deviceId,
      sign: signer(cfg),
      // What Scanner.reloadManifest does after a download.
      onManifestChanged: async () => {
        const stored = await store.loadManifest(cfg.eventId);
        const t = now();
        if (stored) built.index = ManifestIndex.from(stored);
        built.indexMs = now() - t;
      },
    });
    browser.performance.clearResourceTimings();
    const t0 = now();
    await loop.syncNow();
    const tReady = now();
    const index = built.index;
    if (!index) throw new Error(`no manifest after the sync run: ${JSON.stringify((await loop.status()).lastError)}`);
    const first = await decide(index, store, cfg, firstCode);
    const tDecided = now();
    const status = await loop.status();
    if (status.lastError) throw new Error(`sync run failed: ${status.lastError.message}`);
    const calls = store.calls.map((c) => ({ ...c, start: c.start - t0, end: c.end - t0 }));
    const fetchCalls = withWireBytes(fetches).map((f) => ({
      ...f,
      start: f.start - t0,
      headers: f.headers - t0,
      end: f.end - t0,
    }));
    const manifest = fetchCalls.find((f) => f.path.startsWith('/api/v1/offline/manifest/'));
    const save = calls.find((c) => c.op === 'saveManifest');
    const load = calls.filter((c) => c.op === 'loadManifest').at(-1);
    if (!manifest || !save || !load)
      throw new Error('download: the manifest request, saveManifest or loadManifest is missing');
    const feed = fetchCalls.filter((f) => f.path.startsWith('/api/v1/offline/events'));
    const feedMs =
      feed.reduce((a, f) => a + (f.end - f.start), 0) +
      sum(
        calls.filter((c) => c.start > save.end),
        'applyManifestDelta',
      );
    const totalMs = tDecided - t0;
    const steps = {
      beforeRequestMs: manifest.start,
      firstByteMs: manifest.headers - manifest.start,
      bodyMs: manifest.end - manifest.headers,
      parseMs: save.start - manifest.end,
      saveMs: save.end - save.start,
      feedMs,
      loadMs: load.end - load.start,
      indexMs: built.indexMs,
      decideMs: tDecided - tReady,
      otherMs: 0,
    };
    steps.otherMs = totalMs - Object.values(steps).reduce((a, b) => a + b, 0);
    await store.close();
    return {
      tickets: index.tickets.size,
      totalMs,
      readyMs: tReady - t0,
      steps,
      manifestWireBytes: manifest.encodedBytes,
      manifestJsonChars: manifest.responseChars,
      firstDecision: verdictOf(first.d),
      fetches: fetchCalls,
      storeCalls: calls,
    } satisfies DownloadResult;
  },

  async durableScans(cfg, db, codes, durability) {
    let a: AppState;
    if (durability === 'strict') {
      // A second connection to the same database whose write transactions ask Chromium to flush to disk before committing.
      const store = timedStore(await DexieStore.open(db, { chromeTransactionDurability: 'strict' }));
      const scanner = new Scanner({
        store,
        baseUrl: browser.location.origin,
        eventId: cfg.eventId,
        device: {
          deviceId: cfg.deviceId,
          token: cfg.token,
          publicKey: fromBase64Url(cfg.publicKey),
          sign: signer(cfg),
        },
      });
      a = { store, scanner, fetches: [], signMs: { total: 0 }, index: null };
    } else {
      a = await app(cfg, db);
    }
    const r0 = now();
    await a.scanner.reloadManifest();
    const reloadMs = now() - r0;
    if (!a.scanner.hasManifest) throw new Error('durableScans: no stored manifest');
    const totalMs: number[] = [];
    const ownReadMs: number[] = [];
    const appendMs: number[] = [];
    const results: DecisionResultCounts = {};
    let firstSeq = 0;
    let lastSeq = 0;
    for (const code of codes) {
      a.store.calls = [];
      const t = now();
      const out = await a.scanner.scanOffline(code, { gateId: cfg.gateId, direction: 'entry' });
      totalMs.push(now() - t);
      ownReadMs.push(sum(a.store.calls, 'scansOfTicket'));
      appendMs.push(sum(a.store.calls, 'appendScan'));
      count(results, `${out.result}/${out.reason}`);
      if (firstSeq === 0) firstSeq = out.seq ?? 0;
      lastSeq = out.seq ?? lastSeq;
    }
    a.store.calls = [];
    if (durability === 'strict') await a.store.close();
    return {
      totalMs,
      ownReadMs,
      appendMs,
      results,
      firstSeq,
      lastSeq,
      reloadMs,
      durability,
    } satisfies DurableScansResult;
  },

  async decisions(cfg, db, codes) {
    const a = await app(cfg, db);
    const s0 = now();
    if (!a.index) {
      const stored = await a.store.inner.loadManifest(cfg.eventId);
      if (!stored) throw new Error('decisions: no stored manifest');
      a.index = ManifestIndex.from(stored);
    }
    const setupMs = now() - s0;
    const index = a.index;
    const out: DecisionsResult = {
      totalMs: [],
      lookupMs: [],
      ownMs: [],
      decideMs: [],
      results: {},
      verdicts: [],
      withOwnScans: 0,
      setupMs,
    };
    for (const code of codes) {
      const t = now();
      const r = await decide(index, a.store.inner, cfg, code);
      out.totalMs.push(now() - t);
      out.lookupMs.push(r.lookupMs);
      out.ownMs.push(r.ownMs);
      out.decideMs.push(r.decideMs);
      const v = verdictOf(r.d);
      out.verdicts.push(v);
      count(out.results, v);
      if (r.own > 0) out.withOwnScans++;
    }
    return out;
  },

  async sync(cfg, db) {
    const a = await app(cfg, db);
    const before = await a.store.inner.counts(cfg.eventId);
    a.store.calls = [];
    a.fetches.length = 0;
    a.signMs.total = 0;
    browser.performance.clearResourceTimings();
    const t0 = now();
    await a.scanner.sync.syncNow();
    const tEnd = now();
    const calls = a.store.calls.map((c) => ({ ...c, start: c.start - t0, end: c.end - t0 }));
    const fetches = withWireBytes(a.fetches).map((f) => ({
      ...f,
      start: f.start - t0,
      headers: f.headers - t0,
      end: f.end - t0,
    }));
    // The upload loop ends when pending() comes back empty; the download starts with loadManifest.
    const drained = calls.find((c) => c.op === 'pending' && c.rows === 0);
    const uploadsFetches = fetches.filter((f) => f.path === '/api/v1/offline/sync');
    const uploads: UploadStep[] = uploadsFetches.map((f) => {
      const reads = calls.filter((c) => (c.op === 'pending' || c.op === 'counts') && c.end <= f.start);
      const lastPending = [...reads].reverse().find((c) => c.op === 'pending');
      const readMs = reads
        .filter((c) => lastPending && c.start >= lastPending.start)
        .reduce((x, c) => x + (c.end - c.start), 0);
      const acks = calls.filter((c) => (c.op === 'acknowledge' || c.op === 'setMeta') && c.start >= f.end);
      const ack = acks.find((c) => c.op === 'acknowledge');
      const meta = acks.find((c) => c.op === 'setMeta');
      return {
        scans: lastPending?.rows ?? 0,
        readMs,
        requestMs: f.end - f.start,
        requestChars: f.requestChars,
        ackMs: (ack ? ack.end - ack.start : 0) + (meta ? meta.end - meta.start : 0),
      };
    });
    const after = await a.store.inner.counts(cfg.eventId);
    const status = await a.scanner.sync.status();
    a.store.calls = [];
    return {
      pendingBefore: before.pending,
      pendingAfter: after.pending,
      syncedAfter: after.synced,
      uploadMs: drained ? drained.end : tEnd - t0,
      cycleMs: tEnd - t0,
      uploads,
      signMs: a.signMs.total,
      ackedThrough: status.ackedThrough,
      lastSummary: status.lastSummary
        ? {
            uploaded: status.lastSummary.uploaded,
            acknowledged: status.lastSummary.acknowledged,
            conflicts: status.lastSummary.conflicts,
            failed: status.lastSummary.failed,
          }
        : null,
      lastError: status.lastError?.message ?? null,
      fetches,
      storeCalls: calls,
    } satisfies SyncResult;
  },

  async idbCeiling(cfg, db, scratchDb, chunkSize) {
    const a = await app(cfg, db);
    const stored = await a.store.inner.loadManifest(cfg.eventId);
    if (!stored) throw new Error('idbCeiling: no stored manifest');
    // The rows exactly as DexieStore writes them.
    const rows = [...stored.tickets.values()].map((t) => ({ ...t, eventId: cfg.eventId }));
    const open = browser.indexedDB.open(scratchDb, 1);
    open.onupgradeneeded = () => {
      open.result.createObjectStore('rows', { keyPath: ['eventId', 'ticket_id'] });
      open.result.createObjectStore('chunks', { keyPath: ['eventId', 'chunk'] });
    };
    const idb = await request(open);
    try {
      let t = now();
      await writeAll(idb, 'rows', (s) => {
        for (const r of rows) s.put(r);
      });
      const perTicketPutMs = now() - t;
      t = now();
      const back = (await request(
        idb.transaction(['rows'], 'readonly').objectStore('rows').getAll(),
      )) as ManifestTicket[];
      const map = new Map(back.map((r) => [r.ticket_id, r]));
      const perTicketGetAllMs = now() - t;
      const chunks: Array<{ eventId: string; chunk: number; tickets: typeof rows }> = [];
      for (let i = 0; i < rows.length; i += chunkSize)
        chunks.push({ eventId: cfg.eventId, chunk: i / chunkSize, tickets: rows.slice(i, i + chunkSize) });
      t = now();
      await writeAll(idb, 'chunks', (s) => {
        for (const c of chunks) s.put(c);
      });
      const chunkedPutMs = now() - t;
      t = now();
      const backChunks = (await request(
        idb.transaction(['chunks'], 'readonly').objectStore('chunks').getAll(),
      )) as Array<{ tickets: ManifestTicket[] }>;
      const map2 = new Map<string, ManifestTicket>();
      for (const c of backChunks) for (const r of c.tickets) map2.set(r.ticket_id, r);
      const chunkedGetAllMs = now() - t;
      if (map.size !== rows.length || map2.size !== rows.length)
        throw new Error(`idbCeiling read back ${map.size} and ${map2.size} of ${rows.length} tickets`);
      return {
        tickets: rows.length,
        chunkSize,
        perTicketPutMs,
        perTicketGetAllMs,
        chunkedPutMs,
        chunkedGetAllMs,
      } satisfies IdbCeilingResult;
    } finally {
      idb.close();
      await api.deleteDatabase(scratchDb);
    }
  },

  deleteDatabase(db) {
    return new Promise((resolve, reject) => {
      const req = browser.indexedDB.deleteDatabase(db);
      // `blocked` also fires while a connection that was just closed finishes its transactions: wait, within reason.
      const timer = setTimeout(() => reject(new Error(`deleting ${db} stayed blocked by an open connection`)), 15_000);
      req.onsuccess = () => {
        clearTimeout(timer);
        resolve();
      };
      req.onerror = () => {
        clearTimeout(timer);
        reject(new Error(`could not delete ${db}`));
      };
      req.onblocked = null;
    });
  },
};

/** The app start: open the store, load the stored manifest, build the index, first decision — begun by the bundle's first statement. */
async function appStart(p: AppStartParams): Promise<AppStartResult> {
  const t0 = now();
  const store = await DexieStore.open(p.db);
  const t1 = now();
  const stored = await store.loadManifest(p.cfg.eventId);
  const t2 = now();
  if (!stored) throw new Error(`app start: no stored manifest in ${p.db}`);
  const index = ManifestIndex.from(stored);
  const t3 = now();
  const first = await decide(index, store, p.cfg, p.code);
  const t4 = now();
  const heap = browser.performance.memory?.usedJSHeapSize;
  await store.close();
  return {
    tickets: stored.tickets.size,
    navToScriptMs: scriptStartedAt,
    openMs: t1 - t0,
    loadMs: t2 - t1,
    indexMs: t3 - t2,
    decideMs: t4 - t3,
    engineMs: t4 - t0,
    fromNavigationMs: t4,
    firstDecision: verdictOf(first.d),
    heapMb: heap === undefined ? null : Math.round(heap / 2 ** 20),
  };
}

const start = new URLSearchParams(browser.location.search).get('start');
if (start) api.appStartResult = appStart(JSON.parse(start) as AppStartParams);

(globalThis as unknown as { __bench: PageApi }).__bench = api;
