//! The one HTTP transport every camera request goes through: a single shared connection pool (one
//! reqwest client for all cameras), HTTP Digest answered per camera, and a cap on reply size so a
//! hostile device cannot exhaust memory. Every reply is read by the one refusal classifier
//! ([`crate::camera::refusal`]) before anyone else sees it. Plugs into oxvif as its `Transport`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use oxvif::transport::{Transport, TransportError};
use secrecy::ExposeSecret;

use crate::camera::CameraError;
use crate::camera::refusal::{CLASSIFIED, Reply, Verdict, classify_reply, encode};
use crate::camera::xml_guard::{MAX_XML_DEPTH, nesting_within};
use crate::model::Credentials;

/// The largest SOAP reply read from a camera.
pub const MAX_REPLY_BYTES: usize = 1024 * 1024;
/// Stands in for an HTTP status when a reply was refused unread: too large or nested too deeply.
pub const UNREADABLE_REPLY: u16 = 0;

/// The shared HTTP pool. Cheap to clone; clones share connections.
#[derive(Clone, Debug)]
pub struct HttpPool {
    client: reqwest::Client,
}

impl HttpPool {
    /// A pool whose requests give up after `request_timeout`, and connecting after `connect_timeout`.
    pub fn new(request_timeout: Duration, connect_timeout: Duration) -> Self {
        let client = reqwest::Client::builder()
            .timeout(request_timeout)
            .connect_timeout(connect_timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(2)
            // A redirect would carry the UsernameToken in the body to wherever the reply points.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("vigild/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Self { client }
    }

    /// A transport for one camera, with its credentials for HTTP Digest when it asks.
    pub fn transport(&self, credentials: Option<&Credentials>) -> Arc<CameraTransport> {
        Arc::new(CameraTransport {
            client: self.client.clone(),
            digest: credentials.map(|c| DigestState {
                credentials: c.clone(),
                challenge: Mutex::new(None),
            }),
        })
    }
}

struct DigestState {
    credentials: Credentials,
    /// The camera's last Digest challenge, reused so later requests skip the 401 round trip.
    challenge: Mutex<Option<digest_auth::WwwAuthenticateHeader>>,
}

/// One camera's view of the shared pool.
pub struct CameraTransport {
    client: reqwest::Client,
    digest: Option<DigestState>,
}

impl CameraTransport {
    async fn post(
        &self,
        url: &str,
        action: &str,
        body: &str,
        authorization: Option<String>,
    ) -> Result<reqwest::Response, TransportError> {
        let mut request = self
            .client
            .post(url)
            .header(
                reqwest::header::CONTENT_TYPE,
                format!("application/soap+xml; charset=utf-8; action=\"{action}\""),
            )
            .body(body.to_owned());
        if let Some(value) = authorization {
            request = request.header(reqwest::header::AUTHORIZATION, value);
        }
        Ok(request.send().await?)
    }
}

#[async_trait]
impl Transport for CameraTransport {
    async fn soap_post(
        &self,
        url: &str,
        action: &str,
        body: String,
    ) -> Result<String, TransportError> {
        let mut response = self
            .post(
                url,
                action,
                &body,
                self.authorization_for("POST", url, None, None),
            )
            .await?;
        if response.status() == reqwest::StatusCode::UNAUTHORIZED && self.digest.is_some() {
            let challenge = response
                .headers()
                .get(reqwest::header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .filter(|v| v.trim_start().starts_with("Digest"))
                .map(str::to_owned);
            if let Some(challenge) = challenge {
                let Some(authorization) =
                    self.authorization_for("POST", url, None, Some(&challenge))
                else {
                    // Nothing was tried with the password: say so, rather than "rejected".
                    return Err(TransportError::HttpStatus {
                        status: CLASSIFIED,
                        body: encode(&CameraError::BadReply(
                            "an HTTP Digest challenge the NVR cannot answer".to_owned(),
                        )),
                    });
                };
                // The camera asks for HTTP Digest. The retry leaves out the UsernameToken the
                // first try already used: a camera that remembers nonces would call it a replay.
                let retry_body = without_username_token(&body);
                response = self
                    .post(url, action, &retry_body, Some(authorization))
                    .await?;
            }
        }
        let status = response.status().as_u16();
        let challenge = header_text(&response, reqwest::header::WWW_AUTHENTICATE);
        let retry_after = header_text(&response, reqwest::header::RETRY_AFTER);
        let text = read_capped(response).await?;
        // Whether this request carried credentials: HTTP Digest, or a UsernameToken in the envelope.
        let with_credentials = self.digest.is_some() || body.contains("UsernameToken");
        let reply = Reply {
            status,
            challenge: challenge.as_deref(),
            retry_after: retry_after.as_deref(),
            body: &text,
        };
        match classify_reply(reply, with_credentials) {
            // Successes, and faults the caller reads itself (the SOAP layer, the recovery extension).
            Verdict::Pass => Ok(text),
            Verdict::Refused(error) => {
                if status >= 400 {
                    tracing::debug!(url, status, %error, "camera refused the request");
                }
                Err(TransportError::HttpStatus {
                    status: CLASSIFIED,
                    body: encode(&error),
                })
            }
        }
    }
}

/// A camera's answer to a plain HTTP request (the vendor drivers' ISAPI and JSON RPC), read within
/// [`MAX_REPLY_BYTES`] and unclassified: each driver reads its own protocol's refusals.
#[derive(Debug, Clone)]
pub struct HttpReply {
    /// The HTTP status.
    pub status: u16,
    /// `WWW-Authenticate`, when the camera sent one.
    pub challenge: Option<String>,
    /// The `Date` header, when the camera sent one.
    pub date: Option<String>,
    /// The body, as text.
    pub body: String,
}

impl CameraTransport {
    /// One plain HTTP request (`method` GET, PUT, POST or DELETE) with an optional body, answering an
    /// HTTP Digest challenge once when the transport carries credentials. A camera that does not
    /// answer is [`CameraError::Offline`]; every answer, whatever its status, comes back to be read.
    pub async fn request(
        &self,
        method: &str,
        url: &str,
        content_type: &str,
        body: Option<&str>,
    ) -> Result<HttpReply, CameraError> {
        let method = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|_| CameraError::BadReply(format!("HTTP method {method}")))?;
        let send = |authorization: Option<String>| {
            let mut request = self.client.request(method.clone(), url);
            if let Some(body) = body {
                request = request
                    .header(reqwest::header::CONTENT_TYPE, content_type)
                    .body(body.to_owned());
            }
            if let Some(value) = authorization {
                request = request.header(reqwest::header::AUTHORIZATION, value);
            }
            request.send()
        };
        let offline = |e: reqwest::Error| CameraError::Offline(super::describe_http_error(&e));
        let digest_for =
            |challenge: Option<&str>| self.authorization_for(method.as_str(), url, body, challenge);
        // With a challenge cached from an earlier request, the first try already carries the
        // password, and a 401 to it is the camera's verdict: it is not answered a second time.
        let first = digest_for(None);
        let password_sent = first.is_some();
        let mut response = send(first).await.map_err(offline)?;
        if response.status() == reqwest::StatusCode::UNAUTHORIZED
            && self.digest.is_some()
            && !password_sent
            && let Some(challenge) = response
                .headers()
                .get(reqwest::header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .filter(|v| v.trim_start().starts_with("Digest"))
                .map(str::to_owned)
        {
            let Some(authorization) = digest_for(Some(&challenge)) else {
                return Err(CameraError::BadReply(
                    "an HTTP Digest challenge the NVR cannot answer".to_owned(),
                ));
            };
            response = send(Some(authorization)).await.map_err(offline)?;
        }
        let status = response.status().as_u16();
        let challenge = header_text(&response, reqwest::header::WWW_AUTHENTICATE);
        let date = header_text(&response, reqwest::header::DATE);
        let text = read_capped(response).await.map_err(|e| match e {
            TransportError::HttpStatus { body, .. } => CameraError::BadReply(body),
            TransportError::Http(e) => offline(e),
        })?;
        Ok(HttpReply {
            status,
            challenge,
            date,
            body: text,
        })
    }

