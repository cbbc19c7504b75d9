/**
 * Offline-sync benchmark helpers: tickets with their ids, scanner devices that
 * registered an Ed25519 public key, a deterministic plan of offline scans
 * (who scanned which ticket when, with a share of tickets scanned by two
 * devices), and upload bodies built exactly as a device builds them
 * (packages/server/test/offline-helpers.ts): per device and event gap-free
 * seqs from 1, a hash chain over the scans and one signature per upload.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { gzipSync } from 'node:zlib';
import { chainGenesis, chainUpload, ed25519, toBase64Url, toHex, type ChainedScan } from '@entrada/core';
import type { Api, BenchEvent } from './api.ts';

export interface IssuedTicket {
  id: string;
  code: string;
  number: string;
}

/** Like api.ts's bulkCreateTickets (same ticket mix), but keeps each ticket's id and number too. */
export async function bulkCreateTicketsWithIds(
  api: Api,
  adminToken: string,
  event: BenchEvent,
  total: number,
  perCall = 10_000,
): Promise<{
  tickets: IssuedTicket[];
  callMs: number[];
  totalMs: number;
}> {
  const tickets: IssuedTicket[] = [];
  const callMs: number[] = [];
  const t0 = performance.now();
  for (let done = 0; done < total; done += perCall) {
    const n = Math.min(perCall, total - done);
    const body = Array.from({ length: n }, (_, i) => ({
      ticket_type_id: (done + i) % 50 === 0 ? event.typeIds[1]! : event.typeIds[0]!,
      holder_name: `Guest ${done + i + 1}`,
    }));
    const c0 = performance.now();
    const res = await api.expect<{ tickets: IssuedTicket[] }>(
      201,
      'POST',
      `/api/v1/events/${event.eventId}/tickets`,
      adminToken,
      { tickets: body },
    );
    callMs.push(performance.now() - c0);
    for (const t of res.tickets) tickets.push({ id: t.id, code: t.code, number: t.number });
  }
  return { tickets, callMs, totalMs: performance.now() - t0 };
}

export interface KeyedDevice {
  deviceId: string;
  token: string;
  secretKey: Uint8Array;
  publicKey: Uint8Array;
  /** The gate this scanner stands at (it puts it in every scan). */
  gateId: string;
}

/** Registers `count` scanners, each with its own Ed25519 key pair (public key sent as base64url). */
export async function registerKeyedDevices(
  api: Api,
  adminToken: string,
  event: BenchEvent,
  count: number,
  prefix: string,
): Promise<KeyedDevice[]> {
  const out: KeyedDevice[] = [];
  for (let i = 0; i < count; i++) {
    const keys = ed25519.generateKeyPair((n) => new Uint8Array(randomBytes(n)));
    const d = await api.expect<{ device_id: string; token: string; has_public_key: boolean }>(
      201,
      'POST',
      '/api/v1/devices',
      adminToken,
      {
        name: `Offline scanner ${i + 1}`,
        device_id: `${prefix}-${String(i + 1).padStart(3, '0')}`,
        public_key: toBase64Url(keys.publicKey),
      },
    );
    if (!d.has_public_key) throw new Error(`device ${d.device_id} was registered without its public key`);
    out.push({
      deviceId: d.device_id,
      token: d.token,
      secretKey: keys.secretKey,
      publicKey: keys.publicKey,
      gateId: event.gateIds[i % event.gateIds.length]!,
    });
  }
  return out;
}

/** mulberry32: a small seeded PRNG, so a plan is the same in every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle<T>(a: T[], rnd: () => number): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

export interface PlannedScan {
  ticket: number;
  at: number;
}

export interface OfflinePlan {
  /** Per device, its scans in time order: scan i has seq i + 1. */
  perDevice: PlannedScan[][];
  /** Ticket indices scanned by two different devices (each such pair ends as one admission and one conflict). */
  doubled: number[];
  /** Ticket indices no device scans offline (the manifest-delta phase scans some of them online). */
  notScanned: number[];
  totalScans: number;
}

/**
 * `devices × perDevice` offline scans over `tickets` tickets: `overlap`
 * (a share of the tickets) are scanned by two different devices, every other
 * scanned ticket by one; scan times are uniform over [windowStart, windowStart
 * + windowMs). Deterministic for a seed.
 */
