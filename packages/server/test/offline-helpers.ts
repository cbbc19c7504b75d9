import { chainGenesis, chainUpload, ed25519, toBase64Url, toHex, type ChainedScan } from '@entrada/core';
import type { Client, Reply } from './harness.ts';

export interface OfflineScanInput {
  code: string;
  at: number;
  direction?: 'entry' | 'exit';
  gateId?: string | null;
  localResult?: string | null;
  /** The id of an online attempt of this scan (the device timed out and decided offline). */
  scanId?: string;
}

/**
 * A scanner as the server sees it: gap-free seqs per event, a hash chain over
 * its scans when it has a key, and uploads of any slice of its log.
 */
export class TestDevice {
  readonly log: Array<ChainedScan & { seq: number }> = [];
  readonly links: Uint8Array[] = [];
  keys: { secretKey: Uint8Array; publicKey: Uint8Array } | null = null;

  constructor(
    readonly client: Client,
    readonly deviceId: string,
    readonly eventId: string,
  ) {}

  static keyPair(seed: number): { secretKey: Uint8Array; publicKey: Uint8Array } {
    return ed25519.generateKeyPair((n) => new Uint8Array(n).fill(seed));
  }

  scan(input: OfflineScanInput): ChainedScan & { seq: number } {
    const s = {
      seq: this.log.length + 1,
      qrcode: input.code,
      scannedAt: input.at,
      direction: input.direction ?? 'entry',
      gateId: input.gateId ?? null,
      localResult: input.localResult === undefined ? 'valid' : input.localResult,
      scanId: input.scanId ?? null,
    } as const;
    this.log.push({ ...s });
    return s;
  }

  /** The upload body for scans[from..to] (1-based seqs, inclusive). */
  body(from: number, to: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
    const scans = this.log.slice(from - 1, to);
    const body: Record<string, unknown> = {
      event_id: this.eventId,
      device_id: this.deviceId,
      session_token: `sess-${this.deviceId}-${from}-${to}`,
      device_time: this.client.now(),
      scans: scans.map((s) => ({
        qrcode: s.qrcode,
        scanned_at: s.scannedAt,
        seq: s.seq,
        direction: s.direction,
        gate_id: s.gateId,
        local_result: s.localResult,
        ...(s.scanId ? { scan_id: s.scanId } : {}),
      })),
      ...extra,
    };
    if (this.keys && scans.length > 0) {
      const prev = this.linkBefore(from);
      const { headMessage } = chainUpload(this.eventId, this.deviceId, prev, scans);
      body.integrity = {
        prev_link: toHex(prev),
        head_signature: toBase64Url(ed25519.sign(this.keys.secretKey, headMessage)),
      };
    }
    return body;
  }

  upload(from = 1, to = this.log.length, extra: Record<string, unknown> = {}): Promise<Reply> {
    return this.client.post('/api/v1/offline/sync', this.body(from, to, extra));
  }

  linkBefore(seq: number): Uint8Array {
    const genesis = chainGenesis(this.eventId, this.deviceId);
    return seq <= 1
      ? genesis
      : chainUpload(this.eventId, this.deviceId, genesis, this.log.slice(0, seq - 1)).links.at(-1)!;
  }
}
