//! Client proxies for `org.vigil.Nvr1`, used by vigilctl, the tests and the benchmarks.

use std::collections::HashMap;

use zbus::{OwnedObjectPath, OwnedVariant};

use crate::dbus::{CameraRow, DeviceRow};

/// `org.vigil.Nvr1.Manager`.
#[zbus::proxy(
    interface = "org.vigil.Nvr1.Manager",
    default_service = "org.vigil.Nvr1",
    default_path = "/org/vigil/Nvr1"
)]
pub trait Manager {
    /// ListCameras.
    fn list_cameras(&self) -> zbus::Result<Vec<CameraRow>>;
    /// ListDiscovered.
    fn list_discovered(&self) -> zbus::Result<Vec<DeviceRow>>;
    /// Discover.
    fn discover(&self, targets: &[&str]) -> zbus::Result<u32>;
    /// AddCamera.
    fn add_camera(
        &self,
        host: &str,
        port: u16,
        username: &str,
        password: &str,
    ) -> zbus::Result<OwnedObjectPath>;
    /// AddDiscovered.
    fn add_discovered(
        &self,
        key: &str,
        username: &str,
        password: &str,
    ) -> zbus::Result<OwnedObjectPath>;
    /// AddDiscoveredMany.
    fn add_discovered_many(
        &self,
        keys: &[&str],
        username: &str,
        password: &str,
    ) -> zbus::Result<Vec<(String, bool, OwnedObjectPath, String)>>;
    /// RemoveCamera.
    fn remove_camera(&self, camera: &zbus::ObjectPath<'_>) -> zbus::Result<()>;
    /// ActivateCamera.
    fn activate_camera(
        &self,
        key: &str,
        password: &str,
        confirmation: &str,
        reset_email: &str,
        add: bool,
    ) -> zbus::Result<(bool, OwnedObjectPath, String)>;
    /// StartRecovery.
    fn start_recovery(&self, key: &str) -> zbus::Result<(String, OwnedObjectPath)>;
    /// RemoveAndStartRecovery.
    fn remove_and_start_recovery(&self, key: &str) -> zbus::Result<(String, OwnedObjectPath)>;
    /// ChangePasswords.
    fn change_passwords(
        &self,
        cameras: &[zbus::ObjectPath<'_>],
        password: &str,
        confirmation: &str,
    ) -> zbus::Result<Vec<(OwnedObjectPath, bool, String)>>;
    /// CheckPassword.
    fn check_password(
        &self,
        password: &str,
        username: &str,
    ) -> zbus::Result<(bool, String, Vec<String>)>;
    /// GetAuditLog.
    fn get_audit_log(
        &self,
        limit: u32,
    ) -> zbus::Result<Vec<(i64, i64, String, String, String, String)>>;
    /// VerifyAuditLog.
    fn verify_audit_log(&self) -> zbus::Result<u32>;
    /// Status.
    fn status(&self) -> zbus::Result<HashMap<String, OwnedVariant>>;
    /// AccountStatus: activated, user name, seconds locked, wrong passwords, two-factor on.
    fn account_status(&self) -> zbus::Result<(bool, String, u64, u32, bool)>;
    /// ClearAccountLockout.
    fn clear_account_lockout(&self) -> zbus::Result<()>;
    /// ActivateNvr.
    fn activate_nvr(
        &self,
        password: &str,
        confirmation: &str,
        reserved_email: &str,
        default_camera_password: &str,
    ) -> zbus::Result<()>;
    /// Version.
    #[zbus(property)]
    fn version(&self) -> zbus::Result<String>;
    /// DeviceDiscovered.
    #[zbus(signal)]
    fn device_discovered(&self, device: DeviceRow) -> zbus::Result<()>;
    /// DiscoveryFinished.
    #[zbus(signal)]
    fn discovery_finished(&self, devices: u32) -> zbus::Result<()>;
}

/// `org.vigil.Nvr1.Camera`.
#[zbus::proxy(
    interface = "org.vigil.Nvr1.Camera",
    default_service = "org.vigil.Nvr1"
)]
pub trait Camera {
    /// EditCredentials.
    fn edit_credentials(&self, username: &str, password: &str) -> zbus::Result<()>;
    /// ChangePassword.
    fn change_password(&self, password: &str, confirmation: &str) -> zbus::Result<()>;
    /// SetChannel.
    fn set_channel(&self, channel: u16) -> zbus::Result<()>;
    /// SetName.
    fn set_name(&self, name: &str) -> zbus::Result<()>;
    /// GetNetwork: address, mask, gateway, DHCP.
    fn get_network(&self) -> zbus::Result<(String, String, String, bool)>;
    /// SetNetwork: the settings in force and whether the camera rebooted.
    fn set_network(
        &self,
        address: &str,
        mask: &str,
        gateway: &str,
        dhcp: bool,
    ) -> zbus::Result<(String, String, String, bool, bool)>;
    /// Reboot.
    fn reboot(&self) -> zbus::Result<String>;
    /// RestoreFactoryDefaults ("soft" or "hard").
    fn restore_factory_defaults(&self, kind: &str) -> zbus::Result<()>;
    /// SetClock: the clock offset afterwards, seconds.
    fn set_clock(&self) -> zbus::Result<i64>;
    /// Remove.
    fn remove(&self) -> zbus::Result<()>;
    /// Channel.
    #[zbus(property)]
    fn channel(&self) -> zbus::Result<u16>;
    /// Name.
    #[zbus(property)]
    fn name(&self) -> zbus::Result<String>;
    /// Status.
    #[zbus(property)]
    fn status(&self) -> zbus::Result<String>;
    /// Certified.
    #[zbus(property)]
    fn certified(&self) -> zbus::Result<bool>;
    /// LastError.
    #[zbus(property)]
    fn last_error(&self) -> zbus::Result<String>;
    /// LastErrorKind.
    #[zbus(property)]
    fn last_error_kind(&self) -> zbus::Result<String>;
    /// Serial.
    #[zbus(property)]
    fn serial(&self) -> zbus::Result<String>;
    /// Model.
    #[zbus(property)]
    fn model(&self) -> zbus::Result<String>;
    /// ClockOffset.
    #[zbus(property)]
    fn clock_offset(&self) -> zbus::Result<i64>;
    /// ClockDrift.
    #[zbus(property)]
    fn clock_drift(&self) -> zbus::Result<bool>;
}

