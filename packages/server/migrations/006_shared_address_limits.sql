-- Per-address limits on login-like endpoints that hold across API instances.
-- Failed staff logins are counted per event and address, and failed pairing
-- attempts per address, from the logs every instance writes (as the
-- per-device staff limit already was, migration 004), not only in each
-- instance's memory, where behind N instances an address got N times the
-- budget.
CREATE INDEX event_login_logs_address ON event_login_logs (event_id, ip_address, created_at) WHERE NOT success;
CREATE INDEX login_logs_pairing_failures ON login_logs (ip_address, created_at) WHERE identifier = 'pairing-code' AND NOT success;
