//! Dahua's cameras (and Lorex and the other Dahua-made ones) in their own protocols: DHIP on UDP for
//! discovery, and the JSON RPC over HTTP for everything else. docs/vendors.md names the public sources.

pub mod dhip;
pub mod envelope;
pub mod init;
pub mod passwd_find;
pub mod rpc;

use crate::camera::CameraError;
use crate::camera::client::Certification;
use crate::camera::transport::HttpPool;
use crate::model::{Credentials, DeviceAddress, Protocol};
use rpc::RpcSession;

/// Certifies `credentials` over the RPC: first, without a login, whether the camera is in factory
/// state; then the one login; then who it is. The clock is not measured (the camera tells local time
/// without its zone), so its offset is taken as none.
pub async fn certify(
    pool: &HttpPool,
    address: &DeviceAddress,
    credentials: &Credentials,
) -> Result<Certification, CameraError> {
    let session = RpcSession::new(pool, address);
    match session.in_factory_state().await {
        Ok(true) => return Err(CameraError::Inactive),
        Ok(false) => {}
        Err(error @ CameraError::Offline(_)) => return Err(error),
        Err(_) => {}
    }
    session.login(credentials).await?;
    let identity = session.identity().await?;
    Ok(Certification {
        identity,
        clock_offset_secs: 0,
        protocol: Protocol::Dahua,
    })
}

/// Whether the camera answers, asked without a login (`DevInit.getStatus`).
pub async fn reach(pool: &HttpPool, address: &DeviceAddress) -> Result<i64, CameraError> {
    match RpcSession::new(pool, address).in_factory_state().await {
        Err(error @ CameraError::Offline(_)) => Err(error),
        // It answered, in whatever words: it is there.
        _ => Ok(0),
    }
}
