import type { WebhookDeliveryType, WebhookDeliveryView } from '@entrada/core';
import type { Sql } from '../db/database.ts';

/** Webhook subscriptions, the webhook and email outboxes and users' email subscriptions (issue 13 §3). */

export interface WebhookRow {
  organisation_id: string;
  id: string;
  event_id: string | null;
  url: string;
  types: string[] | string;
  secret_sealed: Uint8Array;
  created_by: string;
  created_at: Date;
}

const WEBHOOK_COLUMNS = 'organisation_id, id, event_id, url, types, secret_sealed, created_by, created_at';

export async function insertWebhook(
  sql: Sql,
  w: {
    organisationId: string;
    eventId: string | null;
    url: string;
    types: readonly string[];
    secretSealed: Buffer;
    createdBy: string;
    at: number;
  },
): Promise<WebhookRow> {
  const [row] = await sql.query<WebhookRow>(
    `INSERT INTO webhooks (organisation_id, event_id, url, types, secret_sealed, created_by, created_at)
     VALUES ($1, $2, $3, $4::text[], $5, $6, $7) RETURNING ${WEBHOOK_COLUMNS}`,
    [w.organisationId, w.eventId, w.url, w.types, w.secretSealed, w.createdBy, new Date(w.at)],
  );
  return row!;
}

export async function listWebhooks(sql: Sql, organisationId: string): Promise<WebhookRow[]> {
  return sql.query<WebhookRow>(
    `SELECT ${WEBHOOK_COLUMNS} FROM webhooks WHERE organisation_id = $1 ORDER BY created_at, id`,
    [organisationId],
  );
}

export async function findWebhook(sql: Sql, organisationId: string, id: string): Promise<WebhookRow | null> {
  const [row] = await sql.query<WebhookRow>(
    `SELECT ${WEBHOOK_COLUMNS} FROM webhooks WHERE organisation_id = $1 AND id = $2`,
    [organisationId, id],
  );
  return row ?? null;
}

/** Deletes the webhook and, by cascade, its queued deliveries and their log. */
export async function deleteWebhook(sql: Sql, organisationId: string, id: string): Promise<boolean> {
  const rows = await sql.query(`DELETE FROM webhooks WHERE organisation_id = $1 AND id = $2 RETURNING id`, [
    organisationId,
    id,
  ]);
  return rows.length > 0;
}

export interface QueuedNotification {
  type: string;
  organisationId: string;
  eventId: string | null;
  body: string;
  createdAt: number;
}

/**
 * Queues every notification for every webhook of its organisation that subscribes to its type (and to its event,
 * or to all events): one INSERT … SELECT for the whole batch, whatever the number of notifications and webhooks.
 * A notification of no event (a device revoked) goes to the organisation-wide webhooks only.
 */
export async function enqueueWebhookDeliveries(
  sql: Sql,
  items: readonly QueuedNotification[],
  nextAttemptAt: number,
): Promise<number> {
  if (items.length === 0) return 0;
  const rows = await sql.query(
    `INSERT INTO webhook_deliveries (organisation_id, webhook_id, event_id, type, body, created_at, next_attempt_at)
     SELECT w.organisation_id, w.id, n.event_id, n.type, n.body, n.created_at, $6
     FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::timestamptz[]) AS n(organisation_id, event_id, type, body, created_at)
     JOIN webhooks w ON w.organisation_id = n.organisation_id AND n.type = ANY (w.types)
       AND (w.event_id IS NULL OR w.event_id = n.event_id)
     RETURNING 1`,
    [
      items.map((i) => i.organisationId),
      items.map((i) => i.eventId),
      items.map((i) => i.type),
      items.map((i) => i.body),
      items.map((i) => new Date(i.createdAt)),
      new Date(nextAttemptAt),
    ],
  );
  return rows.length;
}

/** One message for one webhook (its test). */
export async function enqueueTestDelivery(
  sql: Sql,
  organisationId: string,
  webhookId: string,
  body: string,
  at: number,
): Promise<void> {
  await sql.query(
    `INSERT INTO webhook_deliveries (organisation_id, webhook_id, event_id, type, body, created_at, next_attempt_at) VALUES ($1, $2, NULL, 'webhook.test', $3, $4, $4)`,
    [organisationId, webhookId, body, new Date(at)],
  );
}

