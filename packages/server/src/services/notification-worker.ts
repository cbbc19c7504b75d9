import type { Logger } from 'pino';
import type { Database } from '../db/database.ts';
import {
  claimMail,
  dueWebhookDeliveries,
  enqueueOverdueConflictMail,
  leaseWebhookDeliveries,
  recordMailResults,
  recordWebhookAttempts,
  type AttemptResult,
  type ClaimedDelivery,
} from '../store/notifications.ts';
import { PrivateAddressError, privateHostReason, webhookAgent } from './webhook-address.ts';
import { signWebhook } from './webhook-service.ts';
import { fetch, type Agent } from 'undici';

const SECOND = 1000;
const HOUR = 3600 * SECOND;

/** Sends one mail (nodemailer's transport in production; anything with the same shape in tests). */
export interface MailSender {
  send(mail: { to: string; subject: string; text: string }): Promise<void>;
}

export interface NotificationWorkerOptions {
  /** One attempt's limit: a receiver slower than this counts as failed and is retried later. */
  timeoutMs: number;
  /** Deliveries claimed per pass (delivered concurrently). */
  batch: number;
  /** Retries go on this long after the notification, then it is marked failed. */
  retryForMs: number;
  /** The first retry's ceiling; it doubles per attempt up to `maxDelayMs` (full jitter: a random delay below it). */
  baseDelayMs: number;
  maxDelayMs: number;
  /** A conflict open longer than this is mailed to the event's managers and owners (seed 004: 24 h). */
  conflictMailAfterMs: number;
  /** The console's origin for links in mail (ENTRADA_PUBLIC_URL). */
  consoleUrl: string | null;
  random: () => number;
  /** ENTRADA_WEBHOOK_ALLOW_PRIVATE: deliver to receivers on private addresses too (see webhook-address.ts). */
  allowPrivate: boolean;
  /** Test-only: claim without FOR UPDATE SKIP LOCKED, to show the double delivery it prevents. */
  unsafeNoSkipLocked?: boolean;
  /** Test-only: called inside the claim's transaction after the due rows are read, before they are leased. */
  afterClaimRead?: () => Promise<void>;
}

export const DEFAULT_WORKER_OPTIONS: Omit<NotificationWorkerOptions, 'consoleUrl'> = {
  timeoutMs: 10 * SECOND,
  batch: 20,
  retryForMs: 24 * HOUR,
  baseDelayMs: 5 * SECOND,
  maxDelayMs: HOUR,
  conflictMailAfterMs: 24 * HOUR,
  random: Math.random,
  allowPrivate: false,
};

/** Error text for the log: what went wrong, never the URL (its query may hold a receiver's token) or a body. */
function describeError(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError'))
    return `timed out after ${timeoutMs} ms`;
  const cause = err instanceof Error ? (err.cause as { code?: unknown } | undefined) : undefined;
  if (cause instanceof PrivateAddressError) return `refused: ${cause.message}`;
  if (cause && typeof cause.code === 'string') return `connection failed (${cause.code})`;
  return err instanceof Error ? `${err.name}`.slice(0, 100) : 'failed';
}

/**
 * Delivers the outboxes (issue 13 §3): on a timer, every instance claims due rows (FOR UPDATE SKIP LOCKED, so
 * several instances share the work and never deliver one row twice), calls receivers outside any transaction with
 * a timeout per attempt, and records each attempt. Failures retry with exponential backoff and full jitter until
 * `retryForMs` after the notification, then the delivery is marked failed. Nothing here runs on a scan's path.
 */
export class NotificationWorker {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private readonly options: NotificationWorkerOptions;
  /** Connections for deliveries: to public addresses only unless private receivers are allowed. */
  private readonly agent: Agent;

  constructor(
    private readonly db: Database,
    private readonly signingKey: (sealed: Uint8Array) => Buffer,
    private readonly mail: MailSender | null,
    private readonly now: () => number,
    private readonly log: Logger,
    options: Partial<NotificationWorkerOptions> = {},
  ) {
    this.options = { ...DEFAULT_WORKER_OPTIONS, consoleUrl: null, ...options };
    this.agent = webhookAgent(this.options.allowPrivate);
  }

  /** Runs a pass every `intervalMs` (0: never; tests call `runOnce`). */
  start(intervalMs: number): void {
    if (intervalMs <= 0 || this.timer) return;
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.runOnce()
        .then(
          () => undefined,
          (err: unknown) => {
            this.log.warn({ err }, 'notification delivery pass failed; next pass on the timer');
          },
        )
        .finally(() => {
          this.running = null;
        });
    }, intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  /** One pass: overdue conflicts queued for mail, then due webhooks and mail delivered. Answers how many were attempted. */
  async runOnce(): Promise<{ webhooks: number; mail: number }> {
    const now = this.now();
    if (this.mail)
      await enqueueOverdueConflictMail(this.db, now, now - this.options.conflictMailAfterMs, this.options.consoleUrl);
    const [webhooks, mail] = await Promise.all([
      this.deliverWebhooks(now),
      this.mail ? this.sendMail(now, this.mail) : Promise.resolve(0),
    ]);
    return { webhooks, mail };
  }

