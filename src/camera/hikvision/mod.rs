//! Hikvision's cameras in their own protocols: SADP on UDP for discovery and re-addressing, and ISAPI
//! over HTTP Digest for activation, certification, the illegal-login lock, users and password
//! recovery. A new Hikvision camera has ONVIF off, so this is how the recorder reaches it at all.

pub mod activation;
pub mod isapi;
pub mod maintenance;
pub mod readdress;
pub mod sadp;

use crate::camera::CameraError;
use crate::camera::client::Certification;
use crate::camera::transport::HttpPool;
use crate::model::{Credentials, DeviceAddress};
use isapi::IsapiSession;

/// Certifies `credentials` over ISAPI: first, without a login, whether the camera is activated (a
/// camera in factory state has no administrator to check against); then the one login (`userCheck`,
/// which says whether the user is locked); then who the camera is and its clock. At most one failed
/// login reaches the camera.
pub async fn certify(
    pool: &HttpPool,
    address: &DeviceAddress,
    credentials: &Credentials,
) -> Result<Certification, CameraError> {
    match IsapiSession::new(pool, address, None).activated().await {
        Ok(false) => return Err(CameraError::Inactive),
        Ok(true) => {}
        // No answer: no login is sent into that.
        Err(error @ CameraError::Offline(_)) => return Err(error),
        // Any other answer says the camera is there and checks logins.
        Err(_) => {}
    }
    recheck(pool, address, credentials).await
}

/// The monitor's check: the login, then identity and clock, over one Digest session.
pub async fn recheck(
    pool: &HttpPool,
    address: &DeviceAddress,
    credentials: &Credentials,
) -> Result<Certification, CameraError> {
    let session = IsapiSession::new(pool, address, Some(credentials));
    session.user_check().await?;
    let identity = session.device_info().await?;
    // A camera that will not tell its time is still certified; its offset is taken as none.
    let clock_offset_secs = session.clock_offset().await.unwrap_or(0);
    Ok(Certification {
        identity,
        clock_offset_secs,
        protocol: crate::model::Protocol::Hikvision,
    })
}

/// Activates a camera in factory state with `credentials.password` for its `admin` (the exchange its
/// firmware names), then, logged in with it, sets its reserved email. Says whether the email was set:
/// a camera that does not offer it is still activated.
pub async fn activate(
    pool: &HttpPool,
    address: &DeviceAddress,
    credentials: &Credentials,
    reset_email: &str,
) -> Result<bool, CameraError> {
    activation::activate(
        &IsapiSession::new(pool, address, None),
        &credentials.password,
    )
    .await?;
    let session = IsapiSession::new(pool, address, Some(credentials));
    let body = serde_json::json!({
        "SecurityEmail": {
            "password": secrecy::ExposeSecret::expose_secret(&credentials.password),
            "SecurityInformation": [{ "emailAddress": reset_email }],
        }
    })
    .to_string();
    match session
        .call_json("PUT", "/ISAPI/Security/email/parameter?format=json", &body)
        .await
    {
        Ok(_) => Ok(true),
        Err(CameraError::NotOffered(_)) => Ok(false),
        Err(error) => {
            tracing::warn!(address = %address, %error, "activated camera did not take the reserved email");
            Ok(false)
        }
    }
}

/// Whether the camera answers, asked without a login (`/SDK/activateStatus`). ISAPI tells no time
/// without a login, so the offset is 0.
pub async fn reach(pool: &HttpPool, address: &DeviceAddress) -> Result<i64, CameraError> {
    match IsapiSession::new(pool, address, None).activated().await {
        Err(error @ CameraError::Offline(_)) => Err(error),
        // It answered, in whatever words: it is there.
        _ => Ok(0),
    }
}