export interface ClaimedDelivery {
  organisation_id: string;
  webhook_id: string;
  id: string;
  type: string;
  body: string;
  created_at: Date;
  attempts: number;
  url: string;
  secret_sealed: Uint8Array;
}

export interface DeliveryKey {
  organisation_id: string;
  webhook_id: string;
  id: string;
}

/**
 * The first half of a claim, inside the worker's claim transaction: up to `limit` due deliveries, locked
 * FOR UPDATE SKIP LOCKED, so another instance claiming at the same moment skips them instead of waiting for them
 * or taking the same ones. `unsafeNoLock`: test-only, reads without locking to show the double delivery it prevents.
 */
export async function dueWebhookDeliveries(
  tx: Sql,
  now: number,
  limit: number,
  unsafeNoLock = false,
): Promise<DeliveryKey[]> {
  return tx.query<DeliveryKey>(
    `SELECT organisation_id, webhook_id, id FROM webhook_deliveries
     WHERE state = 'pending' AND next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $2 ${unsafeNoLock ? '' : 'FOR UPDATE SKIP LOCKED'}`,
    [new Date(now), limit],
  );
}

/**
 * The second half: leases the claimed rows (next_attempt_at moved past the attempt's timeout, the attempt counted)
 * in one statement, so the claim's transaction ends before any receiver is called. A worker that dies mid-attempt
 * leaves a lease that simply expires and the delivery is tried again.
 */
export async function leaseWebhookDeliveries(
  tx: Sql,
  keys: readonly DeliveryKey[],
  leaseUntil: number,
): Promise<ClaimedDelivery[]> {
  if (keys.length === 0) return [];
  return tx.query<ClaimedDelivery>(
    `UPDATE webhook_deliveries d SET next_attempt_at = $4, attempts = d.attempts + 1
     FROM unnest($1::uuid[], $2::uuid[], $3::uuid[]) AS k(organisation_id, webhook_id, id), webhooks w
     WHERE d.organisation_id = k.organisation_id AND d.webhook_id = k.webhook_id AND d.id = k.id AND d.state = 'pending'
       AND w.organisation_id = d.organisation_id AND w.id = d.webhook_id
     RETURNING d.organisation_id, d.webhook_id, d.id, d.type, d.body, d.created_at, d.attempts, w.url, w.secret_sealed`,
    [keys.map((k) => k.organisation_id), keys.map((k) => k.webhook_id), keys.map((k) => k.id), new Date(leaseUntil)],
  );
}

export interface AttemptResult {
  organisationId: string;
  webhookId: string;
  deliveryId: string;
  attempt: number;
  at: number;
  status: number | null;
  durationMs: number;
  error: string | null;
  state: 'pending' | 'delivered' | 'failed';
  nextAttemptAt: number;
}

/** Records a batch of attempts and their deliveries' new state: two statements for any number. */
export async function recordWebhookAttempts(sql: Sql, results: readonly AttemptResult[]): Promise<void> {
  if (results.length === 0) return;
  const cols = [
    results.map((r) => r.organisationId),
    results.map((r) => r.webhookId),
    results.map((r) => r.deliveryId),
    results.map((r) => r.attempt),
    results.map((r) => new Date(r.at)),
    results.map((r) => r.status),
    results.map((r) => r.durationMs),
    results.map((r) => r.error),
    results.map((r) => r.state),
    results.map((r) => new Date(r.nextAttemptAt)),
  ];
  const input = `unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::int[], $5::timestamptz[], $6::int[], $7::int[], $8::text[], $9::text[], $10::timestamptz[])
    AS r(organisation_id, webhook_id, delivery_id, attempt, at, status, duration_ms, error, state, next_attempt_at)`;
  // A delivery whose webhook was deleted meanwhile is gone: the join drops its attempt.
  await sql.query(
    `INSERT INTO webhook_attempts (organisation_id, webhook_id, delivery_id, attempt, at, status, duration_ms, error)
     SELECT r.organisation_id, r.webhook_id, r.delivery_id, r.attempt, r.at, r.status, r.duration_ms, r.error FROM ${input}
     JOIN webhook_deliveries d ON d.organisation_id = r.organisation_id AND d.webhook_id = r.webhook_id AND d.id = r.delivery_id
     ON CONFLICT DO NOTHING`,
    cols,
  );
  await sql.query(
    `UPDATE webhook_deliveries d SET state = r.state, next_attempt_at = r.next_attempt_at, last_status = r.status, last_error = r.error,
       finished_at = CASE WHEN r.state = 'pending' THEN NULL ELSE r.at END
     FROM ${input}
     WHERE d.organisation_id = r.organisation_id AND d.webhook_id = r.webhook_id AND d.id = r.delivery_id AND d.state = 'pending'`,
    cols,
  );
}

