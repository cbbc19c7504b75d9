-- Webhooks and email for organisers (issue 13 §3): subscriptions, a durable outbox per channel, each attempt logged.
-- Organisation-scoped (a webhook may follow one event or all of them), so organisation_id leads every key.

CREATE TABLE webhooks (
  organisation_id  uuid NOT NULL REFERENCES organisations(id),
  id               uuid NOT NULL DEFAULT gen_random_uuid(),
  -- null: every event of the organisation (and organisation-wide notifications such as a device revoked).
  event_id         uuid REFERENCES events(id) ON DELETE CASCADE,
  url              text NOT NULL,
  types            text[] NOT NULL,
  -- The signing key (the bytes after `whsec_`), sealed with a key derived from the server secret: the server
  -- needs it to sign, so it cannot be a digest; a database dump alone does not give it away.
  secret_sealed    bytea NOT NULL,
  created_by       text NOT NULL,
  created_at       timestamptz NOT NULL,
  PRIMARY KEY (organisation_id, id)
);
-- The routes carry only the webhook's id.
CREATE INDEX webhooks_id ON webhooks (id);

-- The outbox: one row per notification and subscribed webhook, written after the producer's commit and delivered by
-- the worker (claimed with FOR UPDATE SKIP LOCKED, then leased by moving next_attempt_at past the attempt's timeout).
CREATE TABLE webhook_deliveries (
  organisation_id  uuid NOT NULL,
  webhook_id       uuid NOT NULL,
  -- Also the `webhook-id` header: the same on every retry, so receivers can deduplicate.
  id               uuid NOT NULL DEFAULT gen_random_uuid(),
  event_id         uuid,
  type             text NOT NULL,
  body             text NOT NULL,
  created_at       timestamptz NOT NULL,
  state            text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL,
  last_status      integer,
  last_error       text,
  finished_at      timestamptz,
  PRIMARY KEY (organisation_id, webhook_id, id),
  FOREIGN KEY (organisation_id, webhook_id) REFERENCES webhooks (organisation_id, id) ON DELETE CASCADE
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
-- The delivery log, newest first, in pages.
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (organisation_id, webhook_id, created_at DESC, id DESC);

-- Every attempt: status code, duration, error text (ours: no secrets, no response bodies).
CREATE TABLE webhook_attempts (
  organisation_id  uuid NOT NULL,
  webhook_id       uuid NOT NULL,
  delivery_id      uuid NOT NULL,
  attempt          integer NOT NULL,
  at               timestamptz NOT NULL,
  status           integer,
  duration_ms      integer NOT NULL,
  error            text,
  PRIMARY KEY (organisation_id, webhook_id, delivery_id, attempt),
  FOREIGN KEY (organisation_id, webhook_id, delivery_id) REFERENCES webhook_deliveries (organisation_id, webhook_id, id) ON DELETE CASCADE
);

-- A user's email subscriptions (their own address; any role).
CREATE TABLE user_alert_email (
  organisation_id  uuid NOT NULL,
  user_id          uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  critical_alerts  boolean NOT NULL DEFAULT false,
  updated_at       timestamptz NOT NULL,
  PRIMARY KEY (organisation_id, user_id)
);

-- Mail waiting to be sent (when SMTP_URL is set): the same lease-and-retry as webhook deliveries.
CREATE TABLE email_outbox (
  organisation_id  uuid NOT NULL,
  id               uuid NOT NULL DEFAULT gen_random_uuid(),
  event_id         uuid,
  kind             text NOT NULL CHECK (kind IN ('critical_alert', 'conflict_overdue')),
  to_address       text NOT NULL,
  subject          text NOT NULL,
  body             text NOT NULL,
  created_at       timestamptz NOT NULL,
  state            text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed')),
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL,
  last_error       text,
  finished_at      timestamptz,
  PRIMARY KEY (organisation_id, id)
);
CREATE INDEX email_outbox_due ON email_outbox (next_attempt_at) WHERE state = 'pending';

-- Seed 004: a conflict still open after 24 h is emailed once to the event's managers and owners. Set in the same
-- statement that queues the mail, so two instances never both send it.
ALTER TABLE conflicts ADD COLUMN overdue_emailed_at timestamptz;
CREATE INDEX conflicts_overdue_mail ON conflicts (created_at) WHERE status = 'open' AND overdue_emailed_at IS NULL;
