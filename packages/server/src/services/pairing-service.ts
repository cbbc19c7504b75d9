import { createHash, randomBytes } from 'node:crypto';
import QRCode from 'qrcode';
import {
  formatPairingCode,
  normalisePairingCode,
  PAIR_URL_PARAM,
  PAIRING_CODE_BYTES,
  PAIRING_TTL_DEFAULT_S,
  type CreatePairingCodeBody,
  type PairDeviceBody,
  type PairingErrorCode,
} from '@entrada/core';
import { pgErrorCode, PG_UNIQUE_VIOLATION, type Database } from '../db/database.ts';
import { DomainError, notFound, rateLimited } from './errors.ts';
import type { DeviceRecord } from '../store/devices.ts';
import { insertLoginLog, recentPairingFailures } from '../store/organisations.ts';
import { consumePairingCode, findPairingCode, insertPairingCode, type PairingCodeRecord } from '../store/pairing.ts';
import type { RequestInfo } from './auth.ts';
import { newDeviceId, parsePublicKey, type DeviceService } from './device-service.ts';
import type { EventContext, EventContexts } from './event-context.ts';
import type { EventService } from './event-service.ts';
import { FailureLimiter, loggedFailuresRetryAfterMs } from './failure-limiter.ts';

/** Failed redemptions per address before 429: 40-bit codes cannot be guessed at this rate. */
export const PAIRING_FAILURE_LIMIT = 10;
export const PAIRING_FAILURE_WINDOW_MS = 15 * 60_000;
const DEFAULT_DEVICE_NAME = 'Paired scanner';

type RedeemFailure = Extract<PairingErrorCode, `PAIRING_CODE_${string}`>;
/** What the login log records, and what the client is told. */
const REDEEM_FAILURES: Record<RedeemFailure, [log: string, answer: string]> = {
  PAIRING_CODE_INVALID: [
    'unknown pairing code',
    'Unknown pairing code; check it and try again, or ask an organiser for a new one',
  ],
  PAIRING_CODE_EXPIRED: ['expired pairing code', 'This pairing code has expired; ask an organiser for a new one'],
  PAIRING_CODE_USED: [
    'pairing code already used',
    'This pairing code has already been used; ask an organiser for a new one',
  ],
};

export interface CreatedPairingCode {
  code: string;
  record: PairingCodeRecord;
  pairUrl: string;
  qrSvg: string;
}
export interface PairedDevice {
  device: DeviceRecord;
  token: string;
  ctx: EventContext;
  gateId: string | null;
}

/** The digest a code is stored and found by: SHA-256 hex of its normalised form. */
export function pairingCodeHash(normalised: string): string {
  return createHash('sha256').update(normalised, 'utf8').digest('hex');
}

/**
 * Pairing codes: an organiser makes a short-lived code for an event (and
 * optionally a gate); a scanner redeems it once, with nothing else, and gets
 * its device token. The code is the credential, so failed redemptions are
 * rate-limited per address and logged (without the code) in login_logs.
 */
export class PairingService {
  private readonly failures = new FailureLimiter({ limit: PAIRING_FAILURE_LIMIT, windowMs: PAIRING_FAILURE_WINDOW_MS });

  constructor(
    private readonly db: Database,
    private readonly events: EventService,
    private readonly contexts: EventContexts,
    private readonly devices: DeviceService,
    private readonly now: () => number = Date.now,
    /** ENTRADA_PUBLIC_URL: the origin pair URLs point at; otherwise the request's own. */
    private readonly publicUrl: string | undefined = undefined,
  ) {}

