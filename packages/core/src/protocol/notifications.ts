import { Type, type Static } from 'typebox';
import { Nullable, StringEnum, Timestamp } from './common.ts';
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
export const WebhookEventTypeSchema = StringEnum(WEBHOOK_EVENT_TYPES);

/** What a delivery can carry: a subscribed event type, or the test message `POST /webhooks/:id/test` queues. */
export const WEBHOOK_DELIVERY_TYPES = [...WEBHOOK_EVENT_TYPES, 'webhook.test'] as const;
export type WebhookDeliveryType = (typeof WEBHOOK_DELIVERY_TYPES)[number];

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

/** A webhook as listed (never its secret). */
export const WebhookView = Type.Object({
  id: Uuid,
  url: Type.String(),
  events: Type.Array(WebhookEventTypeSchema),
  event_id: Nullable(Uuid),
  created_by: Type.String({ description: 'The actor who created it' }),
  created_at: Timestamp,
});
export type WebhookView = Static<typeof WebhookView>;

/** The answer to a create: the only time the secret is shown. */
export const WebhookCreated = Type.Object({
  ...WebhookView.properties,
  secret: Type.String({ description: '`whsec_` and the base64 signing key: shown this once' }),
});
export type WebhookCreated = Static<typeof WebhookCreated>;

export const WebhookList = Type.Object({ webhooks: Type.Array(WebhookView) });
export type WebhookList = Static<typeof WebhookList>;

/** One attempt to deliver: the receiver's status (null: no answer), how long it took, our error text. */
export const WebhookAttemptView = Type.Object({
  attempt: Type.Integer(),
  at: Timestamp,
  status: Nullable(Type.Integer()),
  duration_ms: Type.Integer(),
  error: Nullable(Type.String()),
});
export type WebhookAttemptView = Static<typeof WebhookAttemptView>;

export const WebhookDeliveryView = Type.Object({
  id: Uuid,
  type: StringEnum(WEBHOOK_DELIVERY_TYPES),
  event_id: Nullable(Uuid),
  created_at: Timestamp,
  state: StringEnum(['pending', 'delivered', 'failed']),
  attempts: Type.Integer(),
  next_attempt_at: Nullable(Timestamp),
  last_status: Nullable(Type.Integer()),
  last_error: Nullable(Type.String()),
  finished_at: Nullable(Timestamp),
  log: Type.Array(WebhookAttemptView),
});
export type WebhookDeliveryView = Static<typeof WebhookDeliveryView>;

/** GET /webhooks/:id/deliveries: newest first; `next_cursor` null on the last page. */
export const WebhookDeliveryPage = Type.Object({
  deliveries: Type.Array(WebhookDeliveryView),
  next_cursor: Nullable(Type.String()),
});
export type WebhookDeliveryPage = Static<typeof WebhookDeliveryPage>;

/** POST /webhooks/:id/test (202): how many messages were queued. */
export const WebhookTestQueued = Type.Object({ queued: Type.Integer() });
export type WebhookTestQueued = Static<typeof WebhookTestQueued>;

/** GET and PUT /users/me/alert-email. */
export const AlertEmailView = Type.Object({
  critical_alerts: Type.Boolean(),
  email_enabled: Type.Boolean({ description: 'Whether this server sends mail at all (SMTP_URL set)' }),
  email: Type.String({ description: "The signed-in person's address" }),
});
export type AlertEmailView = Static<typeof AlertEmailView>;
