//! How a simulated camera checks a caller: WS-Security UsernameToken (digest or text, fresh and never
//! replayed) and HTTP Digest, lockouts after failed logins, the faults it answers with, and which
//! operations each level may run.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::users::{Caller, SimUser, UserLevel, has_admin};
use super::{CameraPolicy, CameraState, SimCamera, hex, shift};
use crate::clock::rfc3339;
use crate::sim::fault::Fault;

/// How far a UsernameToken `Created` may be from the camera's own clock, either way.
pub const CREATED_FRESHNESS: Duration = Duration::from_secs(300);

/// How many UsernameToken nonces a camera remembers to refuse replays.
pub(super) const NONCE_MEMORY: usize = 8192;

/// How long an HTTP Digest nonce the camera issued stays valid.
pub(super) const DIGEST_NONCE_LIFETIME: Duration = Duration::from_secs(300);

/// How many HTTP Digest nonces a camera keeps outstanding.
pub(super) const DIGEST_NONCE_MEMORY: usize = 1024;

/// Most user names [`CameraStats::failed_logins_by_user`] keeps apart.
pub const MAX_TRACKED_USERNAMES: usize = 64;

/// Where [`CameraStats::failed_logins_by_user`] counts names that are not the camera's users (and any
/// beyond [`MAX_TRACKED_USERNAMES`]), so a flood of made-up names cannot grow it.
pub const UNKNOWN_USERNAME: &str = "(unknown user)";

/// The HTTP Digest realm cameras announce.
pub const DIGEST_REALM: &str = "VigilSimCamera";

/// The ONVIF access classes of the operations the simulator serves (ONVIF Core, "Access classes").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessClass {
    /// No authentication at all (GetSystemDateAndTime, GetServices, ...).
    PreAuth,
    /// Reading non-secret configuration.
    ReadSystem,
    /// Any authenticated user, never anonymous: where some cameras put GetSystemDateAndTime (see
    /// [`CameraPolicy::anonymous_clock`]).
    Authenticated,
    /// Reading secrets such as the user list.
    ReadSystemSecret,
    /// Changing configuration, users included.
    WriteSystem,
}

impl AccessClass {
    fn allowed_for(self, level: UserLevel) -> bool {
        match self {
            AccessClass::PreAuth | AccessClass::ReadSystem | AccessClass::Authenticated => true,
            AccessClass::ReadSystemSecret | AccessClass::WriteSystem => {
                level == UserLevel::Administrator
            }
        }
    }
}

/// Per-user lockout bookkeeping.
#[derive(Debug, Default, Clone)]
pub(super) struct LockoutState {
    pub(super) consecutive_failures: u32,
    pub(super) locked_until: Option<SystemTime>,
}

/// A login attempt as it arrived on the wire.
#[derive(Debug, Clone)]
pub enum Credential {
    /// WS-Security UsernameToken.
    UsernameToken {
        /// The claimed user.
        username: String,
        /// The password, as digest or plain text.
        password: PasswordProof,
        /// The token nonce, base64 as sent.
        nonce_b64: Option<String>,
        /// The token `Created` timestamp as sent.
        created: Option<String>,
    },
    /// An HTTP `Authorization: Digest ...` header.
    HttpDigest {
        /// The header value.
        header: String,
        /// The HTTP method of the request.
        method: String,
    },
}

/// How a UsernameToken carries the password.
#[derive(Debug, Clone)]
pub enum PasswordProof {
    /// `PasswordDigest`: base64(SHA-1(nonce + created + password)).
    Digest(String),
    /// `PasswordText`: the password itself.
    Text(String),
}

