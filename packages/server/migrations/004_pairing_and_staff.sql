-- Pairing scanners with short codes, and staff login per event.

-- Short-lived, single-use codes an organiser shows to a new scanner (as text
-- and as a QR of the pair URL). Only the SHA-256 of the normalised code is
-- kept. Redemption knows nothing but the code, so code_hash is unique across
-- the installation and the table is looked up by it alone: like devices, it is
-- a small reference table rather than one distributed by event.
CREATE TABLE pairing_codes (
  event_id         uuid NOT NULL REFERENCES events(id),
  id               uuid NOT NULL DEFAULT gen_random_uuid(),
  organisation_id  uuid NOT NULL REFERENCES organisations(id),
  code_hash        text NOT NULL UNIQUE CHECK (code_hash ~ '^[0-9a-f]{64}$'),
  -- The name the paired device gets.
  name             text,
  gate_id          uuid,
  created_at       timestamptz NOT NULL DEFAULT now(),
  expires_at       timestamptz NOT NULL,
  used_at          timestamptz,
  -- The device created by redeeming the code (set in the same transaction, hence deferred).
  device_id        text REFERENCES devices(device_id) DEFERRABLE INITIALLY DEFERRED,
  PRIMARY KEY (event_id, id),
  FOREIGN KEY (event_id, gate_id) REFERENCES gates (event_id, id),
  CHECK (expires_at > created_at),
  CHECK ((used_at IS NULL) = (device_id IS NULL))
);
CREATE INDEX pairing_codes_event ON pairing_codes (event_id, created_at);

-- Staff accounts of one event. PINs are stored as scrypt hashes with a
-- per-row salt, in a self-describing string (scrypt$N$r$p$salt$hash).
CREATE TABLE event_staff (
  event_id         uuid NOT NULL REFERENCES events(id),
  id               uuid NOT NULL DEFAULT gen_random_uuid(),
  organisation_id  uuid NOT NULL REFERENCES organisations(id),
  username         text NOT NULL,
  name             text NOT NULL,
  pin_hash         text NOT NULL,
  active           boolean NOT NULL DEFAULT true,
  created_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (event_id, id)
);
CREATE UNIQUE INDEX event_staff_username ON event_staff (event_id, lower(username));

-- Every staff login attempt on a device (seed 001's shape): successes,
-- failures and rate-limited attempts, with address and user agent, never the PIN.
CREATE TABLE event_login_logs (
  event_id     uuid NOT NULL REFERENCES events(id),
  id           uuid NOT NULL DEFAULT gen_random_uuid(),
  -- The username tried.
  identifier   text NOT NULL,
  device_id    text,
  staff_id     uuid,
  success      boolean NOT NULL DEFAULT false,
  message      text,
  ip_address   text,
  user_agent   text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (event_id, id)
);
CREATE INDEX event_login_logs_device ON event_login_logs (event_id, device_id, created_at);
CREATE INDEX event_login_logs_created ON event_login_logs (event_id, created_at);
