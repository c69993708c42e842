//! Initializing a Dahua camera in factory state without a login, as Dahua's web client and tools do:
//! `DevInit.getStatus` (`Init` 1), the camera's key (`Security.getEncryptInfo`), the licence
//! (`DevInit.setProtocolAgree`), then the administrator's name and password and the reset email sealed
//! in the envelope (`DevInit.account`: `name`, `pwd`, `CellPhone`, `Mail`), and network access kept
//! off (`DevInit.access`: no P2P, no automatic upgrade).

use secrecy::ExposeSecret;
use serde_json::{Value, json};

use super::rpc::{RpcSession, read_error};
use crate::camera::CameraError;
use crate::camera::recovery_client::RecoveryError;
use crate::camera::transport::HttpPool;
use crate::model::{Credentials, DeviceAddress};

/// Initializes the camera with `credentials` and `reset_email`; whether the reset email was set.
/// Nothing sensitive goes in clear; the camera's refusal (a weak password, already initialized) comes
/// back in its words.
pub async fn activate(
    pool: &HttpPool,
    address: &DeviceAddress,
    credentials: &Credentials,
    reset_email: &str,
) -> Result<bool, RecoveryError> {
    let session = RpcSession::new(pool, address);
    if !session.in_factory_state().await? {
        return Err(RecoveryError::AlreadyActive);
    }
    let info = session.encrypt_info().await?;
    session
        .call_with_session_zero(
            "DevInit.setProtocolAgree",
            json!({ "ProtocolEnable": true }),
        )
        .await?;
    let account = json!({
        "name": credentials.username,
        "pwd": credentials.password.expose_secret(),
        "CellPhone": "",
        "Mail": reset_email,
    });
    let reply = session.sealed("DevInit.account", &info, &account).await?;
    if reply.get("result") != Some(&Value::Bool(true)) {
        return Err(RecoveryError::Camera(read_error(&reply, false)));
    }
    // Dahua's own wizard goes on when this step is refused; so does the recorder, and says so.
    let access = json!({ "NetAccess": 0, "UpgradeCheck": 2 });
    match session.sealed("DevInit.access", &info, &access).await {
        Ok(reply) if reply.get("result") == Some(&Value::Bool(true)) => {}
        Ok(reply) => tracing::info!(
            camera = %address,
            refusal = %read_error(&reply, false),
            "the camera kept its own network-access setting"
        ),
        Err(error @ CameraError::Offline(_)) => return Err(RecoveryError::Camera(error)),
        Err(error) => {
            tracing::info!(camera = %address, %error, "the camera kept its own network-access setting")
        }
    }
    Ok(!reset_email.is_empty())
}
