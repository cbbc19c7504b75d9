-- Issue 13: online scans record the staff member logged in on the device (scans.staff_id, migration 012). The
-- device sends the id with each scan; the guarded writes of migration 008 take it as one more parameter and store
-- it only when it is staff of the scan's event (an id of another event, or of nobody, names no one here): such a
-- scan is stored without one and flagged unknown_staff, never refused (a gate must not stop on a bookkeeping field).
-- Checked in the same statement: no extra round trip on the scan path, and a lookup by primary key only when an id
-- is sent.

-- The staff id to store for a scan and its flags: (id, '{}') for staff of the event, (NULL, '{unknown_staff}') for
-- another id, (NULL, '{}') for none.
CREATE FUNCTION entrada_scan_staff(p_event uuid, p_staff uuid) RETURNS TABLE (staff_id uuid, flags text[]) LANGUAGE sql STABLE AS $$
  SELECT es.id, CASE WHEN p_staff IS NOT NULL AND es.id IS NULL THEN ARRAY['unknown_staff'] ELSE '{}'::text[] END
  FROM (SELECT 1) one
  LEFT JOIN event_staff es ON p_staff IS NOT NULL AND es.event_id = p_event AND es.id = p_staff
$$;

DROP FUNCTION entrada_admit_scan(uuid, uuid, uuid, bytea, text, text, text, uuid, text, uuid, uuid, timestamptz, text,
  integer, timestamptz, text, uuid, timestamptz, text, text, uuid, integer, boolean);
CREATE FUNCTION entrada_admit_scan(
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
      WHERE s.event_id = p_event AND coalesce(s.client_scan_id, s.id) = p_scan;
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

DROP FUNCTION entrada_reject_scan(uuid, uuid, uuid, bytea, text, text, text, uuid, text, uuid, uuid, timestamptz, text, integer, boolean);
CREATE FUNCTION entrada_reject_scan(
  p_event uuid, p_scan uuid, p_ticket uuid, p_digest bytea, p_result text, p_reason text, p_direction text,
  p_device_pk uuid, p_device_id text, p_gate uuid, p_session uuid, p_at timestamptz, p_source text,
  p_expected_version integer, p_check_replay boolean, p_staff uuid
) RETURNS TABLE (recorded boolean, existing text, session_ended boolean) LANGUAGE plpgsql AS $$
BEGIN
  session_ended := false;
  IF p_check_replay THEN
    SELECT s.result INTO existing FROM scans s
      WHERE s.event_id = p_event AND coalesce(s.client_scan_id, s.id) = p_scan;
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
