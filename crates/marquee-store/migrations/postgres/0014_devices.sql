-- Signing out one device. A session is bound to the device it registered or
-- last started playback on; signing that device out deletes its sessions and
-- marks it revoked, so it must log in and register again before it plays.
ALTER TABLE sessions ADD COLUMN device_id BIGINT REFERENCES devices(id) ON DELETE SET NULL DEFERRABLE;
CREATE INDEX sessions_device ON sessions(device_id) WHERE device_id IS NOT NULL;
ALTER TABLE devices ADD COLUMN revoked_at BIGINT;
