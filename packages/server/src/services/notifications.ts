/**
 * What organisers are told outside the console (issue 13): webhooks and email. Producers (alerts, conflicts,
 * devices) call `notify` inside the transaction of their change (the outbox pattern): the change and its
 * deliveries commit together or not at all, so a crash between the two can lose neither. The implementation
 * only inserts rows and never waits for a receiver. It never runs on the scan path.
 */
import { WEBHOOK_EVENT_TYPES, type WebhookEventType } from '@entrada/core';
import type { Sql } from '../db/database.ts';

/** The webhook event types (one list, in core: the API's schema, the CLI and the console use it too). */
export type NotificationType = WebhookEventType;

export const NOTIFICATION_TYPES: readonly NotificationType[] = WEBHOOK_EVENT_TYPES;

export interface OrganiserNotification {
  type: NotificationType;
  organisationId: string;
  /** The event it concerns (null for organisation-wide things, e.g. a device of no event). */
  eventId: string | null;
  /** When it happened (epoch ms, the server's clock). */
  occurredAt: number;
  /** The payload receivers get: ids, names, states, times. Never codes, tokens or holder personal data. */
  data: Record<string, unknown>;
}

export interface Notifier {
  /**
   * Queues the notifications for every matching subscriber through `tx`, the transaction of their cause. A failure
   * throws and so rolls the cause back with them: nothing is half applied.
   */
  notify(tx: Sql, notifications: readonly OrganiserNotification[]): Promise<void>;
}

/** How producers queue notifications, inside their own transaction. */
export type Notify = (tx: Sql, notifications: readonly OrganiserNotification[]) => Promise<void>;
export const notifyNothing: Notify = async () => undefined;

/** Conflicts opened at an event, one notification each (ids only: the console shows the rest). */
export function conflictsOpened(
  event: { id: string; name: string; organisationId: string },
  conflictIds: readonly string[],
  at: number,
): OrganiserNotification[] {
  return conflictIds.map((id) => ({
    type: 'conflict.opened',
    organisationId: event.organisationId,
    eventId: event.id,
    occurredAt: at,
    data: { event_id: event.id, event_name: event.name, conflict_id: id },
  }));
}

/** Until webhooks and email are configured in a process (and in tests that do not need them). */
export const silentNotifier: Notifier = { notify: async () => undefined };
