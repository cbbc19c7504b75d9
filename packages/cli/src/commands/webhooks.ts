import {
  WEBHOOK_EVENT_TYPES,
  type WebhookCreated,
  type WebhookDeliveryPage,
  type WebhookEventType,
  type WebhookList,
  type WebhookView,
} from '@entrada/core';
import { CliError } from '../errors.ts';
import { table } from '../format.ts';
import { HttpClient, requireUuid, type Connection } from '../http-client.ts';
import type { Output } from '../output.ts';

/** `--events alert.raised,conflict.opened` (or `all`), checked here so a typo is named before any request. */
export function parseWebhookEvents(text: string): WebhookEventType[] {
  const items = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (items.length === 1 && items[0] === 'all') return [...WEBHOOK_EVENT_TYPES];
  const unknown = items.find((i) => !(WEBHOOK_EVENT_TYPES as readonly string[]).includes(i));
  if (items.length === 0 || unknown !== undefined) {
    throw new CliError(
      `--events must be "all" or a comma-separated list of ${WEBHOOK_EVENT_TYPES.join(', ')}${unknown ? `, got "${unknown}"` : ''}`,
    );
  }
  return [...new Set(items)] as WebhookEventType[];
}

/** A new webhook; its signing secret is printed once. */
export async function createWebhook(
  opts: { connection: Connection; url: string; events: string; eventId?: string },
  output: Output,
): Promise<WebhookCreated> {
  const events = parseWebhookEvents(opts.events);
  const eventId = opts.eventId === undefined ? undefined : requireUuid(opts.eventId, '--event', 'an event');
  const client = new HttpClient(opts.connection, 'admin');
  const made = await client.post<WebhookCreated>('/api/v1/webhooks', {
    url: opts.url,
    events,
    ...(eventId ? { event_id: eventId } : {}),
  });
  output.out(
    `Made webhook ${made.id} for ${made.events.join(', ')}${made.event_id ? ` at event ${made.event_id}` : ' (every event)'}.`,
  );
  output.out(`  url     ${made.url}`);
  output.out(`  secret  ${made.secret}`);
  output.out('');
  output.out(
    'The secret is shown once — store it in the receiver now. Each request carries the Standard Webhooks headers',
  );
  output.out('webhook-id, webhook-timestamp and webhook-signature (v1,<base64 HMAC-SHA256 of "id.timestamp.body">).');
  output.out(`Follow its deliveries with: entrada webhooks deliveries ${made.id}`);
  return made;
}

export async function listWebhooks(opts: { connection: Connection }, output: Output): Promise<WebhookView[]> {
  const client = new HttpClient(opts.connection, 'admin');
  const { webhooks } = await client.get<WebhookList>('/api/v1/webhooks');
  const rows = webhooks.map((w) => [w.id, w.url, w.events.join(','), w.event_id ?? 'all', w.created_at]);
  for (const line of table(['WEBHOOK ID', 'URL', 'EVENTS', 'EVENT', 'CREATED'], rows)) output.out(line);
  return webhooks;
}

export async function deleteWebhook(
  opts: { connection: Connection; webhookId: string },
  output: Output,
): Promise<void> {
  const id = requireUuid(opts.webhookId, 'the webhook id', 'a webhook');
  const client = new HttpClient(opts.connection, 'admin');
  await client.delete<null>(`/api/v1/webhooks/${id}`);
  output.out(`Deleted webhook ${id} and its queued deliveries.`);
}

/** The delivery log, newest first: one line per delivery, its attempts beneath. */
export async function webhookDeliveries(
  opts: { connection: Connection; webhookId: string; limit?: number; cursor?: string },
  output: Output,
): Promise<WebhookDeliveryPage> {
  const id = requireUuid(opts.webhookId, 'the webhook id', 'a webhook');
  const client = new HttpClient(opts.connection, 'admin');
  const q = new URLSearchParams();
  if (opts.limit !== undefined) q.set('limit', String(opts.limit));
  if (opts.cursor !== undefined) q.set('cursor', opts.cursor);
  const page = await client.get<WebhookDeliveryPage>(`/api/v1/webhooks/${id}/deliveries${q.size > 0 ? `?${q}` : ''}`);
  const rows = page.deliveries.map((d) => [
    d.id,
    d.type,
    d.state,
    String(d.attempts),
    d.last_status === null ? '-' : String(d.last_status),
    d.last_error ?? '',
    d.created_at,
  ]);
  for (const line of table(['DELIVERY ID', 'TYPE', 'STATE', 'ATTEMPTS', 'STATUS', 'ERROR', 'CREATED'], rows))
    output.out(line);
  if (page.next_cursor) output.out(`More: entrada webhooks deliveries ${id} --cursor ${page.next_cursor}`);
  return page;
}
