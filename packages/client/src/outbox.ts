import {
  chainGenesis,
  chainHeadMessage,
  fromHex,
  nextLink,
  scanHash,
  toBase64Url,
  toHex,
  type ChainedScan,
  type Direction,
  type SyncBody,
  type SyncResultItem,
} from '@entrada/core';
import type { AckResult, ClientStore, OutboxScan } from './storage/types.ts';

export const MAX_UPLOAD_BATCH = 500;

/** Signs a chain head with the device's Ed25519 key (e.g. `(m) => ed25519.sign(secretKey, m)`); injected so keys can live in a keystore. */
export type HeadSigner = (message: Uint8Array) => Uint8Array;

/** What the scanner decided; the outbox adds the seq, the chain links and the sync state. */
export type ScanToRecord = Pick<
  OutboxScan,
  'qrcode' | 'scannedAt' | 'direction' | 'gateId' | 'localResult' | 'localReason' | 'ticketId' | 'scanId' | 'staffId'
>;

function chained(s: {
  seq: number;
  qrcode: string;
  scannedAt: number;
  direction: Direction;
  gateId: string | null;
  localResult: string | null;
  scanId: string | null;
}): ChainedScan {
  return {
    seq: s.seq,
    qrcode: s.qrcode,
    scannedAt: s.scannedAt,
    direction: s.direction,
    gateId: s.gateId,
    localResult: s.localResult,
    scanId: s.scanId,
  };
}

/**
 * Appends one scan to the device's log: seq, chain link and the write are one
 * atomic store step, and the promise resolves only once the scan is durable,
 * so a verdict is never shown for a scan that a crash could lose.
 */
export function recordScan(
  store: ClientStore,
  eventId: string,
  deviceId: string,
  input: ScanToRecord,
): Promise<OutboxScan> {
  return store.appendScan(eventId, ({ seq, prevLink }) => {
    const prev = prevLink === null ? chainGenesis(eventId, deviceId) : fromHex(prevLink);
    const link = nextLink(prev, scanHash(eventId, deviceId, chained({ ...input, seq })));
    return { ...input, seq, prevLink: toHex(prev), link: toHex(link), synced: false };
  });
}

/** The longest run of consecutive seqs at the start: an upload must be contiguous for the chain to verify. */
export function contiguousRun(scans: readonly OutboxScan[]): OutboxScan[] {
  const out: OutboxScan[] = [];
  for (const s of scans) {
    if (out.length > 0 && s.seq !== out.at(-1)!.seq + 1) break;
    out.push(s);
  }
  return out;
}

/**
 * SyncBody with `local_result` typed as what the server accepts at run time (core's
 * TypeBox union of literals currently infers as `null` only).
 */
export type UploadBody = SyncBody;

export function uploadBody(opts: {
  eventId: string;
  deviceId: string;
  sessionToken: string;
  deviceTime: number;
  deviceLastSeq: number;
  scans: readonly OutboxScan[];
  sign: HeadSigner | null;
}): UploadBody {
  const { scans } = opts;
  const body: UploadBody = {
    event_id: opts.eventId,
    device_id: opts.deviceId,
    session_token: opts.sessionToken,
    device_time: opts.deviceTime,
    device_last_seq: opts.deviceLastSeq,
    scans: scans.map((s) => ({
      qrcode: s.qrcode,
      scanned_at: s.scannedAt,
      seq: s.seq,
      direction: s.direction,
      gate_id: s.gateId,
      local_result: s.localResult,
      // The id of a timed-out online attempt: the server acknowledges the seq without admitting twice.
      ...(s.scanId ? { scan_id: s.scanId } : {}),
      // Who was logged in: the server keeps it when it is staff of the event.
      ...(s.staffId ? { staff_id: s.staffId } : {}),
    })),
  };
  const last = scans.at(-1);
  if (opts.sign && last && scans[0]) {
    // The stored links are the chain; one signature over the head covers the whole run.
    const head = chainHeadMessage(opts.eventId, opts.deviceId, last.seq, fromHex(last.link));
    body.integrity = { prev_link: scans[0].prevLink, head_signature: toBase64Url(opts.sign(head)) };
  }
  return body;
}

export function ackResults(results: readonly SyncResultItem[]): AckResult[] {
  // This client always sends a seq, and the server answers it back.
  return results.flatMap((r) =>
    r.seq === undefined
      ? []
      : [
          {
            seq: r.seq,
            syncStatus: r.sync_status,
            verdict: r.verdict ?? null,
            reason: r.reason ?? null,
            message: r.message,
            ambiguous: r.ambiguous ?? false,
          },
        ],
  );
}

export interface DeviceLogExport {
  format: 'entrada/device-log/v1';
  event_id: string;
  device_id: string;
  exported_at: number;
  public_key: string | null;
  scans: Array<UploadBody['scans'][number] & { link: string; synced: boolean; server_status: string | null }>;
  /** Signature over the chain head of the whole log, so the file can be verified as one upload from seq 1. */
  integrity: { prev_link: string; head_signature: string } | null;
}

/** The device's whole signed log as a JSON document (for the organiser's import when the network never comes back). */
export async function exportLog(
  store: ClientStore,
  opts: { eventId: string; deviceId: string; now: number; publicKey: Uint8Array | null; sign: HeadSigner | null },
): Promise<DeviceLogExport> {
  const scans = await store.all(opts.eventId);
  const body = uploadBody({
    eventId: opts.eventId,
    deviceId: opts.deviceId,
    sessionToken: 'export',
    deviceTime: opts.now,
    deviceLastSeq: scans.at(-1)?.seq ?? 0,
    scans,
    sign: opts.sign,
  });
  return {
    format: 'entrada/device-log/v1',
    event_id: opts.eventId,
    device_id: opts.deviceId,
    exported_at: opts.now,
    public_key: opts.publicKey ? toBase64Url(opts.publicKey) : null,
    scans: body.scans.map((w, i) => ({
      ...w,
      scan_id: scans[i]!.scanId ?? undefined,
      link: scans[i]!.link,
      synced: scans[i]!.synced,
      server_status: scans[i]!.server?.syncStatus ?? null,
    })),
    integrity: body.integrity ?? null,
  };
}
