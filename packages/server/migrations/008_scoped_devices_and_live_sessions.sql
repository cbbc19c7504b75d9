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
