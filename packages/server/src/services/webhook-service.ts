import { createHmac, randomBytes } from 'node:crypto';
import type {
  AlertEmailView,
  WebhookCreateBody,
  WebhookCreated,
  WebhookDeliveryPage,
  WebhookDeliveryView,
  WebhookEventType,
  WebhookTestQueued,
  WebhookView,
} from '@entrada/core';
import type { Database, Sql } from '../db/database.ts';
import { deriveKey, seal, unseal } from '../crypto/seal.ts';
import { insertAudit } from '../store/audit.ts';
import { existingEventIds } from '../store/events.ts';
import {
  criticalAlertEmail,
  deleteWebhook,
  enqueueTestDelivery,
  enqueueCriticalAlertMail,
  enqueueWebhookDeliveries,
  findWebhook,
  insertWebhook,
  listWebhookDeliveries,
  listWebhooks,
  setCriticalAlertEmail,
  type QueuedMail,
  type QueuedNotification,
  type WebhookRow,
} from '../store/notifications.ts';
import { findUser } from '../store/users.ts';
import { iso, ms } from '../store/rows.ts';
import type { Caller } from './audit.ts';
import { DomainError, invalid, notFound } from './errors.ts';
import type { Notifier, OrganiserNotification } from './notifications.ts';
import { privateHostReason } from './webhook-address.ts';

export const SECRET_PREFIX = 'whsec_';

/**
 * The Standard Webhooks signature of one message: `v1,` and the base64 HMAC-SHA256 of `id.timestamp.body`, keyed
 * with the secret's bytes (base64 after `whsec_`). Receivers compute the same and compare in constant time.
 */
export function signWebhook(key: Uint8Array, id: string, timestampS: number, body: string): string {
  return `v1,${createHmac('sha256', key).update(`${id}.${timestampS}.${body}`).digest('base64')}`;
}

/**
 * http(s) only, no user:password@ (a credential would sit in the database and in every error message), and unless
 * private receivers are allowed, no host that is a private address or this machine (see webhook-address.ts).
 */
export function checkWebhookUrl(raw: string, allowPrivate: boolean): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalid('/url must be an absolute http:// or https:// URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalid('/url must be an http:// or https:// URL');
  if (url.username !== '' || url.password !== '')
    throw invalid('/url must not carry credentials (user:password@); authenticate the receiver by the signature');
  if (url.hash !== '') throw invalid('/url must not have a #fragment');
  const privateHost = allowPrivate ? null : privateHostReason(url);
  if (privateHost) {
    throw invalid(
      `/url ${privateHost}: webhooks go to public receivers (an operator can allow receivers inside their network with ENTRADA_WEBHOOK_ALLOW_PRIVATE=1)`,
    );
  }
  return url.toString();
}

const typesOf = (r: WebhookRow): WebhookEventType[] =>
  (typeof r.types === 'string'
    ? r.types
        .replace(/^\{|\}$/g, '')
        .split(',')
        .filter(Boolean)
    : r.types) as WebhookEventType[];

function view(r: WebhookRow): WebhookView {
  return {
    id: r.id,
    url: r.url,
    events: typesOf(r),
    event_id: r.event_id,
    created_by: r.created_by,
    created_at: iso(ms(r.created_at))!,
  };
}

/** The JSON a receiver gets (Standard Webhooks' payload shape: type, timestamp, data). */
export function webhookBody(n: OrganiserNotification): string {
  return JSON.stringify({ type: n.type, timestamp: new Date(n.occurredAt).toISOString(), data: n.data });
}

const encodeCursor = (at: Date, id: string): string =>
  Buffer.from(JSON.stringify([at.toISOString(), id])).toString('base64url');
function decodeCursor(cursor: string): { at: string; id: string } {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [unknown, unknown];
    if (typeof at === 'string' && !Number.isNaN(Date.parse(at)) && typeof id === 'string' && /^[0-9a-f-]{36}$/.test(id))
      return { at, id };
  } catch {
    /* answered below */
  }
  throw invalid('cursor is not one this server gave; start again without it');
}

