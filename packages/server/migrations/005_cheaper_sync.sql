-- Cheaper offline sync per scan.

-- Room for the scan state on the ticket's own page. An admission rewrites
-- only unindexed columns, so PostgreSQL can update the row in place (HOT, no
-- index entries) — if the new version fits on the same page. A first
-- admission grows a row from about 160 to 240 bytes, and during a sync burst
-- the versions it replaces cannot be pruned until every transaction older
-- than the admission has ended (uploads hold theirs for seconds), so a page
-- must absorb many new versions between prunings. At fillfactor 85 a page had
-- room for about 5, and half the admissions of a 100,000-scan sync were not
-- HOT (each added an entry to all six ticket indexes); at 50, about a quarter
-- still were in some runs; at 40 (about 20 new versions per page) none. The
-- heap of a fresh event is about twice as large (43 against 19 MiB for
-- 100,000 tickets: the manifest's scan and sort took the same 35-40 ms), and
-- no larger than the table becomes anyway once the non-HOT versions and index
-- entries of its first admissions are counted. Applies to pages filled from
-- now on.
ALTER TABLE tickets SET (fillfactor = 40);

-- A ticket whose version is 0 has no candidate admission: the sync then
-- replays a first upload's admissions without reading the ticket's scans
-- back. Every write that stores a candidate bumps the version from now on;
-- this makes it true of candidates stored before (a candidate that lost,
-- e.g. at a wrong gate, left the version at 0).
UPDATE tickets t SET version = t.version + 1
WHERE t.version = 0 AND EXISTS (
  SELECT 1 FROM scans s
  WHERE s.event_id = t.event_id AND s.ticket_id = t.id AND s.admits AND s.record_status IN ('admitted', 'conflict'));
