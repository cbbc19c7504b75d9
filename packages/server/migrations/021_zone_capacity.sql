-- Issue 14 §2: a zone's capacity becomes enforceable per zone (seed 004's "insufficient inventory", at a venue).
-- off: counted and shown only (what every zone did before); warn: admitted, and the entries that take the zone over
-- its capacity are flagged over_capacity; enforce: an online entry into a full zone is refused zone_full. Offline
-- admissions are never refused for capacity (the people are inside): they are flagged over_capacity instead.
ALTER TABLE zones ADD COLUMN capacity_mode text NOT NULL DEFAULT 'off' CHECK (capacity_mode IN ('off', 'warn', 'enforce'));
