//! Discovery requests that arrive while a run is going on, against the simulator over real sockets: a
//! request the run already reaches joins it; one that reaches further (a target the run was not given)
//! waits for it and then probes, so its cameras are listed.

use std::time::Duration;

use vigil::model::NvrEvent;

use crate::support::{Harness, simulator, test_settings};

const PERIOD: Duration = Duration::from_secs(30);

/// Counts the discovery runs started among the events received so far.
fn runs_started(events: &mut tokio::sync::broadcast::Receiver<NvrEvent>) -> usize {
    let mut started = 0;
    while let Ok(event) = events.try_recv() {
        if matches!(event, NvrEvent::DiscoveryStarted) {
            started += 1;
        }
    }
    started
}

#[tokio::test]
async fn a_discover_with_a_target_the_running_run_lacks_waits_for_it_and_probes_the_target() {
    let sim = simulator(2, |_| {}).await;
    let mut settings = test_settings(&sim, PERIOD);
    let [first_camera, second_camera] = settings.discovery.unicast_targets[..] else {
        panic!("two probe targets");
    };
    // The configured run reaches the first camera only; it listens long enough to be caught going on.
    settings.discovery.unicast_targets = vec![first_camera];
    settings.discovery.probe_window = Duration::from_millis(1500);
    let state = tempfile::tempdir().expect("temp dir");
    let h = Harness::start_with(sim, settings, state).await;
    let mut events = h.nvr.subscribe();

    let going_on = h
        .nvr
        .refresh_discovery(&[])
        .await
        .expect("discovery starts");
    assert!(h.nvr.discovery_running());

    // Asking again for what the run already reaches joins it: no second run.
    let joined = h
        .nvr
        .refresh_discovery(&[first_camera.to_string()])
        .await
        .expect("discovery joined");
    assert_eq!(runs_started(&mut events), 1, "the covered request joined");

    // A target the run was not given: the request waits for the run, then probes it.
    let reaching_further = h
        .nvr
        .refresh_discovery(&[second_camera.to_string()])
        .await
        .expect("discovery starts after the run going on");
    assert_eq!(
        going_on.finished().await,
        1,
        "the first run reached one camera"
    );
    assert_eq!(joined.finished().await, 1);
    assert_eq!(
        reaching_further.finished().await,
        2,
        "the target given while a run was going on is probed and listed"
    );
    assert_eq!(
        runs_started(&mut events),
        1,
        "a second run, after the first"
    );
    let listed: Vec<String> = h
        .nvr
        .discovered_devices()
        .iter()
        .map(|d| d.identity.serial.clone())
        .collect();
    for camera in h.sim.cameras() {
        assert!(
            listed.contains(&camera.identity().serial),
            "{} listed",
            camera.identity().serial
        );
    }
    h.stop().await;
}

#[tokio::test]
async fn requests_with_bad_targets_are_refused_without_touching_the_run_going_on() {
    let sim = simulator(1, |_| {}).await;
    let mut settings = test_settings(&sim, PERIOD);
    settings.discovery.probe_window = Duration::from_millis(800);
    let state = tempfile::tempdir().expect("temp dir");
    let h = Harness::start_with(sim, settings, state).await;
    let going_on = h
        .nvr
        .refresh_discovery(&[])
        .await
        .expect("discovery starts");
    let refused = h.nvr.refresh_discovery(&["10.0.0.300".to_owned()]).await;
    assert!(
        matches!(
            refused,
            Err(vigil::service::NvrError::InvalidArgument { .. })
        ),
        "{refused:?}"
    );
    assert!(h.nvr.discovery_running(), "the run going on carries on");
    assert_eq!(going_on.finished().await, 1);
    assert!(!h.nvr.discovery_running());
    h.stop().await;
}