/// `org.vigil.Nvr1.Devices`.
#[zbus::proxy(
    interface = "org.vigil.Nvr1.Devices",
    default_service = "org.vigil.Nvr1",
    default_path = "/org/vigil/Nvr1"
)]
pub trait Devices {
    /// GetDeviceNetwork.
    fn get_device_network(
        &self,
        key: &str,
        username: &str,
        password: &str,
    ) -> zbus::Result<(String, String, String, bool)>;
    /// SetDeviceNetwork.
    #[allow(clippy::too_many_arguments)]
    fn set_device_network(
        &self,
        key: &str,
        username: &str,
        password: &str,
        address: &str,
        mask: &str,
        gateway: &str,
        dhcp: bool,
    ) -> zbus::Result<(String, String, String, bool, bool)>;
    /// RebootDevice.
    fn reboot_device(&self, key: &str, username: &str, password: &str) -> zbus::Result<String>;
}

/// `org.vigil.Nvr1.Recovery`.
#[zbus::proxy(
    interface = "org.vigil.Nvr1.Recovery",
    default_service = "org.vigil.Nvr1"
)]
pub trait Recovery {
    /// SendCode.
    fn send_code(&self) -> zbus::Result<()>;
    /// NewCode.
    fn new_code(&self) -> zbus::Result<()>;
    /// VerifyCode.
    fn verify_code(&self, code: &str) -> zbus::Result<()>;
    /// VerifySupportCode.
    fn verify_support_code(&self, code: &str) -> zbus::Result<()>;
    /// SetPassword.
    fn set_password(&self, password: &str, confirmation: &str) -> zbus::Result<OwnedObjectPath>;
    /// Cancel.
    fn cancel(&self) -> zbus::Result<()>;
    /// Step.
    #[zbus(property)]
    fn step(&self) -> zbus::Result<String>;
    /// Serial.
    #[zbus(property)]
    fn serial(&self) -> zbus::Result<String>;
    /// Model.
    #[zbus(property)]
    fn model(&self) -> zbus::Result<String>;
    /// MaskedEmail.
    #[zbus(property)]
    fn masked_email(&self) -> zbus::Result<String>;
    /// Internet.
    #[zbus(property)]
    fn internet(&self) -> zbus::Result<bool>;
    /// Protocol.
    #[zbus(property)]
    fn protocol(&self) -> zbus::Result<String>;
    /// PhoneApp.
    #[zbus(property)]
    fn phone_app(&self) -> zbus::Result<String>;
    /// Methods.
    #[zbus(property)]
    fn methods(&self) -> zbus::Result<Vec<String>>;
    /// CameraDate.
    #[zbus(property)]
    fn camera_date(&self) -> zbus::Result<String>;
    /// ExpiresAt.
    #[zbus(property)]
    fn expires_at(&self) -> zbus::Result<i64>;
    /// AttemptsLeft.
    #[zbus(property)]
    fn attempts_left(&self) -> zbus::Result<u32>;
    /// QrPayload.
    #[zbus(property)]
    fn qr_payload(&self) -> zbus::Result<String>;
    /// CodeSentTo.
    #[zbus(property)]
    fn code_sent_to(&self) -> zbus::Result<String>;
    /// Failure.
    #[zbus(property)]
    fn failure(&self) -> zbus::Result<String>;
    /// ResultCamera.
    #[zbus(property)]
    fn result_camera(&self) -> zbus::Result<OwnedObjectPath>;
}
