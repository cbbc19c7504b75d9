-- The online scan path's guarded writes as functions. The decision is made by
-- core's rules in the API process; these only apply it atomically. As
-- functions their plans are cached per connection, which matters for the
-- embedded PGlite (it re-plans every ad-hoc statement: ~470 µs against ~210 µs
-- per scan measured) and spares PostgreSQL re-parsing a long statement.

-- One physical scan, one row. A device whose online attempt timed out decides
-- offline and uploads the same scan (carrying the attempt's scan_id); the
-- online request may still arrive, before or after that upload. Offline rows
-- keep that id in client_scan_id, and one id is unique per event across both
-- kinds of rows (an online row's id is the client's scan_id).
ALTER TABLE scans ADD COLUMN client_scan_id uuid;
CREATE UNIQUE INDEX scans_physical_scan ON scans (event_id, (coalesce(client_scan_id, id)));


-- Writes the ticket's new scan state only if its version is still the one the
-- verdict was decided on, and records the scan in the same statement.
-- applied_version is null when the version moved (decide again) or, with
-- p_check_replay, when this physical scan is already recorded, online or as
-- an offline copy (existing is its result).
CREATE FUNCTION entrada_admit_scan(
  p_event uuid, p_scan uuid, p_ticket uuid, p_digest bytea, p_result text, p_reason text, p_direction text,
  p_device_pk uuid, p_device_id text, p_gate uuid, p_session uuid, p_at timestamptz, p_source text,
  p_entries integer, p_first_at timestamptz, p_first_device text, p_first_gate uuid,
  p_last_at timestamptz, p_last_direction text, p_last_device text, p_last_gate uuid,
  p_expected_version integer, p_check_replay boolean
) RETURNS TABLE (applied_version integer, existing text) LANGUAGE plpgsql AS $$
DECLARE
  v integer;
BEGIN
  IF p_check_replay THEN
    SELECT s.result INTO existing FROM scans s
      WHERE s.event_id = p_event AND coalesce(s.client_scan_id, s.id) = p_scan;
    IF FOUND THEN
      RETURN NEXT;
      RETURN;
    END IF;
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

-- Records a refused scan, guarded by the same version check, so a refusal is
-- never based on stale state either. recorded is false when the version moved
-- or (existing set) the scan id was already recorded.
CREATE FUNCTION entrada_reject_scan(
  p_event uuid, p_scan uuid, p_ticket uuid, p_digest bytea, p_result text, p_reason text, p_direction text,
  p_device_pk uuid, p_device_id text, p_gate uuid, p_session uuid, p_at timestamptz, p_source text,
  p_expected_version integer, p_check_replay boolean
) RETURNS TABLE (recorded boolean, existing text) LANGUAGE plpgsql AS $$
BEGIN
  IF p_check_replay THEN
    SELECT s.result INTO existing FROM scans s
      WHERE s.event_id = p_event AND coalesce(s.client_scan_id, s.id) = p_scan;
    IF FOUND THEN
      recorded := false;
      RETURN NEXT;
      RETURN;
    END IF;
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
