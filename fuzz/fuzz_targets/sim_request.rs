//! A request to the simulated camera's device service, as it arrives: the SOAP envelope read for its
//! operation and WS-Security UsernameToken, and the same bytes as an HTTP Digest `Authorization` header,
//! read and answered.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil::sim::soap::request::{read_digest_authorization, read_request};

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = read_request(data) {
        let _ = request.operation.local_name.len();
    }
    if let Ok(header) = std::str::from_utf8(data)
        && let Some(mut authorization) = read_digest_authorization(header)
    {
        let context = digest_auth::AuthContext::new_with_method(
            "admin",
            "Harbor-Lamp-62",
            authorization.uri.clone(),
            Option::<&[u8]>::None,
            digest_auth::HttpMethod::from("POST".to_owned()),
        );
        authorization.digest(&context);
    }
});
