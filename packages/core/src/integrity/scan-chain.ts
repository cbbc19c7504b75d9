import { sha256 } from '@noble/hashes/sha2.js';
import { toHex } from '../codes/index.ts';

/**
 * Tamper evidence for a device's offline scans, cheap enough to check at sync
 * speed: every scan's canonical bytes are hashed, the hashes are chained
 * (link_n = SHA-256(link_{n-1} || hash_n)), and the device signs only the head
 * of each upload. One Ed25519 verification per batch then covers every scan in
 * it; an altered, inserted, removed or reordered scan breaks the chain or the
 * signature. Both the device and the server compute these bytes with this code.
 */

export interface ChainedScan {
  seq: number;
  qrcode: string;
  scannedAt: number;
  direction: 'entry' | 'exit';
  gateId: string | null;
  localResult: string | null;
  /** The id of an online attempt that timed out before this offline decision, if any. */
  scanId?: string | null | undefined;
}

const encoder = new TextEncoder();

/** Canonical text of one scan: a JSON array in a fixed order (JSON.stringify is deterministic for these types). */
export function scanCanonicalText(eventId: string, deviceId: string, s: ChainedScan): string {
  return JSON.stringify([
    'entrada/scan/v1',
    eventId,
    deviceId,
    s.seq,
    s.scannedAt,
    s.direction,
    s.gateId,
    s.localResult,
    s.qrcode,
    s.scanId ?? null,
  ]);
}

/** Canonical bytes of one scan: the UTF-8 encoding of its canonical text. */
export function scanCanonicalBytes(eventId: string, deviceId: string, s: ChainedScan): Uint8Array {
  return encoder.encode(scanCanonicalText(eventId, deviceId, s));
}

export function scanHash(eventId: string, deviceId: string, s: ChainedScan): Uint8Array {
  return sha256(scanCanonicalBytes(eventId, deviceId, s));
}

/** The link before seq 1 of a device's log at an event. */
export function chainGenesis(eventId: string, deviceId: string): Uint8Array {
  return sha256(encoder.encode(`entrada/chain/v1\n${eventId}\n${deviceId}`));
}

export function nextLink(previous: Uint8Array, hash: Uint8Array): Uint8Array {
  const buf = new Uint8Array(previous.length + hash.length);
  buf.set(previous, 0);
  buf.set(hash, previous.length);
  return sha256(buf);
}

/** What the device signs at the end of an upload: the last seq and its link. */
export function chainHeadMessage(eventId: string, deviceId: string, lastSeq: number, link: Uint8Array): Uint8Array {
  return encoder.encode(`entrada/chain-head/v1\n${eventId}\n${deviceId}\n${lastSeq}\n${toHex(link)}`);
}

/**
 * Chains a contiguous run of scans from `prevLink` and returns every link and
 * the message the device must sign (with its Ed25519 key) for the upload.
 */
export function chainUpload(
  eventId: string,
  deviceId: string,
  prevLink: Uint8Array,
  scans: readonly ChainedScan[],
): { links: Uint8Array[]; headMessage: Uint8Array } {
  const links: Uint8Array[] = [];
  let link = prevLink;
  for (const s of scans) {
    link = nextLink(link, scanHash(eventId, deviceId, s));
    links.push(link);
  }
  const lastSeq = scans.at(-1)?.seq ?? 0;
  return { links, headMessage: chainHeadMessage(eventId, deviceId, lastSeq, link) };
}