/** Webhook subscriptions and users' email subscriptions (issue 13 §3). */
export class WebhookService {
  private readonly sealKey: Buffer;

  constructor(
    private readonly db: Database,
    secret: Uint8Array,
    private readonly now: () => number,
    /** Whether mail is sent at all (SMTP_URL). */
    private readonly emailEnabled: boolean,
    /** ENTRADA_WEBHOOK_ALLOW_PRIVATE: receivers on private addresses may be saved. */
    private readonly allowPrivate = false,
  ) {
    this.sealKey = deriveKey(secret, 'webhook-secret');
  }

  /** The signing key of a stored webhook (the worker signs with it). */
  signingKey(sealed: Uint8Array): Buffer {
    return unseal(this.sealKey, sealed);
  }

  async create(c: Caller, body: WebhookCreateBody): Promise<WebhookCreated> {
    const url = checkWebhookUrl(body.url, this.allowPrivate);
    const eventId = body.event_id ?? null;
    if (eventId !== null && !(await existingEventIds(this.db, c.organisationId, [eventId])).has(eventId))
      throw notFound('Event');
    // 32 random bytes (the specification asks for 24 to 64); shown once, stored sealed, never logged.
    const key = randomBytes(32);
    const at = this.now();
    const row = await this.db.transaction(async (tx) => {
      const created = await insertWebhook(tx, {
        organisationId: c.organisationId,
        eventId,
        url,
        types: body.events,
        secretSealed: seal(this.sealKey, key),
        createdBy: c.actor,
        at,
      });
      await insertAudit(tx, {
        organisationId: c.organisationId,
        eventId,
        actor: c.actor,
        action: 'webhook.create',
        subjectKind: 'webhook',
        subjectId: created.id,
        before: null,
        after: { url: new URL(url).origin, events: body.events },
      });
      return created;
    });
    return { ...view(row), secret: SECRET_PREFIX + key.toString('base64') };
  }

  async list(organisationId: string): Promise<WebhookView[]> {
    return (await listWebhooks(this.db, organisationId)).map(view);
  }

  async remove(c: Caller, id: string): Promise<void> {
    const found = await findWebhook(this.db, c.organisationId, id);
    if (!found) throw notFound('Webhook');
    await this.db.transaction(async (tx) => {
      if (!(await deleteWebhook(tx, c.organisationId, id))) throw notFound('Webhook');
      await insertAudit(tx, {
        organisationId: c.organisationId,
        eventId: found.event_id,
        actor: c.actor,
        action: 'webhook.delete',
        subjectKind: 'webhook',
        subjectId: id,
        before: { url: new URL(found.url).origin, events: typesOf(found) },
        after: null,
      });
    });
  }

  async deliveries(
    organisationId: string,
    id: string,
    cursor: string | undefined,
    limitText: string | undefined,
  ): Promise<WebhookDeliveryPage> {
    const limit = Number(limitText ?? 50);
    if (limit < 1 || limit > 200) throw invalid('limit must be between 1 and 200');
    if (!(await findWebhook(this.db, organisationId, id))) throw notFound('Webhook');
    const rows = await listWebhookDeliveries(
      this.db,
      organisationId,
      id,
      cursor ? decodeCursor(cursor) : null,
      limit + 1,
    );
    const page = rows.slice(0, limit);
    return {
      deliveries: page.map((d) => ({
        id: d.id,
        type: d.type,
        event_id: d.event_id,
        created_at: iso(ms(d.created_at))!,
        state: d.state,
        attempts: d.attempts,
        next_attempt_at: d.state === 'pending' ? iso(ms(d.next_attempt_at)) : null,
        last_status: d.last_status,
        last_error: d.last_error,
        finished_at: iso(ms(d.finished_at)),
        log: (typeof d.log === 'string' ? (JSON.parse(d.log) as WebhookDeliveryView['log']) : d.log).map((a) => ({
          ...a,
          at: iso(ms(a.at))!,
        })),
      })),
      next_cursor: rows.length > limit ? encodeCursor(page.at(-1)!.created_at, page.at(-1)!.id) : null,
    };
  }

