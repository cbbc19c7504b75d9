-- Admin tokens can be listed and revoked, and the token given in
-- ENTRADA_ADMIN_TOKEN replaces the previous one given there (issue #10,
-- item 8): a token remembers where it came from, and revocation keeps the
-- row (conflict resolutions name the token that resolved them).
--   env        ENTRADA_ADMIN_TOKEN: a new one revokes the previous env token
--   generated  made and printed by the first start
--   api        POST /api/v1/tokens, or an organisation's first token
ALTER TABLE admin_tokens
  ADD COLUMN origin text NOT NULL DEFAULT 'api' CHECK (origin IN ('env', 'generated', 'api')),
  ADD COLUMN revoked_at timestamptz;

-- Until now a token set in the environment on an existing installation was
-- stored under this name, the first start's under 'bootstrap' whether it was
-- generated or given: the next start with that same environment token marks
-- it 'env' (services/bootstrap.ts), so rotating it later revokes it.
UPDATE admin_tokens SET origin = 'env' WHERE name = 'ENTRADA_ADMIN_TOKEN';
UPDATE admin_tokens SET origin = 'generated' WHERE name = 'bootstrap';

CREATE INDEX admin_tokens_active ON admin_tokens (organisation_id, created_at) WHERE revoked_at IS NULL;
