/**
 * What bench/client-scanner.ts and its page (page-entry.ts, bundled for
 * Chromium) exchange through page.evaluate: plain JSON-safe data only. Every
 * time in here is in milliseconds of the page's own `performance.now()`,
 * relative to the start of the step it belongs to unless the name says
 * otherwise.
 */

/** The scanner device the page plays: registered with an Ed25519 public key, so its uploads are chained and signed. */
export interface DeviceConfig {
  eventId: string;
  deviceId: string;
  token: string;
  /** base64url Ed25519 secret key (the page signs its upload heads with it, as the app will with its keystore). */
  secretKey: string;
  publicKey: string;
  gateId: string;
}

/** One store call made by the engine (a ClientStore method), timed by the page's wrapper. */
export interface StoreCall {
  op: string;
  start: number;
  end: number;
  rows?: number;
}

/** One request made by the engine's ApiClient (through the page's timed fetch). */
export interface FetchCall {
  method: string;
  path: string;
  start: number;
  /** Response headers received. */
  headers: number;
  /** Body read and decompressed (the engine's `text()`). */
  end: number;
  status: number;
  requestChars: number;
  responseChars: number;
  /** From Resource Timing: bytes on the wire (gzip) and decoded. */
  encodedBytes: number | null;
  decodedBytes: number | null;
}

/** The outcome of one decision, for verification (the numbers are in the arrays next to it). */
export type DecisionResultCounts = Record<string, number>;

export interface DownloadResult {
  tickets: number;
  /** Request of the first byte (the sync run starting) → the first scan decided on the index built from IndexedDB. */
  totalMs: number;
  /** → the sync run finished: manifest and feed downloaded and stored, the index rebuilt from the store. */
  readyMs: number;
  steps: {
    /** Sync run start → the manifest request sent (the run first checks the empty outbox and the stored manifest). */
    beforeRequestMs: number;
    /** Request sent → response headers (server builds the whole manifest before answering). */
    firstByteMs: number;
    /** Headers → body read and gunzipped by the browser. */
    bodyMs: number;
    /** Body read → saveManifest called: JSON.parse of the document and splitting it. */
    parseMs: number;
    /** DexieStore.saveManifest: every ticket written to IndexedDB in one transaction. */
    saveMs: number;
    /** The download feed (other devices' scans): requests and applyManifestDelta. */
    feedMs: number;
    /** DexieStore.loadManifest: every ticket read back (as Scanner.reloadManifest does). */
    loadMs: number;
    /** ManifestIndex.from on the loaded manifest. */
    indexMs: number;
    /** The first decision (lookup with signature check, own scans read, decideLocally). */
    decideMs: number;
    /** What the list above does not account for. */
    otherMs: number;
  };
  manifestWireBytes: number | null;
  manifestJsonChars: number;
  firstDecision: string;
  fetches: FetchCall[];
  storeCalls: StoreCall[];
}

export interface AppStartResult {
  tickets: number;
  /** Navigation start → this bundle's first statement (HTML, script download, parse and evaluation). */
  navToScriptMs: number;
  /** DexieStore.open (includes navigator.storage.persist()). */
  openMs: number;
  loadMs: number;
  indexMs: number;
  decideMs: number;
  /** The engine part: DexieStore.open → first decision possible (open + load + index + first decision). */
  engineMs: number;
  /** Navigation start → first decision. */
  fromNavigationMs: number;
  firstDecision: string;
  /** JS heap after the start (Chromium's performance.memory), MB. */
  heapMb: number | null;
}

export interface DecisionsResult {
  /** Per code: lookup (parse + Ed25519 signature check + map look-up), own scans read from IndexedDB, decideLocally; and the sum. */
  totalMs: number[];
  lookupMs: number[];
  ownMs: number[];
  decideMs: number[];
  results: DecisionResultCounts;
  /** Per code, the verdict (`result/reason`), to check against what the bench expects. */
  verdicts: string[];
  /** How many of the decisions had at least one own admission to overlay. */
  withOwnScans: number;
  /** Building the page's own index first (loadManifest + ManifestIndex.from), not part of any decision. */
  setupMs: number;
}

export interface DurableScansResult {
  /** Scanner.scanOffline end to end, per scan: decision and the recordScan transaction committed. */
  totalMs: number[];
  /** Of which, per scan: the own-scans read (scansOfTicket) and the appendScan transaction (seq, chain link, write, commit). */
  ownReadMs: number[];
  appendMs: number[];
  results: DecisionResultCounts;
  firstSeq: number;
  lastSeq: number;
  /** Scanner.reloadManifest before the first scan (not timed as a scan). */
  reloadMs: number;
  durability: 'default' | 'strict';
}

export interface UploadStep {
  scans: number;
  /** pending() + counts() before the request. */
  readMs: number;
  /** Request sent → reply read (includes the engine's JSON.stringify of the body, done inside the request call, and the signature). */
  requestMs: number;
  requestChars: number;
  /** acknowledge() + setMeta() after the reply. */
  ackMs: number;
}

export interface SyncResult {
  pendingBefore: number;
  pendingAfter: number;
  syncedAfter: number;
  /** syncNow() → the upload loop found the outbox empty: every scan uploaded, acknowledged and marked in IndexedDB. */
  uploadMs: number;
  /** syncNow() → the whole run done (the upload, then the delta download and the index reload that follow it). */
  cycleMs: number;
  uploads: UploadStep[];
  signMs: number;
  ackedThrough: number;
  lastSummary: { uploaded: number; acknowledged: number; conflicts: number; failed: number } | null;
  lastError: string | null;
  fetches: FetchCall[];
  storeCalls: StoreCall[];
}

/**
 * The same manifest rows written and read with IndexedDB directly (no Dexie), one record per ticket as DexieStore
 * stores them, and in chunks of tickets per record: what the storage itself costs, and what another layout would.
 */
export interface IdbCeilingResult {
  tickets: number;
  chunkSize: number;
  /** One put per ticket in one readwrite transaction, until it commits. */
  perTicketPutMs: number;
  /** getAll of those records. */
  perTicketGetAllMs: number;
  /** One put per chunk of `chunkSize` tickets (an array of the same objects), until it commits. */
  chunkedPutMs: number;
  chunkedGetAllMs: number;
}

/** What the page puts on `globalThis.__bench`. */
export interface PageApi {
  ready: true;
  /** Set when the page was opened with `?start=...`: the app-start measurement, begun by the bundle's first statement. */
  appStartResult?: Promise<AppStartResult>;
  download(cfg: DeviceConfig, db: string, firstCode: string): Promise<DownloadResult>;
  durableScans(
    cfg: DeviceConfig,
    db: string,
    codes: string[],
    durability: 'default' | 'strict',
  ): Promise<DurableScansResult>;
  decisions(cfg: DeviceConfig, db: string, codes: string[]): Promise<DecisionsResult>;
  sync(cfg: DeviceConfig, db: string): Promise<SyncResult>;
  idbCeiling(cfg: DeviceConfig, db: string, scratchDb: string, chunkSize: number): Promise<IdbCeilingResult>;
  deleteDatabase(db: string): Promise<void>;
}

export interface AppStartParams {
  cfg: DeviceConfig;
  db: string;
  code: string;
}
