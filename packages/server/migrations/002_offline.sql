-- Offline scanning: device logs (seq, gaps, integrity), reconciliation state,
-- conflicts and commit-ordered change positions.
--
-- Change positions: `tx` is the id of the transaction that last changed a row
-- (restamped on change). Readers serve only rows whose tx is below the oldest
-- transaction still running (pg_snapshot_xmin), so a cursor never skips a
-- change that commits late (a plain sequence would).
--
-- A ticket's tx moves on creation and status changes only. Its scan state
-- changes with every admission, and those are found through the scans'
-- positions instead: an admission then rewrites no indexed column of the
-- ticket, so PostgreSQL can update it in place (HOT), without touching any of
-- its indexes. fillfactor leaves room on each page for those in-place updates.

ALTER TABLE tickets ADD COLUMN tx xid8 NOT NULL DEFAULT pg_current_xact_id();
ALTER TABLE tickets SET (fillfactor = 85);
CREATE INDEX tickets_tx ON tickets (event_id, tx, id);

ALTER TABLE scans
  ADD COLUMN tx xid8 NOT NULL DEFAULT pg_current_xact_id(),
  -- Bumped when reconciliation changes this scan's verdict of record.
  ADD COLUMN revision integer NOT NULL DEFAULT 0,
  -- Offline envelope: per (event, device) gap-free sequence, content hash, hash-chain link.
  ADD COLUMN seq bigint,
  ADD COLUMN payload_hash bytea,
  ADD COLUMN chain_link bytea,
  ADD COLUMN local_result text,
  ADD COLUMN sync_session_id uuid,
  ADD COLUMN integrity text NOT NULL DEFAULT 'online' CHECK (integrity IN ('online', 'chain', 'unsigned', 'failed')),
  ADD COLUMN clock_uncertainty_ms integer NOT NULL DEFAULT 0,
  ADD COLUMN flags text[] NOT NULL DEFAULT '{}',
  -- The admission of record, derived by replaying all of the ticket's admissions in scan-time order.
  ADD COLUMN record_status text NOT NULL DEFAULT 'rejected'
    CHECK (record_status IN ('admitted', 'conflict', 'rejected', 'failed', 'quarantined')),
  ADD COLUMN conflict_reason text,
  ADD COLUMN winner_scan_id uuid,
  ADD COLUMN ambiguous boolean NOT NULL DEFAULT false,
  -- An organiser accepted this admission (conflict resolved as legitimate).
  ADD COLUMN forced boolean NOT NULL DEFAULT false;
UPDATE scans SET record_status = CASE WHEN admits THEN 'admitted' ELSE 'rejected' END;
CREATE UNIQUE INDEX scans_device_seq ON scans (event_id, device_pk, seq) WHERE seq IS NOT NULL;
CREATE INDEX scans_tx ON scans (event_id, tx, id);
-- Seed 000 reconcile clients send no seq: their scans are idempotent per device, ticket and scan time.
CREATE UNIQUE INDEX scans_legacy_offline ON scans (event_id, device_pk, ticket_id, scanned_at) WHERE seq IS NULL AND source = 'offline';

-- One row per (event, device): the generic device log's high-water marks.
CREATE TABLE device_logs (
  event_id              uuid NOT NULL,
  device_pk             uuid NOT NULL,
  last_seq              bigint NOT NULL DEFAULT 0,
  acked_through         bigint NOT NULL DEFAULT 0,
  missing               jsonb NOT NULL DEFAULT '[]'::jsonb,
  received              bigint NOT NULL DEFAULT 0,
  flags                 text[] NOT NULL DEFAULT '{}',
  flag_reason           text,
  flagged_at            timestamptz,
  clock_offset_ms       integer,
  clock_measured_at     timestamptz,
  syncs                 integer NOT NULL DEFAULT 0,
  sync_failures         integer NOT NULL DEFAULT 0,
  last_sync_at          timestamptz,
  last_success_at       timestamptz,
  last_sync_session_id  uuid,
  -- What the device says it holds, so organisers see upload lag without trusting the device to be online.
  reported_last_seq     bigint,
  PRIMARY KEY (event_id, device_pk)
);

CREATE TABLE sync_sessions (
  event_id          uuid NOT NULL,
  id                uuid NOT NULL DEFAULT gen_random_uuid(),
  device_pk         uuid NOT NULL,
  session_token     text NOT NULL,
  scans_uploaded    integer NOT NULL DEFAULT 0,
  scans_successful  integer NOT NULL DEFAULT 0,
  scans_failed      integer NOT NULL DEFAULT 0,
  scans_duplicate   integer NOT NULL DEFAULT 0,
  scans_conflict    integer NOT NULL DEFAULT 0,
  attempts          integer NOT NULL DEFAULT 0,
  status            text NOT NULL DEFAULT 'in_progress' CHECK (status IN ('in_progress', 'completed', 'failed')),
  error_message     text,
  started_at        timestamptz NOT NULL,
  completed_at      timestamptz,
  PRIMARY KEY (event_id, id),
  UNIQUE (event_id, device_pk, session_token)
);
CREATE INDEX sync_sessions_device ON sync_sessions (event_id, device_pk, started_at);

CREATE TABLE conflicts (
  event_id        uuid NOT NULL,
  id              uuid NOT NULL DEFAULT gen_random_uuid(),
  ticket_id       uuid NOT NULL,
  loser_scan_id   uuid NOT NULL,
  winner_scan_id  uuid,
  reason          text NOT NULL,
  ambiguous       boolean NOT NULL DEFAULT false,
  -- open → resolved by an organiser; void when a later replay no longer sees a conflict.
  status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved', 'void')),
  resolution      text CHECK (resolution IN ('legitimate', 'fraud', 'dismissed')),
  note            text,
  resolved_by     text,
  resolved_at     timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  tx              xid8 NOT NULL DEFAULT pg_current_xact_id(),
  PRIMARY KEY (event_id, id),
  UNIQUE (event_id, loser_scan_id)
);
CREATE INDEX conflicts_ticket ON conflicts (event_id, ticket_id);
CREATE INDEX conflicts_id ON conflicts (id);
CREATE INDEX conflicts_status ON conflicts (event_id, status, created_at);