  /** Queues a `webhook.test` message for this webhook alone (to check a receiver and its signature check). */
  async test(organisationId: string, id: string): Promise<WebhookTestQueued> {
    const found = await findWebhook(this.db, organisationId, id);
    if (!found) throw notFound('Webhook');
    const at = this.now();
    const body = JSON.stringify({
      type: 'webhook.test',
      timestamp: new Date(at).toISOString(),
      data: { webhook_id: id },
    });
    await enqueueTestDelivery(this.db, organisationId, id, body, at);
    return { queued: 1 };
  }

  /** The signed-in person; an admin token is no person and has no address. */
  private async person(userId: string | null, organisationId: string): Promise<{ id: string; email: string }> {
    const user = userId === null ? null : await findUser(this.db, organisationId, userId);
    if (!user)
      throw new DomainError(
        'FORBIDDEN',
        'Email subscriptions are per person: sign in to the console (an admin token has no address)',
      );
    return user;
  }

  async alertEmail(userId: string | null, organisationId: string): Promise<AlertEmailView> {
    const user = await this.person(userId, organisationId);
    return {
      critical_alerts: await criticalAlertEmail(this.db, organisationId, user.id),
      email_enabled: this.emailEnabled,
      email: user.email,
    };
  }

  async setAlertEmail(userId: string | null, organisationId: string, on: boolean): Promise<AlertEmailView> {
    const user = await this.person(userId, organisationId);
    await setCriticalAlertEmail(this.db, organisationId, user.id, on, this.now());
    return { critical_alerts: on, email_enabled: this.emailEnabled, email: user.email };
  }
}

/**
 * The Notifier of a running server: queues, in the caller's transaction, a webhook delivery per matching
 * subscription (one INSERT … SELECT for the batch) and, when mail is configured, a mail per subscribed person for
 * each critical alert raised (one more).
 */
export class OutboxNotifier implements Notifier {
  constructor(
    private readonly now: () => number,
    private readonly emailEnabled: boolean,
  ) {}

  async notify(tx: Sql, notifications: readonly OrganiserNotification[]): Promise<void> {
    if (notifications.length === 0) return;
    const at = this.now();
    const queued: QueuedNotification[] = notifications.map((n) => ({
      type: n.type,
      organisationId: n.organisationId,
      eventId: n.eventId,
      body: webhookBody(n),
      createdAt: n.occurredAt,
    }));
    await enqueueWebhookDeliveries(tx, queued, at);
    if (this.emailEnabled)
      await enqueueCriticalAlertMail(
        tx,
        notifications.flatMap((n) => criticalAlertMail(n)),
      );
  }
}

/** The mail of a critical alert raised (none for anything else). Names and numbers only: no codes, no personal data. */
export function criticalAlertMail(n: OrganiserNotification): QueuedMail[] {
  if (n.type !== 'alert.raised') return [];
  const alert = n.data.alert as
    | {
        rule?: string;
        severity?: string;
        subject?: { kind?: string; name?: string };
        raised_at?: string;
        detail?: Record<string, unknown>;
      }
    | undefined;
  if (alert?.severity !== 'critical') return [];
  const eventName = typeof n.data.event_name === 'string' ? n.data.event_name : 'your event';
  const rule = (alert.rule ?? 'alert').replace(/_/g, ' ');
  const subject = `${alert.subject?.kind ?? ''} ${alert.subject?.name ?? ''}`.trim();
  const details = Object.entries(alert.detail ?? {})
    .map(([k, v]) => `  ${k.replace(/_/g, ' ')}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join('\n');
  return [
    {
      organisationId: n.organisationId,
      eventId: n.eventId,
      createdAt: n.occurredAt,
      subject: `Entrada critical alert: ${rule} (${subject}) at ${eventName}`,
      body:
        `A critical alert was raised at ${eventName}.\n\nRule: ${rule}\nSubject: ${subject}\nRaised at: ${alert.raised_at ?? new Date(n.occurredAt).toISOString()}\n${details ? `\n${details}\n` : ''}\n` +
        'You receive this because you subscribed to critical alerts in the Entrada console (Alerts).\n',
    },
  ];
}
