-- Issue 14 §2, the other direction of the cancellation race: a ticket blocked or cancelled and later unblocked or
-- reinstated while devices were offline. The ticket row holds only its current status and when it took effect, which
-- cannot tell "blocked at 18:50, valid again since 19:00"; offline scans are judged on the status at their scan time,
-- read from this history by core's ticketStatusAt. One row per change, written in the transaction (and statement) that
-- changes tickets.status. seq orders one ticket's changes (allocated under the ticket's row lock, so it is also the
-- commit order); the status holds from changed_at (inclusive) until the next change.
CREATE TABLE ticket_status_changes (
  event_id    uuid NOT NULL,
  ticket_id   uuid NOT NULL,
  seq         integer NOT NULL CHECK (seq >= 1),
  changed_at  timestamptz NOT NULL,
  status      text NOT NULL CHECK (status IN ('valid', 'cancelled', 'blocked')),
  reason      text,
  PRIMARY KEY (event_id, ticket_id, seq),
  FOREIGN KEY (event_id, ticket_id) REFERENCES tickets (event_id, id) ON DELETE CASCADE
);

-- Backfill. The current status of every ticket that ever changed (status_changed_at is set by every change), and the
-- earlier changes the audit log recorded (ticket.cancel, .block, .unblock, .reinstate; its last entry per ticket is the
-- current status, already taken from the ticket row, whose time is the one the rules have compared with so far).
-- A ticket cancelled or blocked with no status_changed_at gets no row: it keeps being refused at every time.
INSERT INTO ticket_status_changes (event_id, ticket_id, seq, changed_at, status, reason)
SELECT event_id, ticket_id, row_number() OVER (PARTITION BY event_id, ticket_id ORDER BY changed_at, current), changed_at, status, reason
FROM (
  SELECT a.event_id, t.id AS ticket_id, a.at AS changed_at, a.after ->> 'status' AS status, a.after ->> 'status_reason' AS reason, false AS current
  FROM (
    SELECT l.*, row_number() OVER (PARTITION BY l.event_id, l.subject_id ORDER BY l.at DESC, l.id DESC) AS newest
    FROM audit_log l
    WHERE l.subject_kind = 'ticket' AND l.action IN ('ticket.cancel', 'ticket.block', 'ticket.unblock', 'ticket.reinstate')
      AND l.event_id IS NOT NULL AND l.after ->> 'status' IN ('valid', 'cancelled', 'blocked')
  ) a
  JOIN tickets t ON t.event_id = a.event_id AND t.id::text = a.subject_id
  WHERE a.newest > 1 AND t.status_changed_at IS NOT NULL AND a.at < t.status_changed_at
  UNION ALL
  SELECT event_id, id, status_changed_at, status, status_reason, true FROM tickets WHERE status_changed_at IS NOT NULL
) changes;
