-- 0011: the protocol the recorder manages each added camera with (its driver in camera/), and the one a
-- forget-password flow runs in. Cameras and flows from before are ONVIF's (with Vigil's extension).
ALTER TABLE added_camera ADD COLUMN protocol TEXT NOT NULL DEFAULT 'onvif'
    CHECK (protocol IN ('onvif', 'hikvision', 'dahua'));
ALTER TABLE recovery_flow ADD COLUMN protocol TEXT NOT NULL DEFAULT 'vigil'
    CHECK (protocol IN ('vigil', 'hikvision', 'dahua'));