export interface DeliveryRow {
  id: string;
  event_id: string | null;
  /** Written only from the notification types and the test message. */
  type: WebhookDeliveryType;
  created_at: Date;
  state: WebhookDeliveryView['state'];
  attempts: number;
  next_attempt_at: Date;
  last_status: number | null;
  last_error: string | null;
  finished_at: Date | null;
  log:
    Array<{ attempt: number; at: string; status: number | null; duration_ms: number; error: string | null }> | string;
}

/** One page of a webhook's deliveries, newest first, each with its attempts (one statement). */
export async function listWebhookDeliveries(
  sql: Sql,
  organisationId: string,
  webhookId: string,
  after: { at: string; id: string } | null,
  limit: number,
): Promise<DeliveryRow[]> {
  return sql.query<DeliveryRow>(
    `SELECT d.id, d.event_id, d.type, d.created_at, d.state, d.attempts, d.next_attempt_at, d.last_status, d.last_error, d.finished_at,
       COALESCE((SELECT json_agg(json_build_object('attempt', a.attempt, 'at', a.at, 'status', a.status, 'duration_ms', a.duration_ms, 'error', a.error) ORDER BY a.attempt)
         FROM webhook_attempts a WHERE a.organisation_id = d.organisation_id AND a.webhook_id = d.webhook_id AND a.delivery_id = d.id), '[]'::json) AS log
     FROM webhook_deliveries d
     WHERE d.organisation_id = $1 AND d.webhook_id = $2 AND ($3::timestamptz IS NULL OR (d.created_at, d.id) < ($3::timestamptz, $4::uuid))
     ORDER BY d.created_at DESC, d.id DESC LIMIT $5`,
    [organisationId, webhookId, after?.at ?? null, after?.id ?? null, limit],
  );
}

// ─── Email ────────────────────────────────────────────────────────────────────

export async function setCriticalAlertEmail(
  sql: Sql,
  organisationId: string,
  userId: string,
  on: boolean,
  at: number,
): Promise<void> {
  await sql.query(
    `INSERT INTO user_alert_email (organisation_id, user_id, critical_alerts, updated_at) VALUES ($1, $2, $3, $4)
     ON CONFLICT (organisation_id, user_id) DO UPDATE SET critical_alerts = EXCLUDED.critical_alerts, updated_at = EXCLUDED.updated_at`,
    [organisationId, userId, on, new Date(at)],
  );
}

export async function criticalAlertEmail(sql: Sql, organisationId: string, userId: string): Promise<boolean> {
  const [row] = await sql.query<{ critical_alerts: boolean }>(
    `SELECT critical_alerts FROM user_alert_email WHERE organisation_id = $1 AND user_id = $2`,
    [organisationId, userId],
  );
  return row?.critical_alerts ?? false;
}

export interface QueuedMail {
  organisationId: string;
  eventId: string | null;
  subject: string;
  body: string;
  createdAt: number;
}

/** Queues each mail for every active user of its organisation subscribed to critical alerts: one statement. */
export async function enqueueCriticalAlertMail(sql: Sql, mails: readonly QueuedMail[]): Promise<number> {
  if (mails.length === 0) return 0;
  const rows = await sql.query(
    `INSERT INTO email_outbox (organisation_id, event_id, kind, to_address, subject, body, created_at, next_attempt_at)
     SELECT m.organisation_id, m.event_id, 'critical_alert', u.email, m.subject, m.body, m.created_at, m.created_at
     FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::timestamptz[]) AS m(organisation_id, event_id, subject, body, created_at)
     JOIN user_alert_email s ON s.organisation_id = m.organisation_id AND s.critical_alerts
     JOIN users u ON u.id = s.user_id AND u.organisation_id = m.organisation_id AND u.active
     RETURNING 1`,
    [
      mails.map((m) => m.organisationId),
      mails.map((m) => m.eventId),
      mails.map((m) => m.subject),
      mails.map((m) => m.body),
      mails.map((m) => new Date(m.createdAt)),
    ],
  );
  return rows.length;
}