  /** `requestOrigin`: protocol and host the organiser reached this server at. */
  async create(
    organisationId: string,
    body: CreatePairingCodeBody,
    requestOrigin: string,
  ): Promise<CreatedPairingCode> {
    const { code, record } = await this.issue(organisationId, body);
    const pairUrl = this.pairUrl(code, requestOrigin);
    return {
      code,
      record,
      pairUrl,
      qrSvg: await QRCode.toString(pairUrl, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 }),
    };
  }

  /** A new code for the organisation's event (and gate): the code in clear, shown once, and its stored record. */
  async issue(
    organisationId: string,
    body: CreatePairingCodeBody,
  ): Promise<{ code: string; record: PairingCodeRecord }> {
    let ctx = await this.events.get(organisationId, body.event_id);
    const gateId = body.gate_id ?? null;
    if (gateId !== null && !ctx.gates.has(gateId)) {
      ctx = (await this.contexts.refresh(body.event_id))!;
      if (!ctx.gates.has(gateId)) throw notFound('Gate');
    }
    const createdAt = this.now();
    const expiresAt = createdAt + (body.ttl_s ?? PAIRING_TTL_DEFAULT_S) * 1000;
    // 40 random bits: a repeat among live codes is unlikely, but the unique index has the last word.
    for (let attempt = 0; ; attempt++) {
      const code = formatPairingCode(randomBytes(PAIRING_CODE_BYTES));
      try {
        const record = await insertPairingCode(this.db, {
          organisationId,
          eventId: body.event_id,
          codeHash: pairingCodeHash(normalisePairingCode(code)!),
          name: body.name ?? null,
          gateId,
          createdAt,
          expiresAt,
        });
        return { code, record };
      } catch (err) {
        if (pgErrorCode(err) !== PG_UNIQUE_VIOLATION || attempt >= 3) throw err;
      }
    }
  }

  /** Whether a code would pair a device now (for the demo banner, which shows its code on every start). */
  async redeemable(code: string): Promise<boolean> {
    const normalised = normalisePairingCode(code);
    const found = normalised === null ? null : await findPairingCode(this.db, pairingCodeHash(normalised));
    return found !== null && found.usedAt === null && found.expiresAt > this.now();
  }

  /** `<origin>/?pair=XXXX-XXXX`, the origin being ENTRADA_PUBLIC_URL when set. */
  pairUrl(code: string, requestOrigin: string): string {
    const origin = (this.publicUrl ?? requestOrigin).replace(/\/+$/, '');
    return `${origin}/?${PAIR_URL_PARAM}=${encodeURIComponent(code)}`;
  }

  /**
   * Redeems a code: it is used up and the device registered (with its public
   * key and a new token) in one transaction, so a code pairs exactly one
   * device even when two redeem it at once, and a failed registration leaves
   * the code usable.
   */
  async redeem(body: PairDeviceBody, req: RequestInfo): Promise<PairedDevice> {
    const now = this.now();
    if (this.failures.blocked(req.ip, now)) {
      await this.log(req, { success: false, message: 'rate limited' });
      throw rateLimited(
        'Too many failed pairing attempts from this address; wait and try again',
        this.failures.retryAfterMs(req.ip, now),
      );
    }
    // A malformed key is the client's bug, not a guess: checked before the code is touched, not counted.
    const publicKey = parsePublicKey(body.public_key);
    // Counted as a failure from here on, in the same synchronous step as the check: a burst of
    // parallel guesses gets no more tries than the limit. A success takes it back.
    this.failures.record(req.ip, now);
    // The same limit across every API instance, from the shared login log (this instance's own counter only
    // sees the attempts that came here).
    const sharedWait = loggedFailuresRetryAfterMs(
      await recentPairingFailures(this.db, req.ip, now - PAIRING_FAILURE_WINDOW_MS),
      PAIRING_FAILURE_LIMIT,
      PAIRING_FAILURE_WINDOW_MS,
      now,
    );
    if (sharedWait > 0) {
      this.failures.forgive(req.ip, now);
      await this.log(req, { success: false, message: 'rate limited' });
      throw rateLimited('Too many failed pairing attempts from this address; wait and try again', sharedWait);
    }
    const normalised = normalisePairingCode(body.code);
    if (normalised === null) return this.fail(req, 'PAIRING_CODE_INVALID', null);
    const hash = pairingCodeHash(normalised);
    const deviceId = newDeviceId();
    const result = await this.db.transaction(async (tx) => {
      const code = await consumePairingCode(tx, hash, now, deviceId);
      if (!code) return { failed: await findPairingCode(tx, hash) };
      const settings = body.platform ? { platform: body.platform } : {};
      const { device, token } = await this.devices.register(
        code.organisationId,
        {
          name: code.name ?? body.name ?? DEFAULT_DEVICE_NAME,
          device_id: deviceId,
          public_key: publicKey.toString('base64url'),
          // A paired device uses the code's event only, until an organiser adds more.
          event_ids: [code.eventId],
        },
        { sql: tx, settings },
      );
      return { code, device, token };
    });
    if ('failed' in result) {
      const found = result.failed;
      if (!found) return this.fail(req, 'PAIRING_CODE_INVALID', null);
      return this.fail(req, found.usedAt !== null ? 'PAIRING_CODE_USED' : 'PAIRING_CODE_EXPIRED', found);
    }
    const { code, device, token } = result;
    this.failures.forgive(req.ip, now);
    await this.log(req, { success: true, message: 'device paired', code, deviceId: device.deviceId });
    const ctx = await this.contexts.get(code.eventId);
    if (!ctx) throw notFound('Event');
    return { device, token, ctx, gateId: code.gateId };
  }

  /** The attempt has already been counted against the address. */
  private async fail(req: RequestInfo, error: RedeemFailure, code: PairingCodeRecord | null): Promise<never> {
    const [logMessage, answer] = REDEEM_FAILURES[error];
    await this.log(req, { success: false, message: logMessage, code });
    throw new DomainError(error, answer);
  }

  /** Never the code itself: which kind of attempt, from where, and what it paired. */
  private async log(
    req: RequestInfo,
    entry: { success: boolean; message: string; code?: PairingCodeRecord | null; deviceId?: string },
  ): Promise<void> {
    await insertLoginLog(this.db, {
      organisationId: entry.code?.organisationId ?? null,
      eventId: entry.code?.eventId ?? null,
      identifier: 'pairing-code',
      deviceId: entry.deviceId ?? null,
      success: entry.success,
      message: entry.message,
      ip: req.ip,
      userAgent: req.userAgent ?? null,
      at: this.now(),
    }).catch(() => undefined);
  }
}
