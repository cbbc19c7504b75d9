/**
 * The server's irreducible CPU per uploaded scan: what any server meeting the
 * offline-sync issue must do for each scan whatever its design, measured with
 * the server's own functions on one realistic upload of 500 signed codes
 * (gzipped JSON, hash-chained and head-signed as a device sends it).
 *
 * Per upload: gunzip the body, JSON.parse it, hash each scan's canonical bytes
 * (payloadHashHex: idempotency and tamper evidence), verify the chain and its one
 * head signature (verifyChain), key each code's digest (core's codeDigest, by the per-key HMAC of
 * EventContext.digestHex: how a code finds its ticket without storing codes in
 * clear), and JSON.stringify an answer of one result per scan. No database,
 * no HTTP, no framework, no reconciliation: the sum is a lower bound of the
 * server's share of a scan's CPU. Used by bench:sync-cpu-floor and, next to
 * the database floor, by bench:offline's CPU budget.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import {
  chainGenesis,
  chainUpload,
  codeDigest,
  ed25519,
  issueSignedCode,
  toBase64Url,
  toHex,
  type ChainedScan,
} from '@entrada/core';
import { hmacSha256Hex, nodeHmacSha256 } from '../../packages/server/src/crypto/hmac-node.ts';
import { payloadHashHex, verifyChain } from '../../packages/server/src/services/sync/integrity.ts';
import { round } from './run-control.ts';

const SCANS = 500;

type Upload = {
  scans: Array<{
    qrcode: string;
    scanned_at: number;
    seq: number;
    direction: 'entry';
    gate_id: string;
    local_result: string;
  }>;
  integrity: { prev_link: string; head_signature: string };
};

export interface ServerWork {
  scans: number;
  gzippedBytes: number;
  /** µs of CPU per scan, step by step. */
  steps: Array<{ step: string; us: number }>;
  totalUs: number;
}

export function measureServerWork(iterations = 400): ServerWork {
  const eventId = randomUUID();
  const deviceId = 'bench-floor-001';
  const gateId = randomUUID();
  const eventKeys = ed25519.generateKeyPair((n) => new Uint8Array(randomBytes(n)));
  const deviceKeys = ed25519.generateKeyPair((n) => new Uint8Array(randomBytes(n)));
  const codes = Array.from({ length: SCANS }, (_, i) =>
    issueSignedCode(
      { keyId: 1, eventRef: 7, ticketSerial: 10_000 + i, typeRef: 1, validFrom: null, validUntil: null },
      (m) => ed25519.sign(eventKeys.secretKey, m),
    ),
  );
  const scans: ChainedScan[] = codes.map((qrcode, i) => ({
    seq: i + 1,
    qrcode,
    scannedAt: Date.now() - (SCANS - i) * 1000,
    direction: 'entry',
    gateId,
    localResult: 'valid',
  }));
  const prev = chainGenesis(eventId, deviceId);
  const { headMessage } = chainUpload(eventId, deviceId, prev, scans);
  const body = gzipSync(
    Buffer.from(
      JSON.stringify({
        event_id: eventId,
        device_id: deviceId,
        session_token: `s-${randomUUID()}`,
        device_time: Date.now(),
        device_last_seq: SCANS,
        scans: scans.map((s) => ({
          qrcode: s.qrcode,
          scanned_at: s.scannedAt,
          seq: s.seq,
          direction: s.direction,
          gate_id: s.gateId,
          local_result: s.localResult,
        })),
        integrity: {
          prev_link: toHex(prev),
          head_signature: toBase64Url(ed25519.sign(deviceKeys.secretKey, headMessage)),
        },
      }),
    ),
  );
  const codeKey = randomBytes(32);
  const codeHmacHex = hmacSha256Hex(codeKey);
  if (codeHmacHex(codes[0]!).slice(0, 32) !== toHex(codeDigest(codeKey, codes[0]!, nodeHmacSha256)))
    throw new Error('the per-key HMAC does not give codeDigest');

  const parsed = JSON.parse(gunzipSync(body).toString('utf8')) as Upload;
  const canonical = (s: Upload['scans'][number]): ChainedScan => ({
    seq: s.seq,
    qrcode: s.qrcode,
    scannedAt: s.scanned_at,
    direction: s.direction,
    gateId: s.gate_id,
    localResult: s.local_result,
    scanId: null,
  });
  const hashes = parsed.scans.map((s) => payloadHashHex(eventId, deviceId, canonical(s)));
  const answer = parsed.scans.map((s, i) => ({
    qrcode: s.qrcode,
    seq: s.seq,
    status: 200,
    message: 'Synced successfully',
    sync_status: 'synced',
    ticket_id: randomUUID(),
    number: `T-${100_000 + i}`,
    type: 'General admission',
    verdict: 'admitted',
  }));

  const steps: Array<[string, () => unknown]> = [
    ['gunzip the body', () => gunzipSync(body)],
    ['JSON.parse the body', () => JSON.parse(gunzipSync(body).toString('utf8'))],
    ['payload hash of each scan', () => parsed.scans.map((s) => payloadHashHex(eventId, deviceId, canonical(s)))],
    [
      'chain links + one head signature',
      () => {
        const r = verifyChain({
          eventId,
          deviceId,
          publicKey: deviceKeys.publicKey,
          hashes,
          seqs: parsed.scans.map((s) => s.seq),
          prevLinkHex: parsed.integrity.prev_link,
          headSignature: parsed.integrity.head_signature,
          storedBefore: null,
          storedAfter: null,
        });
        if (!r.ok) throw new Error(`chain did not verify: ${r.reason}`);
      },
    ],
    // As EventContext.digestHex, what the sync keys each code with (the same bytes as codeDigest, as hex).
    ['keyed digest of each code (HMAC)', () => parsed.scans.map((s) => codeHmacHex(s.qrcode).slice(0, 32))],
    ['JSON.stringify the answer', () => JSON.stringify({ status: 200, results: answer })],
  ];

  const rows: Array<[string, number]> = [];
  for (const [name, fn] of steps) {
    for (let i = 0; i < 50; i++) fn();
    const c0 = process.cpuUsage();
    for (let i = 0; i < iterations; i++) fn();
    const c = process.cpuUsage(c0);
    rows.push([name, round((c.user + c.system) / iterations / SCANS, 2)]);
  }
  // JSON.parse's row includes the gunzip: count the parse alone.
  rows[1]![1] = round(rows[1]![1] - rows[0]![1], 2);
  const total = round(
    rows.reduce((a, [, us]) => a + us, 0),
    2,
  );
  return { scans: SCANS, gzippedBytes: body.length, steps: rows.map(([step, us]) => ({ step, us })), totalUs: total };
}
