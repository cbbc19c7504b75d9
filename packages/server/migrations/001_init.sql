-- Entrada schema, version 1.
-- Every event-scoped table carries event_id, leads its primary key with it and
-- includes it in every unique key and hot index, so the data can be distributed
-- by event later (e.g. Citus with event_id as the distribution column).

CREATE TABLE organisations (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name        text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- Bearer tokens are stored as SHA-256 digests only; the clear token is shown once.
CREATE TABLE admin_tokens (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organisation_id  uuid NOT NULL REFERENCES organisations(id),
  token_hash       bytea NOT NULL UNIQUE,
  name             text NOT NULL,
  -- A platform token may create organisations; organisation tokens may not.
  platform         boolean NOT NULL DEFAULT false,
  created_at       timestamptz NOT NULL DEFAULT now(),
  last_used_at     timestamptz
);

-- Secrets the server needs that must not be derivable from other tables
-- (used only when no ENTRADA_SECRET and no data folder key exist).
CREATE TABLE server_secrets (
  name        text PRIMARY KEY,
  value       bytea NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- Compact numeric event references are embedded in signed ticket codes.
CREATE SEQUENCE event_ref_seq START 1;

CREATE TABLE events (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organisation_id  uuid NOT NULL REFERENCES organisations(id),
  ref              integer NOT NULL UNIQUE DEFAULT nextval('event_ref_seq'),
  name             text NOT NULL,
  starts_at        timestamptz NOT NULL,
  ends_at          timestamptz NOT NULL,
  timezone         text NOT NULL,
  settings         jsonb NOT NULL DEFAULT '{}'::jsonb,
  -- Key of the keyed digest under which ticket codes are stored and matched.
  code_key         bytea NOT NULL,
  next_serial      bigint NOT NULL DEFAULT 0,
  next_type_ref    integer NOT NULL DEFAULT 0,
  created_at       timestamptz NOT NULL DEFAULT now(),
  CHECK (ends_at > starts_at)
);
CREATE INDEX events_org ON events (organisation_id, starts_at);

-- Ed25519 keys that sign the event's ticket codes; the secret half is sealed with the server secret.
CREATE TABLE event_keys (
  event_id     uuid NOT NULL REFERENCES events(id),
  key_id       smallint NOT NULL,
  public_key   bytea NOT NULL,
  sealed_secret bytea NOT NULL,
  active       boolean NOT NULL DEFAULT true,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (event_id, key_id)
);

CREATE TABLE zones (
  event_id    uuid NOT NULL REFERENCES events(id),
  id          uuid NOT NULL DEFAULT gen_random_uuid(),
  name        text NOT NULL,
  capacity    integer CHECK (capacity IS NULL OR capacity >= 0),
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (event_id, id),
  UNIQUE (event_id, name)
);

CREATE TABLE gates (
  event_id    uuid NOT NULL REFERENCES events(id),
  id          uuid NOT NULL DEFAULT gen_random_uuid(),
  name        text NOT NULL,
  zone_ids    uuid[] NOT NULL DEFAULT '{}',
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (event_id, id),
  UNIQUE (event_id, name)
);

CREATE TABLE ticket_types (
  event_id       uuid NOT NULL REFERENCES events(id),
  id             uuid NOT NULL DEFAULT gen_random_uuid(),
  ref            integer NOT NULL,
  name           text NOT NULL,
  zone_ids       uuid[] NOT NULL DEFAULT '{}',
  max_scans      integer NOT NULL DEFAULT 1 CHECK (max_scans >= 1),
  allow_reentry  boolean NOT NULL DEFAULT false,
  valid_from     timestamptz,
  valid_until    timestamptz,
  created_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (event_id, id),
  UNIQUE (event_id, ref),
  UNIQUE (event_id, name),
  CHECK (valid_until IS NULL OR valid_from IS NULL OR valid_until > valid_from)
);

CREATE TABLE tickets (
  event_id          uuid NOT NULL,
  id                uuid NOT NULL DEFAULT gen_random_uuid(),
  serial            bigint NOT NULL,
  ticket_type_id    uuid NOT NULL,
  number            text NOT NULL,
  holder_name       text,
  -- Codes are found by keyed digest; the database alone does not reveal them.
  -- Imported codes are additionally kept sealed (for export); signed codes are re-derivable.
  code_kind         text NOT NULL CHECK (code_kind IN ('signed', 'imported')),
  code_digest       bytea NOT NULL,
  sealed_code       bytea,
  status            text NOT NULL DEFAULT 'valid' CHECK (status IN ('valid', 'cancelled', 'blocked')),
  status_changed_at timestamptz,
  status_reason     text,
  -- Scan state: the admissions of record folded by core's rules (see core TicketScanState).
  entries           integer NOT NULL DEFAULT 0,
  first_at          timestamptz,
  first_device_id   text,
  first_gate_id     uuid,
  last_at           timestamptz,
  last_direction    text CHECK (last_direction IN ('entry', 'exit')),
  last_device_id    text,
  last_gate_id      uuid,
  -- Bumped by every change; the compare-and-set guard of the online scan path.
  version           integer NOT NULL DEFAULT 0,
  created_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (event_id, id),
  UNIQUE (event_id, code_digest),
  UNIQUE (event_id, serial),
  UNIQUE (event_id, number),
  FOREIGN KEY (event_id, ticket_type_id) REFERENCES ticket_types (event_id, id)
);
-- Admin look-ups by ticket id alone (GET /tickets/:id) fan out by design.
CREATE INDEX tickets_id ON tickets (id);

CREATE TABLE devices (
  id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organisation_id    uuid NOT NULL REFERENCES organisations(id),
  device_id          text NOT NULL UNIQUE,
  name               text NOT NULL,
  device_type        text NOT NULL DEFAULT 'scanner' CHECK (device_type IN ('scanner', 'mobile')),
  status             text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'revoked')),
  token_hash         bytea NOT NULL UNIQUE,
  public_key         bytea,
  settings           jsonb NOT NULL DEFAULT '{}'::jsonb,
  -- One active scan session per device, enforced on this row (sessions live in event shards).
  active_session_id  uuid,
  active_event_id    uuid,
  last_seen_at       timestamptz,
  status_changed_at  timestamptz,
  status_reason      text,
  created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX devices_org ON devices (organisation_id, created_at);

CREATE TABLE scan_sessions (
  event_id     uuid NOT NULL REFERENCES events(id),
  id           uuid NOT NULL DEFAULT gen_random_uuid(),
  device_pk    uuid NOT NULL REFERENCES devices(id),
  gate_id      uuid NOT NULL,
  direction    text NOT NULL DEFAULT 'entry' CHECK (direction IN ('entry', 'exit')),
  status       text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'ended')),
  started_at   timestamptz NOT NULL DEFAULT now(),
  ended_at     timestamptz,
  PRIMARY KEY (event_id, id),
  FOREIGN KEY (event_id, gate_id) REFERENCES gates (event_id, id)
);
CREATE INDEX scan_sessions_device ON scan_sessions (event_id, device_pk, started_at);
CREATE INDEX scan_sessions_id ON scan_sessions (id);

