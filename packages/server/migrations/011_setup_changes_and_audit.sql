-- Set-up that can be changed (issue #12, section 2): every change an
-- organiser makes is written to audit_log in the transaction that makes it;
-- gates can be closed; devices have a default gate; tickets can be searched.

-- Who changed what and when. event_id is NULL for organisation-level changes
-- (devices). No foreign keys: the history outlives a deleted event. before and
-- after never hold secrets (PIN hashes, tokens, codes).
CREATE TABLE audit_log (
  id               uuid NOT NULL DEFAULT gen_random_uuid(),
  organisation_id  uuid NOT NULL,
  event_id         uuid,
  -- 'token:<id>' or 'user:<id>'.
  actor            text NOT NULL,
  -- e.g. zone.update, ticket.reinstate.
  action           text NOT NULL,
  subject_kind     text NOT NULL,
  subject_id       text NOT NULL,
  before           jsonb,
  after            jsonb,
  at               timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (id)
);
-- GET /events/:id/audit pages by (at, id).
CREATE INDEX audit_log_event ON audit_log (event_id, at, id);
CREATE INDEX audit_log_organisation ON audit_log (organisation_id, at, id);

-- A closed gate stays in the event (its scans and sessions name it); NULL: open.
ALTER TABLE gates ADD COLUMN closed_at timestamptz;

-- The gate a device starts on (a gate of one of its events), set by an organiser.
ALTER TABLE devices ADD COLUMN default_event_id uuid, ADD COLUMN default_gate_id uuid;

-- Ticket search: number by prefix, holder name by case-insensitive substring.
CREATE INDEX tickets_number_prefix ON tickets (event_id, number text_pattern_ops);
-- Part of a name is found through a trigram index (pg_trgm: shipped with
-- PostgreSQL's contrib and loaded into PGlite by db/pglite.ts). Without it (an
-- installation without contrib, or a role that may not create it) search
-- still works, by reading the event's tickets: see docs/benchmarks.md.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm') THEN
    BEGIN
      CREATE EXTENSION IF NOT EXISTS pg_trgm;
      CREATE INDEX tickets_holder_trgm ON tickets USING gin (lower(holder_name) gin_trgm_ops) WHERE holder_name IS NOT NULL;
    EXCEPTION WHEN insufficient_privilege THEN
      RAISE NOTICE 'pg_trgm could not be created: ticket search by name reads the event''s tickets';
    END;
  END IF;
END $$;
