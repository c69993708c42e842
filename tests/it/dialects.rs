//! Every refusal dialect of docs/camera-dialects.md, over real sockets: vigil-camsim words its refusals
//! in each in turn, and the NVR must still list the camera, refuse a wrong password with the right
//! error after at most one failed login, notice a password changed behind its back within two monitor
//! periods, and then never send that password again — not in the next periods and not after a restart.

use std::time::Duration;

use futures_util::StreamExt;
use vigil::model::{CameraState, ReasonKind};
use vigil::service::{AddCamera, NvrError};
use vigil::sim::dialect::Dialect;

use crate::support::{CAMERA_PASSWORD, Harness, eventually, simulator, system};

const PERIOD: Duration = Duration::from_millis(700);
/// Two monitor periods, plus room for one check's requests (each may take up to the 2 s request
/// timeout) on a busy machine.
const TWO_PERIODS: Duration = Duration::from_millis(2 * 700 + 4_000);
/// Dialects checked at once: each runs its own simulator and service.
const AT_ONCE: usize = 4;

/// Runs `check` for every dialect, a few at a time, and lists what failed.
async fn for_every_dialect<F, Fut>(check: F) -> Vec<String>
where
    F: Fn(Dialect) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    // Each check's future is large (a simulator and a service): boxed, not on the stack.
    futures_util::stream::iter(Dialect::ALL)
        .map(|dialect| Box::pin(check(dialect)))
        .buffer_unordered(AT_ONCE)
        .filter_map(|outcome| async move { outcome.err() })
        .collect()
        .await
}