/**
 * Seed 004's rule: conflicts open for more than a day are mailed once to their event's managers and owners. One
 * statement marks the overdue conflicts (each only once: a concurrent instance's UPDATE re-checks
 * `overdue_emailed_at IS NULL` after this one commits and finds nothing) and queues one mail per event and person,
 * counting that event's newly overdue conflicts. Returns the number of mails queued.
 */
export async function enqueueOverdueConflictMail(
  sql: Sql,
  now: number,
  olderThan: number,
  consoleUrl: string | null,
): Promise<number> {
  const rows = await sql.query(
    `WITH due AS (
       UPDATE conflicts c SET overdue_emailed_at = $1
       WHERE c.status = 'open' AND c.overdue_emailed_at IS NULL AND c.created_at < $2
       RETURNING c.event_id, c.created_at),
     per_event AS (
       SELECT d.event_id, count(*)::int AS n, min(d.created_at) AS oldest FROM due d GROUP BY d.event_id)
     INSERT INTO email_outbox (organisation_id, event_id, kind, to_address, subject, body, created_at, next_attempt_at)
     SELECT e.organisation_id, e.id, 'conflict_overdue', u.email,
       'Entrada: ' || p.n || ' conflict' || CASE WHEN p.n = 1 THEN '' ELSE 's' END || ' open for over 24 hours at ' || e.name,
       p.n || ' offline conflict' || CASE WHEN p.n = 1 THEN ' has' ELSE 's have' END || ' been waiting for review for more than 24 hours at ' || e.name
         || ' (oldest opened ' || to_char(p.oldest AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC).' || chr(10) || chr(10)
         || 'Review them in the conflicts inbox' || COALESCE(': ' || $3 || '/e/' || e.id || '/conflicts', '.') || chr(10),
       $1, $1
     FROM per_event p JOIN events e ON e.id = p.event_id
     JOIN users u ON u.organisation_id = e.organisation_id AND u.active AND u.role IN ('manager', 'owner')
     RETURNING 1`,
    [new Date(now), new Date(olderThan), consoleUrl],
  );
  return rows.length;
}

export interface ClaimedMail {
  organisation_id: string;
  id: string;
  to_address: string;
  subject: string;
  body: string;
  created_at: Date;
  attempts: number;
}

/** As claimWebhookDeliveries, for mail. */
export async function claimMail(sql: Sql, now: number, leaseUntil: number, limit: number): Promise<ClaimedMail[]> {
  return sql.query<ClaimedMail>(
    `WITH due AS (
       SELECT organisation_id, id FROM email_outbox WHERE state = 'pending' AND next_attempt_at <= $1
       ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED)
     UPDATE email_outbox m SET next_attempt_at = $2, attempts = m.attempts + 1
     FROM due WHERE m.organisation_id = due.organisation_id AND m.id = due.id
     RETURNING m.organisation_id, m.id, m.to_address, m.subject, m.body, m.created_at, m.attempts`,
    [new Date(now), new Date(leaseUntil), limit],
  );
}

export async function recordMailResults(
  sql: Sql,
  results: ReadonlyArray<{
    organisationId: string;
    id: string;
    state: 'pending' | 'sent' | 'failed';
    error: string | null;
    at: number;
    nextAttemptAt: number;
  }>,
): Promise<void> {
  if (results.length === 0) return;
  await sql.query(
    `UPDATE email_outbox m SET state = r.state, last_error = r.error, next_attempt_at = r.next_attempt_at,
       finished_at = CASE WHEN r.state = 'pending' THEN NULL ELSE r.at END
     FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[]) AS r(organisation_id, id, state, error, at, next_attempt_at)
     WHERE m.organisation_id = r.organisation_id AND m.id = r.id AND m.state = 'pending'`,
    [
      results.map((r) => r.organisationId),
      results.map((r) => r.id),
      results.map((r) => r.state),
      results.map((r) => r.error),
      results.map((r) => new Date(r.at)),
      results.map((r) => new Date(r.nextAttemptAt)),
    ],
  );
}
