-- Issue 15: one identity index for every scan instead of two that overlap.
--
-- Every scan row wrote an entry in scans_pkey (event_id, id) and another in scans_physical_scan (event_id,
-- coalesce(client_scan_id, id)): one physical scan, one row, across online and offline (migration 003). For every row
-- without a client_scan_id (all online rows, every keyed offline row that carries no scan_id) the two keys are the
-- same value. Now a row whose physical scan has an id of the client's (an offline copy's claimed scan_id, an
-- unsequenced scan's identity: services/sync/sync-plan.ts) takes that id as its own row id, so the primary key is the
-- physical scan's identity for every row and enforces what scans_physical_scan did; client_scan_id stays as a marker
-- (equal to id where set). One B-tree entry fewer per stored scan, on every write path (docs/architecture.md, "The
-- scans table's indexes"; docs/benchmarks.md, bench:offline).
--
-- The rows stored before take the same shape: their id becomes their client_scan_id, and the conflicts and verdicts
-- that name them follow. (Their old id was the server's and never the device's reference to its scan.)
CREATE TEMPORARY TABLE scan_id_moves ON COMMIT DROP AS
  SELECT event_id, id AS old_id, client_scan_id AS new_id FROM scans WHERE client_scan_id IS NOT NULL AND client_scan_id <> id;
UPDATE conflicts c SET loser_scan_id = m.new_id FROM scan_id_moves m WHERE c.event_id = m.event_id AND c.loser_scan_id = m.old_id;
UPDATE conflicts c SET winner_scan_id = m.new_id FROM scan_id_moves m WHERE c.event_id = m.event_id AND c.winner_scan_id = m.old_id;
UPDATE scans s SET winner_scan_id = m.new_id FROM scan_id_moves m WHERE s.event_id = m.event_id AND s.winner_scan_id = m.old_id;
UPDATE scans s SET id = m.new_id FROM scan_id_moves m WHERE s.event_id = m.event_id AND s.id = m.old_id;

ALTER TABLE scans ADD CONSTRAINT scans_client_scan_id_is_id CHECK (client_scan_id IS NULL OR client_scan_id = id);
DROP INDEX scans_physical_scan;

-- The online replay checks looked a scan_id up by coalesce(client_scan_id, id), through the index just dropped; the
-- same look-up is now the primary key's (id = scan_id), with nothing else changed.
CREATE OR REPLACE FUNCTION entrada_admit_scan(
  p_event uuid, p_scan uuid, p_ticket uuid, p_digest bytea, p_result text, p_reason text, p_direction text,
  p_device_pk uuid, p_device_id text, p_gate uuid, p_session uuid, p_at timestamptz, p_source text,
  p_entries integer, p_first_at timestamptz, p_first_device text, p_first_gate uuid,
  p_last_at timestamptz, p_last_direction text, p_last_device text, p_last_gate uuid,
  p_expected_version integer, p_check_replay boolean, p_staff uuid
) RETURNS TABLE (applied_version integer, existing text, session_ended boolean) LANGUAGE plpgsql AS $$
DECLARE
  v integer;
BEGIN
  session_ended := false;
  IF p_check_replay THEN
    SELECT s.result INTO existing FROM scans s
      WHERE s.event_id = p_event AND s.id = p_scan;
    IF FOUND THEN
      RETURN NEXT;
      RETURN;
    END IF;
  END IF;
  IF p_session IS NOT NULL AND NOT EXISTS (
      SELECT 1 FROM scan_sessions ss WHERE ss.event_id = p_event AND ss.id = p_session AND ss.status = 'active') THEN
    session_ended := true;
    RETURN NEXT;
    RETURN;
  END IF;
  UPDATE tickets t SET entries = p_entries, first_at = p_first_at, first_device_id = p_first_device, first_gate_id = p_first_gate,
      last_at = p_last_at, last_direction = p_last_direction, last_device_id = p_last_device, last_gate_id = p_last_gate,
      version = t.version + 1
    WHERE t.event_id = p_event AND t.id = p_ticket AND t.version = p_expected_version
    RETURNING t.version INTO v;
  IF FOUND THEN
    INSERT INTO scans (event_id, id, ticket_id, code_digest, result, reason, direction, device_pk, device_id, gate_id, session_id, scanned_at,
        source, admits, record_status, staff_id, flags)
      SELECT p_event, p_scan, p_ticket, p_digest, p_result, p_reason, p_direction, p_device_pk, p_device_id, p_gate, p_session, p_at,
        p_source, true, 'admitted', st.staff_id, st.flags FROM entrada_scan_staff(p_event, p_staff) st;
  END IF;
  applied_version := v;
  RETURN NEXT;
END $$;

CREATE OR REPLACE FUNCTION entrada_reject_scan(
  p_event uuid, p_scan uuid, p_ticket uuid, p_digest bytea, p_result text, p_reason text, p_direction text,
  p_device_pk uuid, p_device_id text, p_gate uuid, p_session uuid, p_at timestamptz, p_source text,
  p_expected_version integer, p_check_replay boolean, p_staff uuid
) RETURNS TABLE (recorded boolean, existing text, session_ended boolean) LANGUAGE plpgsql AS $$
BEGIN
  session_ended := false;
  IF p_check_replay THEN
    SELECT s.result INTO existing FROM scans s
      WHERE s.event_id = p_event AND s.id = p_scan;
    IF FOUND THEN
      recorded := false;
      RETURN NEXT;
      RETURN;
    END IF;
  END IF;
  IF p_session IS NOT NULL AND NOT EXISTS (
      SELECT 1 FROM scan_sessions ss WHERE ss.event_id = p_event AND ss.id = p_session AND ss.status = 'active') THEN
    recorded := false;
    session_ended := true;
    RETURN NEXT;
    RETURN;
  END IF;
  INSERT INTO scans (event_id, id, ticket_id, code_digest, result, reason, direction, device_pk, device_id, gate_id, session_id, scanned_at,
      source, admits, record_status, staff_id, flags)
    SELECT p_event, p_scan, p_ticket, p_digest, p_result, p_reason, p_direction, p_device_pk, p_device_id, p_gate, p_session, p_at,
      p_source, false, 'rejected', st.staff_id, st.flags
    FROM tickets t, entrada_scan_staff(p_event, p_staff) st WHERE t.event_id = p_event AND t.id = p_ticket AND t.version = p_expected_version
    ON CONFLICT DO NOTHING;
  recorded := FOUND;
  RETURN NEXT;
END $$;
