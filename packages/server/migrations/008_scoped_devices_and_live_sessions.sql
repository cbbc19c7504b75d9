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