    /// The HTTP Digest answer for `method` on `url`, to the challenge `fresh` (kept for the requests
    /// after) or to the one kept; `None` without credentials or a challenge it can answer.
    fn authorization_for(
        &self,
        method: &str,
        url: &str,
        body: Option<&str>,
        fresh: Option<&str>,
    ) -> Option<String> {
        let digest = self.digest.as_ref()?;
        let mut cached = digest.challenge.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(header) = fresh {
            *cached = Some(read_digest_challenge(header)?);
        }
        let challenge = cached.as_mut()?;
        let context = digest_auth::AuthContext::new_with_method(
            digest.credentials.username.as_str(),
            digest.credentials.password.expose_secret(),
            request_uri(url),
            body.map(str::as_bytes),
            digest_auth::HttpMethod::from(method.to_owned()),
        );
        challenge.respond(&context).ok().map(|h| h.to_string())
    }
}

/// A reply header's value as text, when it has one that is.
fn header_text(response: &reqwest::Response, name: reqwest::header::HeaderName) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The request URI a Digest answer covers: the path and query of `url`.
fn request_uri(url: &str) -> String {
    reqwest::Url::parse(url)
        .map(|u| match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_owned(),
        })
        .unwrap_or_else(|_| "/".to_owned())
}

/// The envelope without its WS-Security header block, for a retry with HTTP Digest.
fn without_username_token(body: &str) -> String {
    let Some(start) = body.find("<wsse:Security") else {
        return body.to_owned();
    };
    const END: &str = "</wsse:Security>";
    match body[start..].find(END) {
        Some(length) => format!("{}{}", &body[..start], &body[start + length + END.len()..]),
        None => body.to_owned(),
    }
}

async fn read_capped(mut response: reqwest::Response) -> Result<String, TransportError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if bytes.len() + chunk.len() > MAX_REPLY_BYTES {
            return Err(TransportError::HttpStatus {
                status: UNREADABLE_REPLY,
                body: format!("reply larger than {MAX_REPLY_BYTES} bytes"),
            });
        }
        bytes.extend_from_slice(&chunk);
    }
    if !nesting_within(&bytes, MAX_XML_DEPTH) {
        return Err(TransportError::HttpStatus {
            status: UNREADABLE_REPLY,
            body: "reply nested too deeply".to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Reads a camera's Digest challenge (`WWW-Authenticate`). Only visible ASCII is taken, as HTTP
/// header values are: the parser under it indexes bytes by character count and panics on anything
/// wider (found by the `digest_challenge` fuzz target), so such a header is a bad challenge instead.
pub fn read_digest_challenge(header: &str) -> Option<digest_auth::WwwAuthenticateHeader> {
    if !header.is_ascii() {
        return None;
    }
    digest_auth::parse(header).ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_challenge_with_wider_characters_is_refused_not_a_panic() {
        // Inputs like the ones the fuzz target found; the parser under it panicked on such.
        for header in [
            "<\0m=\"IP \", alg\u{5}e\u{35d}1\",<\0D=ca4d[auquqe\u{35d} alg=1\", \u{35d}1opaque alg",
            "Digest realm=\"IP Camera(C5284)\", q\"puhato=\", nonce=\"\u{31a}\u{261}8d344d6a4d78\", opaque=\"a1b2\"",
        ] {
            assert!(super::read_digest_challenge(header).is_none(), "{header}");
        }
        let fine = "Digest realm=\"IP Camera\", qop=\"auth\", nonce=\"4e6a\", opaque=\"a1b2\"";
        assert!(super::read_digest_challenge(fine).is_some());
    }
}