impl SimCamera {
    /// Checks the credentials a request carried and says who it runs as.
    ///
    /// `request_uri` is the HTTP request target, needed for HTTP Digest.
    pub fn authenticate(
        &self,
        credential: Option<&Credential>,
        request_uri: &str,
    ) -> Result<Caller, Fault> {
        let now = self.clock.now();
        let mut state = self.state();
        if !has_admin(&state.users) {
            return Ok(Caller::FactoryState);
        }
        let Some(credential) = credential else {
            return Ok(Caller::Anonymous);
        };
        state.stats.login_attempts += 1;
        let camera_now = shift(now, state.clock_offset_secs);
        match credential {
            Credential::UsernameToken {
                username,
                password,
                nonce_b64,
                created,
            } => {
                if let Some(fault) = locked_fault(&mut state, username, now) {
                    return Err(fault);
                }
                // Freshness and replay only apply to digests, which are what they protect.
                if let PasswordProof::Digest(_) = password {
                    let created_at = created.as_deref().and_then(crate::clock::parse_rfc3339);
                    let fresh = created_at.is_some_and(|c| {
                        let skew = match c.duration_since(camera_now) {
                            Ok(ahead) => ahead,
                            Err(behind) => behind.duration(),
                        };
                        skew <= CREATED_FRESHNESS
                    });
                    if !fresh {
                        state.stats.stale_timestamps += 1;
                        record_failure(&mut state, username, now, &self.policy);
                        return Err(Fault::stale_token(
                            "The security token is not fresh: its Created time is too far from the camera clock",
                        ));
                    }
                    let Some(nonce) = nonce_b64.as_deref() else {
                        record_failure(&mut state, username, now, &self.policy);
                        return Err(Fault::credentials_wrong("The security token has no nonce"));
                    };
                    if remember_nonce(&mut state, nonce, now) {
                        state.stats.replayed_nonces += 1;
                        return Err(Fault::credentials_wrong(
                            "The security token nonce was already used",
                        ));
                    }
                }
                let user = state.users.iter().find(|u| &u.name == username).cloned();
                let accepted = user.as_ref().is_some_and(|user| match password {
                    PasswordProof::Digest(digest) => {
                        let nonce = nonce_b64
                            .as_deref()
                            .and_then(|n| BASE64.decode(n.trim()).ok())
                            .unwrap_or_default();
                        let expected = oxvif::soap::security::compute_digest(
                            &nonce,
                            created.as_deref().unwrap_or(""),
                            &user.password,
                        );
                        constant_time_eq(
                            BASE64.encode(expected).as_bytes(),
                            digest.trim().as_bytes(),
                        )
                    }
                    PasswordProof::Text(text) => {
                        constant_time_eq(user.password.as_bytes(), text.as_bytes())
                    }
                });
                self.conclude_login(&mut state, username, user.filter(|_| accepted), now, false)
            }
            Credential::HttpDigest { header, method } => {
                let Some(mut auth) = crate::sim::soap::request::read_digest_authorization(header)
                else {
                    return Err(Fault::http_unauthorized("Malformed Digest authorization"));
                };
                let username = auth.username.clone();
                if let Some(fault) = locked_fault(&mut state, &username, now) {
                    return Err(fault);
                }
                let nonce_ok = state.digest_nonces.get(&auth.nonce).is_some_and(|issued| {
                    now.duration_since(*issued).unwrap_or_default() <= DIGEST_NONCE_LIFETIME
                });
                if !nonce_ok || auth.realm != DIGEST_REALM || auth.uri != request_uri {
                    // An unknown or expired server nonce is not a wrong password: ask again.
                    state.stats.login_attempts -= 1;
                    return Err(Fault::http_unauthorized("Digest nonce unknown or expired"));
                }
                let user = state.users.iter().find(|u| u.name == username).cloned();
                let accepted = user.as_ref().is_some_and(|user| {
                    let claimed = auth.response.clone();
                    let context = digest_auth::AuthContext::new_with_method(
                        user.name.as_str(),
                        user.password.as_str(),
                        auth.uri.clone(),
                        Option::<&[u8]>::None,
                        digest_auth::HttpMethod::from(method.clone()),
                    );
                    auth.digest(&context);
                    constant_time_eq(auth.response.as_bytes(), claimed.as_bytes())
                });
                self.conclude_login(&mut state, &username, user.filter(|_| accepted), now, true)
            }
        }
    }

    /// A login in a vendor's own protocol: `proves(password)` says whether what the caller sent
    /// proves `username`'s password. The same lockout bookkeeping as every other login; a camera in
    /// factory state has no user to log in as.
    pub fn authenticate_vendor_login(
        &self,
        username: &str,
        proves: impl Fn(&str) -> bool,
    ) -> Result<Caller, Fault> {
        let now = self.clock.now();
        let mut state = self.state();
        if !has_admin(&state.users) {
            return Err(Fault::not_authorized("The device is not initialized"));
        }
        state.stats.login_attempts += 1;
        if let Some(fault) = locked_fault(&mut state, username, now) {
            return Err(fault);
        }
        let user = state.users.iter().find(|u| u.name == username).cloned();
        let accepted = user.as_ref().is_some_and(|u| proves(&u.password));
        self.conclude_login(&mut state, username, user.filter(|_| accepted), now, false)
    }

    /// Records the outcome of a checked login: `accepted` is the user when the proof was right.
    fn conclude_login(
        &self,
        state: &mut CameraState,
        username: &str,
        accepted: Option<SimUser>,
        now: SystemTime,
        http_digest: bool,
    ) -> Result<Caller, Fault> {
        match accepted {
            Some(user) => {
                record_success(state, &user.name);
                Ok(Caller::User {
                    name: user.name,
                    level: user.level,
                })
            }
            None => {
                record_failure(state, username, now, &self.policy);
                Err(self.failed_login_fault(state, username, now, http_digest))
            }
        }
    }

    /// The fault for rejected credentials: locked when this failure tipped the user over, else
    /// `ter:NotAuthorized`, sent as HTTP 401 with a new challenge when the attempt was HTTP Digest.
    fn failed_login_fault(
        &self,
        state: &CameraState,
        username: &str,
        now: SystemTime,
        http_digest: bool,
    ) -> Fault {
        const WRONG: &str = "The user name or password is not correct";
        let lockout = state.lockouts.get(username);
        let fault = match lockout.and_then(|l| l.locked_until) {
            Some(until) if until > now => {
                return Fault::locked(until.duration_since(now).unwrap_or_default());
            }
            _ if http_digest => Fault::http_digest_wrong(WRONG),
            _ => Fault::credentials_wrong(WRONG),
        };
        let failures = lockout.map_or(0, |l| l.consecutive_failures);
        let fault =
            fault.with_attempts_left(self.policy.lockout_threshold.saturating_sub(failures));
        // As on many cameras, a failed login shows the serial number and the date for the support path.
        let date: String = rfc3339(shift(now, state.clock_offset_secs))
            .chars()
            .take(10)
            .collect();
        fault.with_detail(
            "vrc:SupportInfo",
            format!("serial {}, date {date}", self.identity.serial),
        )
    }

