-- Ticket imports of any size as one all-or-nothing operation (issue 12): chunks of rows are validated and
-- staged here as they arrive; the commit moves every staged row into tickets with one INSERT … SELECT in
-- one transaction. Staged rows already carry their serial, id and code digest (signing happens chunk by
-- chunk, not at commit), so the commit is pure SQL. An abandoned import leaves its serials unused.
CREATE TABLE ticket_imports (
  event_id         uuid NOT NULL REFERENCES events(id) ON DELETE CASCADE,
  id               uuid NOT NULL,
  organisation_id  uuid NOT NULL,
  actor            text NOT NULL,
  state            text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'failed', 'committed')),
  total_rows       integer CHECK (total_rows IS NULL OR total_rows > 0),
  staged_rows      integer NOT NULL DEFAULT 0,
  failure          text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  -- Stale sessions (nothing done for an hour) are deleted when another import starts.
  touched_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (event_id, id)
);
CREATE INDEX ticket_imports_touched ON ticket_imports (touched_at);

CREATE TABLE ticket_import_rows (
  event_id        uuid NOT NULL,
  import_id       uuid NOT NULL,
  row_no          integer NOT NULL,
  id              uuid NOT NULL,
  serial          bigint NOT NULL,
  ticket_type_id  uuid NOT NULL,
  number          text NOT NULL,
  holder_name     text,
  code_kind       text NOT NULL CHECK (code_kind IN ('signed', 'imported')),
  code_digest     bytea NOT NULL,
  sealed_code     bytea,
  PRIMARY KEY (event_id, import_id, row_no),
  -- Repeats within one import are found (and named by row) before a chunk is staged; these are the backstop.
  UNIQUE (event_id, import_id, number),
  UNIQUE (event_id, import_id, code_digest),
  FOREIGN KEY (event_id, import_id) REFERENCES ticket_imports (event_id, id) ON DELETE CASCADE
);
