-- Organiser accounts, roles and browser sessions (issue #12, section 1).
-- Roles, least to most: viewer < supervisor < manager < owner (core/protocol/roles.ts).

-- Every admin token acts with a role; the tokens made so far could do everything.
ALTER TABLE admin_tokens
  ADD COLUMN role text NOT NULL DEFAULT 'owner' CHECK (role IN ('viewer', 'supervisor', 'manager', 'owner'));

-- People who log in to the console. An email is one account per installation
-- whatever its case (login looks it up lowercased).
CREATE TABLE users (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organisation_id  uuid NOT NULL REFERENCES organisations(id),
  email            text NOT NULL,
  name             text NOT NULL,
  role             text NOT NULL CHECK (role IN ('viewer', 'supervisor', 'manager', 'owner')),
  active           boolean NOT NULL DEFAULT true,
  -- scrypt, self-describing (crypto/pin-hash.ts): scrypt$N$r$p$salt$hash
  password_hash    text NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email ON users (lower(email));
CREATE INDEX users_organisation ON users (organisation_id, created_at);

-- A browser session: the cookie's value is stored only as its SHA-256 digest,
-- the CSRF token in clear (it is sent back to the browser on every /auth/me).
-- Ended by logout, by the user's deactivation or password change, or by
-- timeouts: idle (last_seen_at, written in batches) and absolute (expires_at).
CREATE TABLE user_sessions (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id       uuid NOT NULL REFERENCES users(id),
  token_hash    bytea NOT NULL UNIQUE,
  csrf_token    text NOT NULL,
  created_at    timestamptz NOT NULL,
  last_seen_at  timestamptz NOT NULL,
  expires_at    timestamptz NOT NULL,
  revoked_at    timestamptz,
  ip_address    text,
  user_agent    text
);
CREATE INDEX user_sessions_user ON user_sessions (user_id) WHERE revoked_at IS NULL;

-- Failed console logins counted per account and per address across instances.
CREATE INDEX login_logs_user_failures ON login_logs (identifier, created_at) WHERE NOT success AND identifier LIKE 'user:%';
CREATE INDEX login_logs_user_address_failures ON login_logs (ip_address, created_at) WHERE NOT success AND identifier LIKE 'user:%';
