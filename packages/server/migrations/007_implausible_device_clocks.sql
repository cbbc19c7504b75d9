-- Device clocks of any size (issue #10, item 2).
--
-- A device whose clock was more than ~24.8 days off (int4 milliseconds) could
-- never sync: its measured offset overflowed device_logs.clock_offset_ms, and
-- past ~248 days the uncertainty derived from it overflowed
-- scans.clock_uncertainty_ms. The scanner retries a 500 forever.
--
-- The offset is now a bigint (a device at 1970 is ~56 years off). A scan whose
-- time cannot be trusted (its device clock more than a day off at upload, or
-- the time itself more than a day outside the event) is stored, flagged
-- `implausible_time` in scans.flags, and has no bounded clock uncertainty:
-- NULL, read as unbounded, so every first-scan-wins decision involving it is
-- ambiguous and goes to the organisers' review. Plausible uncertainties stay
-- small (2 s plus a tenth of at most a day), so the column keeps its type and
-- the scans table is not rewritten: dropping NOT NULL only changes the catalog.
ALTER TABLE device_logs ALTER COLUMN clock_offset_ms TYPE bigint;
ALTER TABLE scans ALTER COLUMN clock_uncertainty_ms DROP NOT NULL;

-- How many of the device's scans at the event had an implausible time (the health view's count, without scanning scans).
ALTER TABLE device_logs ADD COLUMN implausible_scans bigint NOT NULL DEFAULT 0;