    /// Decides whether `caller` may run an operation of `class`. Anonymous callers on an operational
    /// camera get an HTTP 401 challenge; authenticated ones without the level get `ter:NotAuthorized`.
    pub fn authorize(&self, caller: &Caller, class: AccessClass) -> Result<(), Fault> {
        match caller {
            Caller::FactoryState => Ok(()),
            Caller::User { level, .. } if class.allowed_for(*level) => Ok(()),
            Caller::User { .. } => Err(Fault::not_authorized(
                "The user's level does not allow this operation",
            )),
            Caller::Anonymous => {
                let open = class == AccessClass::PreAuth
                    || (class == AccessClass::ReadSystem && self.policy.anonymous_device_info);
                if open {
                    Ok(())
                } else {
                    Err(Fault::http_unauthorized("This operation needs credentials"))
                }
            }
        }
    }

    /// Issues a fresh HTTP Digest challenge nonce.
    pub fn issue_digest_nonce(&self) -> String {
        let now = self.clock.now();
        let nonce = hex(&rand::random::<[u8; 16]>());
        let mut state = self.state();
        state.digest_nonces.insert(nonce.clone(), now);
        state.digest_nonce_order.push_back(nonce.clone());
        while state.digest_nonce_order.len() > DIGEST_NONCE_MEMORY {
            if let Some(old) = state.digest_nonce_order.pop_front() {
                state.digest_nonces.remove(&old);
            }
        }
        nonce
    }
}

pub(super) fn locked_fault(
    state: &mut CameraState,
    username: &str,
    now: SystemTime,
) -> Option<Fault> {
    let until = state.lockouts.get(username)?.locked_until?;
    if until > now {
        state.stats.locked_rejections += 1;
        return Some(Fault::locked(until.duration_since(now).unwrap_or_default()));
    }
    // The lock ran out: the user starts again with a clean slate.
    state.lockouts.remove(username);
    None
}

pub(super) fn record_failure(
    state: &mut CameraState,
    username: &str,
    now: SystemTime,
    policy: &CameraPolicy,
) {
    state.stats.failed_logins += 1;
    let known = state.users.iter().any(|u| u.name == username);
    let by_user = &mut state.stats.failed_logins_by_user;
    let key = if known && (by_user.contains_key(username) || by_user.len() < MAX_TRACKED_USERNAMES)
    {
        username
    } else {
        UNKNOWN_USERNAME
    };
    *by_user.entry(key.to_owned()).or_insert(0) += 1;
    if !known {
        return;
    }
    let lock = state.lockouts.entry(username.to_owned()).or_default();
    lock.consecutive_failures += 1;
    if lock.consecutive_failures >= policy.lockout_threshold {
        lock.locked_until = Some(now + policy.lockout_duration);
        lock.consecutive_failures = 0;
    }
}

pub(super) fn record_success(state: &mut CameraState, username: &str) {
    state.stats.successful_logins += 1;
    state.lockouts.remove(username);
}

/// Remembers a nonce; says whether it had been seen already.
pub(super) fn remember_nonce(state: &mut CameraState, nonce: &str, now: SystemTime) -> bool {
    if let Some(seen) = state.seen_nonces.get(nonce)
        && now.duration_since(*seen).unwrap_or_default() <= CREATED_FRESHNESS * 2
    {
        return true;
    }
    state.seen_nonces.insert(nonce.to_owned(), now);
    state.seen_nonce_order.push_back(nonce.to_owned());
    while state.seen_nonce_order.len() > NONCE_MEMORY {
        if let Some(old) = state.seen_nonce_order.pop_front() {
            state.seen_nonces.remove(&old);
        }
    }
    false
}

/// Compares two secrets in time that depends only on their lengths. Rather than a hand-rolled loop
/// the optimizer may shortcut, both are MACed under a key random to this process and the tags are
/// compared by the `hmac` crate's constant-time `verify_slice`; equal tags mean equal inputs.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    static KEY: std::sync::OnceLock<[u8; 32]> = std::sync::OnceLock::new();
    let key = KEY.get_or_init(rand::random);
    let tag = |bytes: &[u8]| {
        // HMAC takes a key of any length; the fallback key is never used.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
            .unwrap_or_else(|_| <Hmac<Sha256> as KeyInit>::new(&Default::default()));
        mac.update(bytes);
        mac
    };
    let expected = tag(b).finalize().into_bytes();
    tag(a).verify_slice(&expected).is_ok()
}
