import { Type, type Static } from 'typebox';
import { Text, Uuid } from './values.ts';

/** What organisers can be told outside the console (issue 13 §3): the webhook event types. */
export const WEBHOOK_EVENT_TYPES = [
  'alert.raised',
  'alert.cleared',
  'conflict.opened',
  'conflict.resolved',
  'device.revoked',
  'device.suspended',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

export const WebhookCreateBody = Type.Object(
  {
    url: Text({
      minLength: 8,
      maxLength: 2000,
      description: 'http:// or https://, without credentials; receives a POST per notification',
    }),
    events: Type.Array(
      Type.Union([
        Type.Literal('alert.raised'),
        Type.Literal('alert.cleared'),
        Type.Literal('conflict.opened'),
        Type.Literal('conflict.resolved'),
        Type.Literal('device.revoked'),
        Type.Literal('device.suspended'),
      ]),
      { minItems: 1, maxItems: WEBHOOK_EVENT_TYPES.length, uniqueItems: true },
    ),
    event_id: Type.Optional(
      Type.Union([Uuid, Type.Null()], {
        description: "Only this event's notifications; absent or null: every event and organisation-wide ones",
      }),
    ),
  },
  { additionalProperties: false },
);
export type WebhookCreateBody = Static<typeof WebhookCreateBody>;

export const WebhookDeliveriesQuery = Type.Object(
  {
    cursor: Type.Optional(Text({ minLength: 1, maxLength: 200, pattern: '^[A-Za-z0-9_-]+$' })),
    limit: Type.Optional(Text({ maxLength: 3, pattern: '^[0-9]{1,3}$', description: '1 to 200 (default 50)' })),
  },
  { additionalProperties: false },
);
export type WebhookDeliveriesQuery = Static<typeof WebhookDeliveriesQuery>;

export const AlertEmailBody = Type.Object(
  {
    critical_alerts: Type.Boolean({ description: "Mail me (my account's address) when a critical alert is raised" }),
  },
  { additionalProperties: false },
);
export type AlertEmailBody = Static<typeof AlertEmailBody>;

export interface WebhookView {
  id: string;
  url: string;
  events: WebhookEventType[];
  event_id: string | null;
  created_by: string;
  created_at: string;
}

/** The answer to a create: the only time the secret is shown. */
export interface WebhookCreated extends WebhookView {
  secret: string;
}

export interface WebhookAttemptView {
  attempt: number;
  at: string;
  status: number | null;
  duration_ms: number;
  error: string | null;
}

export interface WebhookDeliveryView {
  id: string;
  type: string;
  event_id: string | null;
  created_at: string;
  state: 'pending' | 'delivered' | 'failed';
  attempts: number;
  next_attempt_at: string | null;
  last_status: number | null;
  last_error: string | null;
  finished_at: string | null;
  log: WebhookAttemptView[];
}

export interface AlertEmailView {
  critical_alerts: boolean;
  /** Whether this server sends mail at all (SMTP_URL set). */
  email_enabled: boolean;
  email: string;
}
