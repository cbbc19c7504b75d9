-- Issue 14 §2: a zone's capacity becomes enforceable per zone (seed 004's "insufficient inventory", at a venue).
-- off: counted and shown only (what every zone did before); warn: admitted, and the entries that take the zone over
-- its capacity are flagged over_capacity; enforce: an online entry into a full zone is refused zone_full. Offline
-- admissions are never refused for capacity (the people are inside): they are flagged over_capacity instead.
ALTER TABLE zones ADD COLUMN capacity_mode text NOT NULL DEFAULT 'off' CHECK (capacity_mode IN ('off', 'warn', 'enforce'));

-- Same issue, seed 004's "Escalate": gate staff send one of their device's conflicts to the organisers with a note;
-- the conflicts list shows it flagged. Escalating again replaces the note (the latest word from the gate).
ALTER TABLE conflicts
  ADD COLUMN escalated_at timestamptz,
  ADD COLUMN escalation_note text,
  ADD COLUMN escalated_by_device text,
  ADD COLUMN escalated_by_staff uuid;