-- Every scan attempt, rejected ones and unknown codes included. Append-only.
CREATE TABLE scans (
  event_id     uuid NOT NULL,
  id           uuid NOT NULL,
  ticket_id    uuid,
  code_digest  bytea,
  result       text NOT NULL,
  reason       text NOT NULL,
  admits       boolean NOT NULL,
  direction    text NOT NULL CHECK (direction IN ('entry', 'exit')),
  device_pk    uuid NOT NULL,
  device_id    text NOT NULL,
  gate_id      uuid,
  session_id   uuid,
  scanned_at   timestamptz NOT NULL,
  received_at  timestamptz NOT NULL DEFAULT now(),
  source       text NOT NULL CHECK (source IN ('online', 'offline')),
  PRIMARY KEY (event_id, id)
);
CREATE INDEX scans_ticket ON scans (event_id, ticket_id, scanned_at);
-- Offline scans have no session: keep them out of this index.
CREATE INDEX scans_session ON scans (event_id, session_id) WHERE session_id IS NOT NULL;

-- Authentication attempts on login-like endpoints (failed token uses, pairing, staff login).
CREATE TABLE login_logs (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organisation_id  uuid,
  event_id         uuid,
  identifier       text NOT NULL,
  device_id        text,
  success          boolean NOT NULL,
  message          text,
  ip_address       text,
  user_agent       text,
  created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_logs_created ON login_logs (created_at);
