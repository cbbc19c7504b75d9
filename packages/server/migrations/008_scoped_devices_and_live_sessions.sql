-- Device ids are an organisation's own names for its scanners. Unique across
-- the installation, registering an id another organisation already used
-- answered 409 "already registered" and so told one organisation about
-- another's devices. They are unique per organisation now; every look-up of
-- a device by its id also names the organisation (or an event of it).
ALTER TABLE pairing_codes DROP CONSTRAINT pairing_codes_device_id_fkey;
ALTER TABLE devices DROP CONSTRAINT devices_device_id_key;
ALTER TABLE devices ADD CONSTRAINT devices_organisation_device_id UNIQUE (organisation_id, device_id);
-- A redeemed code names the device it paired, in the code's organisation (set in the same transaction, hence deferred).
ALTER TABLE pairing_codes ADD CONSTRAINT pairing_codes_device
  FOREIGN KEY (organisation_id, device_id) REFERENCES devices (organisation_id, device_id) DEFERRABLE INITIALLY DEFERRED;

-- The events a device may use (manifests, feed, sync, sessions, scans, staff
-- logins): NULL for every event of its organisation, which is what an
-- organiser registering a device without event_ids asks for; otherwise only
-- these. A paired device gets its code's event, and an organiser can add more.
ALTER TABLE devices ADD COLUMN event_ids uuid[];
-- Devices paired before keep the events they were paired for and every event
-- they have used (synced, scanned in a session or online); devices registered
-- by an organiser keep every event, as they were registered.
UPDATE devices d SET event_ids = used.ids
FROM (
  SELECT u.device_pk, array_agg(DISTINCT u.event_id ORDER BY u.event_id) AS ids
  FROM (
    SELECT d2.id AS device_pk, p.event_id FROM pairing_codes p
      JOIN devices d2 ON d2.organisation_id = p.organisation_id AND d2.device_id = p.device_id
    UNION SELECT device_pk, event_id FROM device_logs
    UNION SELECT device_pk, event_id FROM scan_sessions
    UNION SELECT device_pk, event_id FROM scans WHERE source = 'online' AND session_id IS NULL
  ) u
  GROUP BY u.device_pk
) used
WHERE d.id = used.device_pk
  AND EXISTS (SELECT 1 FROM pairing_codes p WHERE p.organisation_id = d.organisation_id AND p.device_id = d.device_id);

-- A scan through a scan session is recorded only while the session is active,
-- checked in the statement that records it. Each API instance caches
-- sessions, and the bus tells the others when one ends; without Redis that
-- message does not cross instances, and an instance went on scanning through
-- an ended session until its cached copy expired. session_ended is true when
-- the scan names a session that is no longer active: nothing is written.
-- (The functions of migration 003 with that check and that column added;
-- the replay check stays first, so a retry of a scan recorded before the end
-- still gets its verdict.)
DROP FUNCTION entrada_admit_scan(uuid, uuid, uuid, bytea, text, text, text, uuid, text, uuid, uuid, timestamptz, text,
  integer, timestamptz, text, uuid, timestamptz, text, text, uuid, integer, boolean);
CREATE FUNCTION entrada_admit_scan(
  p_event uuid, p_scan uuid, p_ticket uuid, p_digest bytea, p_result text, p_reason text, p_direction text,
  p_device_pk uuid, p_device_id text, p_gate uuid, p_session uuid, p_at timestamptz, p_source text,
  p_entries integer, p_first_at timestamptz, p_first_device text, p_first_gate uuid,
  p_last_at timestamptz, p_last_direction text, p_last_device text, p_last_gate uuid,
  p_expected_version integer, p_check_replay boolean
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
        source, admits, record_status)
      VALUES (p_event, p_scan, p_ticket, p_digest, p_result, p_reason, p_direction, p_device_pk, p_device_id, p_gate, p_session, p_at,
        p_source, true, 'admitted');
  END IF;
  applied_version := v;
  RETURN NEXT;
END $$;

DROP FUNCTION entrada_reject_scan(uuid, uuid, uuid, bytea, text, text, text, uuid, text, uuid, uuid, timestamptz, text, integer, boolean);
CREATE FUNCTION entrada_reject_scan(
  p_event uuid, p_scan uuid, p_ticket uuid, p_digest bytea, p_result text, p_reason text, p_direction text,
  p_device_pk uuid, p_device_id text, p_gate uuid, p_session uuid, p_at timestamptz, p_source text,
  p_expected_version integer, p_check_replay boolean
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
      source, admits, record_status)
    SELECT p_event, p_scan, p_ticket, p_digest, p_result, p_reason, p_direction, p_device_pk, p_device_id, p_gate, p_session, p_at,
      p_source, false, 'rejected'
    FROM tickets t WHERE t.event_id = p_event AND t.id = p_ticket AND t.version = p_expected_version
    ON CONFLICT DO NOTHING;
  recorded := FOUND;
  RETURN NEXT;
END $$;