  /** When the next attempt is due after `attempts` failures, or null when retries are over (full jitter). */
  nextAttempt(createdAt: number, attempts: number, now: number): number | null {
    const ceiling = Math.min(this.options.maxDelayMs, this.options.baseDelayMs * 2 ** Math.max(0, attempts - 1));
    const next = now + Math.floor(this.options.random() * ceiling);
    return now >= createdAt + this.options.retryForMs ? null : Math.min(next, createdAt + this.options.retryForMs);
  }

  private async deliverWebhooks(now: number): Promise<number> {
    const o = this.options;
    const claimed = await this.db.transaction(async (tx) => {
      const due = await dueWebhookDeliveries(tx, now, o.batch, o.unsafeNoSkipLocked);
      await o.afterClaimRead?.();
      // The lease: past the attempt's timeout, so a worker that died mid-attempt lets another retry it.
      return leaseWebhookDeliveries(tx, due, now + o.timeoutMs + 30 * SECOND);
    });
    if (claimed.length === 0) return 0;
    const results = await Promise.all(claimed.map((d) => this.attempt(d)));
    await recordWebhookAttempts(this.db, results);
    const failed = results.filter((r) => r.state === 'failed').length;
    if (failed > 0) this.log.warn({ failed }, 'webhook deliveries failed for good after retrying for 24 h');
    return claimed.length;
  }

  private async attempt(d: ClaimedDelivery): Promise<AttemptResult> {
    const started = this.now();
    const timestampS = Math.floor(started / SECOND);
    const t0 = performance.now();
    let status: number | null = null;
    let error: string | null = null;
    try {
      // A literal address never goes through the lookup the agent checks, so it is checked here.
      if (!this.options.allowPrivate && privateHostReason(new URL(d.url)))
        throw new TypeError('fetch failed', { cause: new PrivateAddressError() });
      const res = await fetch(d.url, {
        method: 'POST',
        redirect: 'manual',
        signal: AbortSignal.timeout(this.options.timeoutMs),
        dispatcher: this.agent,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Entrada-Webhooks/1',
          'webhook-id': d.id,
          'webhook-timestamp': String(timestampS),
          'webhook-signature': signWebhook(this.signingKey(d.secret_sealed), d.id, timestampS, d.body),
        },
        body: d.body,
      });
      status = res.status;
      // The body is not read (nor kept): only the status counts.
      await res.body?.cancel().catch(() => undefined);
      if (status < 200 || status > 299) error = `HTTP ${status}`;
    } catch (err) {
      error = describeError(err, this.options.timeoutMs);
    }
    const durationMs = Math.round(performance.now() - t0);
    const base = {
      organisationId: d.organisation_id,
      webhookId: d.webhook_id,
      deliveryId: d.id,
      attempt: d.attempts,
      at: started,
      status,
      durationMs,
      error,
    };
    if (error === null) return { ...base, state: 'delivered', nextAttemptAt: started };
    const next = this.nextAttempt(d.created_at.getTime(), d.attempts, started);
    return next === null
      ? { ...base, state: 'failed', nextAttemptAt: started }
      : { ...base, state: 'pending', nextAttemptAt: next };
  }

  private async sendMail(now: number, sender: MailSender): Promise<number> {
    const claimed = await this.db.transaction((tx) =>
      claimMail(tx, now, now + this.options.timeoutMs + 30 * SECOND, this.options.batch),
    );
    if (claimed.length === 0) return 0;
    const results = await Promise.all(
      claimed.map(async (m) => {
        try {
          await sender.send({ to: m.to_address, subject: m.subject, text: m.body });
          return {
            organisationId: m.organisation_id,
            id: m.id,
            state: 'sent' as const,
            error: null,
            at: now,
            nextAttemptAt: now,
          };
        } catch (err) {
          // The SMTP server's answer code, never the address or the message.
          const code = err as { responseCode?: unknown; code?: unknown };
          const error =
            typeof code.responseCode === 'number'
              ? `SMTP ${code.responseCode}`
              : typeof code.code === 'string'
                ? code.code
                : 'send failed';
          const next = this.nextAttempt(m.created_at.getTime(), m.attempts, now);
          return {
            organisationId: m.organisation_id,
            id: m.id,
            state: next === null ? ('failed' as const) : ('pending' as const),
            error,
            at: now,
            nextAttemptAt: next ?? now,
          };
        }
      }),
    );
    await recordMailResults(this.db, results);
    return claimed.length;
  }
}
