-- Live operations (issue 13), the shared schema the live stream, fleet health and alerts build on.

-- The latest heartbeat of each device at each event: one row per device, overwritten (a heartbeat every 30 s
-- from hundreds of devices must stay one small write; the history that matters — syncs, logins, scans — has
-- its own tables). What the device says of itself (pending scans, battery, manifest) is its word, shown as such.
CREATE TABLE device_heartbeats (
  event_id               uuid NOT NULL REFERENCES events(id) ON DELETE CASCADE,
  device_pk              uuid NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
  received_at            timestamptz NOT NULL,
  device_time            timestamptz NOT NULL,
  app_version            text NOT NULL,
  battery_level          real CHECK (battery_level IS NULL OR (battery_level >= 0 AND battery_level <= 1)),
  battery_charging       boolean,
  pending_scans          integer NOT NULL CHECK (pending_scans >= 0),
  oldest_pending_at      timestamptz,
  manifest_cursor        text,
  manifest_generated_at  timestamptz,
  gate_id                uuid,
  staff_id               uuid,
  online_since           timestamptz,
  last_offline_ms        bigint,
  PRIMARY KEY (event_id, device_pk)
);

-- The staff member logged in on the device when it scanned (online from the scan session, offline from the
-- scan's own record). Nullable without a default: adding it rewrites nothing.
ALTER TABLE scans ADD COLUMN staff_id uuid;