/// Waits until `camera` has answered `more` requests since `since`: the NVR kept checking it, so a
/// count of its logins over that window means something.
async fn answered_more(camera: &vigil::sim::camera::SimCamera, since: u64, more: u64) -> bool {
    let deadline = tokio::time::Instant::now() + PERIOD * (more as u32) * 4 + TWO_PERIODS;
    while camera.stats().requests < since + more {
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    true
}

fn add_request(h: &Harness, index: usize, password: &str) -> AddCamera {
    let (host, port) = h.address(index);
    AddCamera {
        host,
        port,
        username: "admin".into(),
        password: password.into(),
    }
}

/// Whether `dialect` words a wrong password so that it can be told from other refusals.
fn names_wrong_passwords(dialect: Dialect) -> bool {
    !matches!(dialect, Dialect::EmptyReason | Dialect::Unclassified)
}

async fn one_dialect(dialect: Dialect) -> Result<(), String> {
    let sim = simulator(2, |c| {
        c.policy.dialect = dialect;
        // The camera gives nothing away without a login, so identification meets the dialect too.
        c.policy.anonymous_device_info = false;
    })
    .await;
    let h = Harness::start(sim, PERIOD).await;
    let fail = |what: String| format!("{dialect}: {what}");

    // Listed, though it will not say what it is without a login.
    let found = h.discover().await;
    if found != 2 {
        return Err(fail(format!("{found} of 2 cameras listed")));
    }
    if h.nvr
        .discovered_devices()
        .iter()
        .any(|d| d.information_complete)
    {
        return Err(fail("identified without a login".into()));
    }

    // A wrong password: the right error, after exactly one failed login (two where the camera asks
    // for HTTP Digest after refusing the WS-Security token, as a Digest-only camera would).
    let camera = h.sim.cameras()[0].clone();
    let refused = h
        .nvr
        .add_camera(add_request(&h, 0, "Wrong#Guess1"), &system())
        .await;
    let expected_error = match &refused {
        Err(NvrError::CredentialsRejected) => names_wrong_passwords(dialect),
        Err(NvrError::CameraRefused(_)) => !names_wrong_passwords(dialect),
        _ => false,
    };
    if !expected_error {
        return Err(fail(format!("wrong password gave {refused:?}")));
    }
    let most_failures = if dialect == Dialect::Http401Digest {
        2
    } else {
        1
    };
    let failures = camera.stats().failed_logins;
    if failures == 0 || failures > most_failures {
        return Err(fail(format!("{failures} failed logins for one add")));
    }

    // The right password certifies; the camera's identity fills in.
    let added = h
        .nvr
        .add_camera(add_request(&h, 0, CAMERA_PASSWORD), &system())
        .await
        .map_err(|e| fail(format!("right password refused: {e}")))?;
    if added.status.state != CameraState::Online
        || added.identity.serial != camera.identity().serial
    {
        return Err(fail(format!("added as {added:?}")));
    }
    // The discovered entry shows what the login told.
    let listed = h
        .nvr
        .discovered_devices()
        .into_iter()
        .find(|d| d.added_as == Some(added.id));
    if listed.is_none_or(|d| d.identity.serial != camera.identity().serial) {
        return Err(fail(
            "the discovered entry did not learn the serial number".into(),
        ));
    }

    // Changed behind the NVR's back: noticed within two periods, then never tried again.
    camera.set_password_directly("admin", "Changed#Elsewhere7");
    let nvr = h.nvr.clone();
    let noticed = tokio::time::timeout(TWO_PERIODS, async {
        loop {
            let status = nvr.added_camera(added.id).map(|c| c.status);
            if status
                .as_ref()
                .is_ok_and(|s| s.state == CameraState::NotCertified && s.credentials_rejected)
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    if noticed.is_err() {
        return Err(fail(format!(
            "not noticed within two periods: {:?}",
            h.nvr.added_camera(added.id).map(|c| c.status)
        )));
    }
    let attempts = camera.stats().login_attempts;
    if !answered_more(&camera, camera.stats().requests, 3).await {
        return Err(fail("the camera was no longer checked at all".into()));
    }
    let h = h.restart().await;
    if !answered_more(&camera, camera.stats().requests, 3).await {
        return Err(fail("the camera was not checked after the restart".into()));
    }
    let later = camera.stats().login_attempts;
    if later != attempts {
        return Err(fail(format!(
            "{} more logins after the refusal",
            later - attempts
        )));
    }
    let status = h.nvr.added_camera(added.id).map(|c| c.status);
    if !status
        .as_ref()
        .is_ok_and(|s| s.state == CameraState::NotCertified && s.last_error.is_some())
    {
        return Err(fail(format!("after the restart: {status:?}")));
    }
    h.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dialect_is_listed_refused_rightly_and_never_retried() {
    let failures = for_every_dialect(one_dialect).await;
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Guesses with a wrong password, as someone else on the network would, until the camera locks the
/// administrator.
async fn lock_out_admin(camera: &vigil::sim::camera::SimCamera) {
    let url = camera.device_service_url();
    let guesser = oxvif::OnvifClient::new(&url).with_credentials("admin", "Guess#Wrong1");
    for _ in 0..50 {
        if camera.summary().locked_users.contains(&"admin".to_owned()) {
            return;
        }
        let _ = guesser.get_device_info().await;
    }
    panic!("the camera never locked the administrator");
}

async fn lock_in(dialect: Dialect) -> Result<(), String> {
    let h = Harness::start(simulator(1, |c| c.policy.dialect = dialect).await, PERIOD).await;
    let fail = |what: String| format!("{dialect}: {what}");
    let added = h.add(0).await;
    let camera = h.sim.cameras()[0].clone();
    lock_out_admin(&camera).await;
    let nvr = h.nvr.clone();
    // Dialects that say "locked" show Locked; the others refuse in words a lock shares with a wrong
    // password, and the NVR, unable to tell, holds the password all the same.
    let lock_words = !matches!(
        dialect,
        Dialect::Hikvision
            | Dialect::Http401Digest
            | Dialect::Http401Bare
            | Dialect::EmptyReason
            | Dialect::Unclassified
    );
    let wanted = if lock_words {
        CameraState::Locked
    } else {
        CameraState::NotCertified
    };
    let reached = tokio::time::timeout(TWO_PERIODS, async {
        while nvr.added_camera(added.id).map(|c| c.status.state) != Ok(wanted) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    if reached.is_err() {
        return Err(fail(format!(
            "wanted {wanted:?}, got {:?}",
            h.nvr.added_camera(added.id).map(|c| c.status)
        )));
    }
    let attempts = camera.stats().login_attempts;
    if !answered_more(&camera, camera.stats().requests, 3).await {
        return Err(fail("the camera was no longer checked at all".into()));
    }
    let later = camera.stats().login_attempts;
    if later != attempts {
        return Err(fail(format!(
            "{} logins into a locked camera",
            later - attempts
        )));
    }
    h.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dialect_of_a_lockout_stops_the_logins() {
    let failures = for_every_dialect(lock_in).await;
    assert!(failures.is_empty(), "{failures:#?}");
}

async fn clock_in(dialect: Dialect) -> Result<(), String> {
    // The camera is an hour ahead and wants a login even for its clock, so the NVR cannot measure
    // the offset first: its login carries a timestamp the camera refuses.
    let h = Harness::start(
        simulator(1, |c| {
            c.policy.dialect = dialect;
            c.policy.anonymous_clock = false;
            c.clock_offset_secs = 3600;
        })
        .await,
        PERIOD,
    )
    .await;
    let fail = |what: String| format!("{dialect}: {what}");
    let camera = h.sim.cameras()[0].clone();
    let refused = h
        .nvr
        .add_camera(add_request(&h, 0, CAMERA_PASSWORD), &system())
        .await;
    // Dialects that word a stale timestamp as such say the clock; the others cannot be told from a
    // wrong password (ONVIF gives no subcode for it), and say so in their own way.
    let clock_words = !matches!(
        dialect,
        Dialect::Hikvision
            | Dialect::Http401Digest
            | Dialect::Http401Bare
            | Dialect::EmptyReason
            | Dialect::Unclassified
    );
    let right = match &refused {
        // A camera that answers the stale token with a Digest challenge gets HTTP Digest, which
        // carries no timestamp: it certifies.
        Ok(added) => dialect == Dialect::Http401Digest && added.status.certified(),
        Err(NvrError::CameraClock(_)) => clock_words,
        Err(NvrError::CredentialsRejected | NvrError::CameraRefused(_)) => !clock_words,
        _ => false,
    };
    if !right {
        return Err(fail(format!("a stale timestamp gave {refused:?}")));
    }
    if refused.is_ok() {
        h.stop().await;
        return Ok(());
    }
    let failures = camera.stats().failed_logins;
    let most = if dialect == Dialect::Http401Digest {
        2
    } else {
        1
    };
    if failures == 0 || failures > most {
        return Err(fail(format!("{failures} failed logins for one add")));
    }
    h.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_timestamp_is_told_apart_from_a_wrong_password_where_the_camera_says_so() {
    let failures = for_every_dialect(clock_in).await;
    assert!(failures.is_empty(), "{failures:#?}");
}

#[tokio::test]
async fn an_unclassified_refusal_of_a_certified_camera_holds_its_password_and_shows_its_words() {
    let h = Harness::start(simulator(1, |_| {}).await, PERIOD).await;
    let added = h.add(0).await;
    let camera = h.sim.cameras()[0].clone();
    // The password changes behind the NVR's back, and the camera refuses it in words no catalogue
    // holds.
    camera.set_dialect(Dialect::Unclassified);
    camera.set_password_directly("admin", "Changed#Elsewhere7");
    h.wait_for_state(added.id, CameraState::NotCertified, TWO_PERIODS)
        .await;
    let status = h.nvr.added_camera(added.id).unwrap().status;
    assert!(status.credentials_rejected, "{status:?}");
    let reason = status.last_error.expect("a reason");
    assert_eq!(reason.kind, ReasonKind::Refused);
    assert!(
        reason.words.contains("Request denied by policy"),
        "the camera's own words: {reason:?}"
    );
    let attempts = camera.stats().login_attempts;
    assert!(answered_more(&camera, camera.stats().requests, 3).await);
    assert_eq!(camera.stats().login_attempts, attempts);
    h.stop().await;
}

#[tokio::test]
async fn a_passing_server_error_is_not_a_refusal() {
    let h = Harness::start(simulator(1, |_| {}).await, PERIOD).await;
    let added = h.add(0).await;
    let camera = h.sim.cameras()[0].clone();
    // Starting up: the camera answers the next two logins with a bare 503, before it even looks at
    // the password.
    camera.fail_next_logins(2);
    let nvr = h.nvr.clone();
    eventually(
        TWO_PERIODS * 2,
        "the monitor to see the server error",
        || {
            let nvr = nvr.clone();
            async move {
                nvr.added_camera(added.id)
                    .ok()
                    .and_then(|c| c.status.last_error)
                    .is_some_and(|e| {
                        e.kind == ReasonKind::ServerError && e.to_string().contains("server error")
                    })
            }
        },
    )
    .await;
    let status = h.nvr.added_camera(added.id).unwrap().status;
    assert_eq!(status.state, CameraState::Online, "{status:?}");
    assert!(!status.credentials_rejected, "{status:?}");
    // Once it is up, the password is used again and works.
    let successes = camera.stats().successful_logins;
    eventually(TWO_PERIODS * 4, "the monitor to log in again", || {
        let camera = camera.clone();
        async move { camera.stats().successful_logins > successes }
    })
    .await;
    h.stop().await;
}

#[tokio::test]
async fn a_lock_outlasts_a_restart_and_a_second_lock_holds_the_password() {
    let sim = simulator(1, |_| {}).await;
    let mut settings = crate::support::test_settings(&sim, PERIOD);
    settings.monitor.locked_retry = Duration::from_secs(3);
    let h = Harness::start_with(sim, settings, tempfile::tempdir().unwrap()).await;
    let added = h.add(0).await;
    let camera = h.sim.cameras()[0].clone();
    lock_out_admin(&camera).await;
    h.wait_for_state(added.id, CameraState::Locked, TWO_PERIODS)
        .await;

    // A restart does not forget the lock: no login until it ends, though the camera is checked.
    let h = h.restart().await;
    let attempts = camera.stats().login_attempts;
    assert!(answered_more(&camera, camera.stats().requests, 1).await);
    assert_eq!(
        camera.stats().login_attempts,
        attempts,
        "no login into a lock after a restart"
    );

    // The camera (locked for 30 minutes) is still locked at the first try after the NVR's wait:
    // the password is held, with the reason.
    let nvr = h.nvr.clone();
    eventually(
        Duration::from_secs(15),
        "the second lock to hold the password",
        || {
            let nvr = nvr.clone();
            async move {
                nvr.added_camera(added.id)
                    .is_ok_and(|c| c.status.credentials_rejected)
            }
        },
    )
    .await;
    let status = h.nvr.added_camera(added.id).unwrap().status;
    assert!(
        status
            .last_error
            .as_ref()
            .is_some_and(|r| r.kind == ReasonKind::LockedAgain && r.to_string().contains("again")),
        "{status:?}"
    );
    let attempts = camera.stats().login_attempts;
    assert!(answered_more(&camera, camera.stats().requests, 3).await);
    assert_eq!(camera.stats().login_attempts, attempts);
    h.stop().await;
}