export function planOfflineScans(opts: {
  tickets: number;
  devices: number;
  perDevice: number;
  overlap: number;
  windowStart: number;
  windowMs: number;
  seed: number;
}): OfflinePlan {
  const rnd = prng(opts.seed);
  const total = opts.devices * opts.perDevice;
  const doubledCount = Math.round(opts.overlap * opts.tickets);
  const unique = total - doubledCount;
  if (unique > opts.tickets || unique < doubledCount)
    throw new Error(`cannot plan ${total} scans with ${doubledCount} doubled over ${opts.tickets} tickets`);
  const order = shuffle(
    Array.from({ length: opts.tickets }, (_, i) => i),
    rnd,
  );
  const notScanned = order.slice(0, opts.tickets - unique);
  const scanned = order.slice(opts.tickets - unique);
  const doubled = scanned.slice(0, doubledCount);
  const doubledSet = new Set(doubled);
  const list = shuffle([...scanned, ...doubled], rnd);
  // Both scans of a doubled ticket must come from two devices: move a second copy found on the same device elsewhere.
  const P = opts.perDevice;
  for (let d = 0; d < opts.devices; d++) {
    const seen = new Set<number>();
    for (let i = d * P; i < (d + 1) * P; i++) {
      const t = list[i]!;
      if (!doubledSet.has(t)) continue;
      if (!seen.has(t)) {
        seen.add(t);
        continue;
      }
      for (;;) {
        const j = Math.floor(rnd() * total);
        if (Math.floor(j / P) === d || doubledSet.has(list[j]!)) continue;
        [list[i], list[j]] = [list[j]!, list[i]!];
        break;
      }
    }
  }
  const perDevice: PlannedScan[][] = [];
  for (let d = 0; d < opts.devices; d++) {
    const scans = list
      .slice(d * P, (d + 1) * P)
      .map((ticket) => ({ ticket, at: Math.floor(opts.windowStart + rnd() * opts.windowMs) }));
    scans.sort((a, b) => a.at - b.at);
    perDevice.push(scans);
  }
  return { perDevice, doubled, notScanned, totalScans: total };
}

export interface Upload {
  deviceIndex: number;
  batch: number;
  fromSeq: number;
  toSeq: number;
  scans: number;
  /** What goes on the wire (gzipped when the plan says so). */
  body: Buffer;
  rawBytes: number;
  gzipped: boolean;
}

export interface BuiltUploads {
  /** Per device, its uploads in seq order. */
  perDevice: Upload[][];
  /** Wall time to build everything (chain, signatures, JSON, gzip). */
  buildMs: number;
  /** Of which: hashing the chain and signing the heads (core's code, as on a device). */
  chainMs: number;
  jsonMs: number;
  gzipMs: number;
  rawBytes: number;
  wireBytes: number;
}

/**
 * Every upload body of every device, built before any is sent: a contiguous
 * run of seqs per upload, chained from the previous upload's last link, the
 * head signed with the device's key; JSON, then gzip (level 6, as
 * CompressionStream and zlib default to) unless `gzip` is false.
 */
export function buildUploads(opts: {
  eventId: string;
  devices: KeyedDevice[];
  plan: OfflinePlan;
  codes: string[];
  batchSize: number;
  gzip: boolean;
}): BuiltUploads {
  const t0 = performance.now();
  let chainMs = 0;
  let jsonMs = 0;
  let gzipMs = 0;
  let rawBytes = 0;
  let wireBytes = 0;
  const perDevice: Upload[][] = [];
  opts.devices.forEach((dev, d) => {
    const scans: ChainedScan[] = opts.plan.perDevice[d]!.map((p, i) => ({
      seq: i + 1,
      qrcode: opts.codes[p.ticket]!,
      scannedAt: p.at,
      direction: 'entry',
      gateId: dev.gateId,
      localResult: 'valid',
    }));
    const uploads: Upload[] = [];
    let prev = chainGenesis(opts.eventId, dev.deviceId);
    for (let from = 0, batch = 1; from < scans.length; from += opts.batchSize, batch++) {
      const slice = scans.slice(from, from + opts.batchSize);
      const c0 = performance.now();
      const { links, headMessage } = chainUpload(opts.eventId, dev.deviceId, prev, slice);
      const signature = ed25519.sign(dev.secretKey, headMessage);
      chainMs += performance.now() - c0;
      const j0 = performance.now();
      const json = JSON.stringify({
        event_id: opts.eventId,
        device_id: dev.deviceId,
        session_token: `bench-${dev.deviceId}-${slice[0]!.seq}-${slice.at(-1)!.seq}`,
        device_time: Date.now(),
        device_last_seq: scans.length,
        scans: slice.map((s) => ({
          qrcode: s.qrcode,
          scanned_at: s.scannedAt,
          seq: s.seq,
          direction: s.direction,
          gate_id: s.gateId,
          local_result: s.localResult,
        })),
        integrity: { prev_link: toHex(prev), head_signature: toBase64Url(signature) },
      });
      const raw = Buffer.from(json);
      jsonMs += performance.now() - j0;
      let body = raw;
      if (opts.gzip) {
        const g0 = performance.now();
        body = gzipSync(raw, { level: 6 });
        gzipMs += performance.now() - g0;
      }
      rawBytes += raw.length;
      wireBytes += body.length;
      uploads.push({
        deviceIndex: d,
        batch,
        fromSeq: slice[0]!.seq,
        toSeq: slice.at(-1)!.seq,
        scans: slice.length,
        body,
        rawBytes: raw.length,
        gzipped: opts.gzip,
      });
      prev = links.at(-1)!;
    }
    perDevice.push(uploads);
  });
  return { perDevice, buildMs: performance.now() - t0, chainMs, jsonMs, gzipMs, rawBytes, wireBytes };
}
