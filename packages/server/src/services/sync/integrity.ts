import { hash } from 'node:crypto';
import { chainGenesis, chainHeadMessage, scanCanonicalText, type ChainedScan } from '@entrada/core';
import { nodeVerifier } from '../../crypto/ed25519-node.ts';

/**
 * SHA-256 with native one-shot hashing: byte-identical to core's, and about
 * 2.5x cheaper per call than a Hash object (measured 1.3 against 3.3 µs for a
 * chain link), which counts at one payload hash and one link per scan.
 */
function sha256(data: string | Uint8Array): Buffer {
  return hash('sha256', data, 'buffer');
}

/** SHA-256 of the scan's canonical bytes (its canonical text hashed as UTF-8, without an intermediate copy). */
export function payloadHash(eventId: string, deviceId: string, scan: ChainedScan): Buffer {
  return sha256(scanCanonicalText(eventId, deviceId, scan));
}

/**
 * An unsequenced scan's identity (device, qrcode, scanned_at) as a UUID (version 8: hash-derived), per event: stored
 * as the scan's id (and client_scan_id), where the primary key makes it one row. The event and device are in it
 * so that no other device's scan, and no random scan id, can hold it by chance.
 */
export function unsequencedIdentity(eventId: string, deviceId: string, qrcode: string, scannedAt: number): string {
  const h = sha256(`entrada/unsequenced/v1\n${eventId}\n${deviceId}\n${scannedAt}\n${qrcode}`);
  h[6] = (h[6]! & 0x0f) | 0x80;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const hex = h.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** link_n = SHA-256(link_{n-1} || hash_n), as core's nextLink. */
function nextLink(previous: Buffer, scanHash: Buffer): Buffer {
  return sha256(Buffer.concat([previous, scanHash], previous.length + scanHash.length));
}

export type ChainCheck = { ok: true; links: Buffer[] } | { ok: false; reason: string };

/**
 * Verifies one upload of a device that registered a public key: the scans
 * must be one contiguous run of seqs, chained from `prevLink`, and the device's
 * signature must cover the head. One signature verification per upload.
 * `storedBefore` is the link the server already holds for the seq before the
 * run (when it has it); `storedAfter` is the next stored scan's hash and link,
 * so a run that fills a gap must connect on both sides.
 */
export function verifyChain(args: {
  eventId: string;
  deviceId: string;
  publicKey: Uint8Array;
  hashes: Buffer[];
  seqs: number[];
  prevLinkHex: string | undefined;
  headSignature: string | undefined;
  storedBefore: Buffer | null;
  storedAfter: { hash: Buffer; link: Buffer } | null;
}): ChainCheck {
  const { seqs } = args;
  if (!args.prevLinkHex || !args.headSignature)
    return { ok: false, reason: 'integrity data missing (prev_link, head_signature)' };
  for (let i = 1; i < seqs.length; i++) {
    if (seqs[i] !== seqs[i - 1]! + 1)
      return { ok: false, reason: `upload is not one contiguous run of seqs (${seqs[i - 1]} then ${seqs[i]})` };
  }
  const prev: Buffer = Buffer.from(args.prevLinkHex, 'hex');
  if (seqs[0] === 1 && !prev.equals(Buffer.from(chainGenesis(args.eventId, args.deviceId)))) {
    return { ok: false, reason: 'prev_link of seq 1 is not the chain genesis' };
  }
  if (args.storedBefore && !prev.equals(args.storedBefore)) {
    return {
      ok: false,
      reason: `prev_link does not match seq ${seqs[0]! - 1} already received: earlier scans were altered`,
    };
  }
  const links: Buffer[] = [];
  let link: Buffer = prev;
  for (const h of args.hashes) {
    link = nextLink(link, h);
    links.push(link);
  }
  const head = chainHeadMessage(args.eventId, args.deviceId, seqs.at(-1)!, link);
  const signature = Buffer.from(args.headSignature, 'base64url');
  if (!nodeVerifier(args.publicKey, head, signature))
    return { ok: false, reason: 'head signature does not verify: scans were altered, inserted or removed' };
  if (args.storedAfter && !nextLink(link, args.storedAfter.hash).equals(args.storedAfter.link)) {
    return { ok: false, reason: `does not connect to seq ${seqs.at(-1)! + 1} already received` };
  }
  return { ok: true, links };
}
