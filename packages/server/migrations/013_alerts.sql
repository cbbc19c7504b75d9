-- Alerts (issue 13 §3, seed 004's table): raised and cleared by the server's evaluator, acknowledged by organisers.

CREATE TABLE alerts (
  event_id         uuid NOT NULL REFERENCES events(id) ON DELETE CASCADE,
  id               uuid NOT NULL DEFAULT gen_random_uuid(),
  rule             text NOT NULL,
  severity         text NOT NULL CHECK (severity IN ('warning', 'critical')),
  -- What the alert is about: a device (devices.id), a zone, or the event itself.
  subject_kind     text NOT NULL CHECK (subject_kind IN ('device', 'event', 'zone')),
  subject_id       uuid NOT NULL,
  raised_at        timestamptz NOT NULL,
  cleared_at       timestamptz,
  acknowledged_by  text,
  acknowledged_at  timestamptz,
  detail           jsonb NOT NULL DEFAULT '{}'::jsonb,
  PRIMARY KEY (event_id, id)
);
-- One open alert per rule and subject: a condition that persists updates its alert, never raises a second.
CREATE UNIQUE INDEX alerts_open ON alerts (event_id, rule, subject_kind, subject_id) WHERE cleared_at IS NULL;
CREATE INDEX alerts_recent ON alerts (event_id, raised_at DESC);
-- Acknowledge by id alone (the route carries no event).
CREATE INDEX alerts_id ON alerts (id);

-- Sync failures in a row (reset by a successful sync), and when the device's oldest open sequence gap opened:
-- the evaluator reads both in one statement per event instead of replaying history.
ALTER TABLE device_logs ADD COLUMN consecutive_failures integer NOT NULL DEFAULT 0;
ALTER TABLE device_logs ADD COLUMN missing_since timestamptz;

-- Failed syncs with their time, for the 24-hour count (failures are rare: one small row each, pruned past 7 days).
CREATE TABLE device_sync_failures (
  event_id   uuid NOT NULL,
  device_pk  uuid NOT NULL,
  at         timestamptz NOT NULL
);
CREATE INDEX device_sync_failures_at ON device_sync_failures (event_id, device_pk, at);

-- What the device counts itself: sync attempts in a row that failed, network errors the server never saw included.
ALTER TABLE device_heartbeats ADD COLUMN sync_failures integer CHECK (sync_failures IS NULL OR sync_failures >= 0);
