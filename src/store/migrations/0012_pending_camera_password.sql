-- 0012: a new password on its way to a camera. Sealed and stored before the camera is told, cleared in
-- the transaction that stores it as the camera's password (or when the camera refused it), so a crash
-- between the camera taking it and the registry recording it leaves it here for vigild to finish on
-- its next start, instead of a stored password the camera no longer takes.
ALTER TABLE added_camera ADD COLUMN pending_password_sealed BLOB;
