//! `vigil-bench recovery`: the forget-password flow from VerifyCode to the camera re-added and
//! certified, through the service API.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use vigil::sim::{SimConfig, Simulator};

use super::{bench_settings, start_service};

pub(super) async fn recovery(runs: usize) -> Result<(), String> {
    let mailbox = Arc::new(vigil::mail::RecordingMailSender::default());
    let sim = Simulator::start(SimConfig {
        count: runs,
        bind: IpAddr::V4(Ipv4Addr::new(127, 202, 0, 1)),
        base_port: 8080,
        address_per_camera: true,
        max_reply_delay: Duration::ZERO,
        seed: 13,
        mail_sender: Some(mailbox.clone()),
        ..SimConfig::default()
    })
    .await
    .map_err(|e| e.to_string())?;
    let state = tempfile::tempdir().map_err(|e| e.to_string())?;
    let shutdown = CancellationToken::new();
    let nvr = start_service(bench_settings(&sim), state.path(), &shutdown).await?;
    nvr.refresh_discovery(&[])
        .await
        .map_err(|e| e.to_string())?
        .finished()
        .await;
    let actor = vigil::model::Caller::from(vigil::model::Actor::System);
    let new_password = "Quiet-Falcon-83";
    let mut timings = Vec::with_capacity(runs);
    for camera in sim.cameras() {
        let key = &camera.identity().endpoint_ref;
        let flow = nvr
            .start_recovery(key, &actor)
            .await
            .map_err(|e| e.to_string())?
            .started()
            .ok_or("a discovered camera did not start a reset")?;
        nvr.send_code(flow.id, &actor)
            .await
            .map_err(|e| e.to_string())?;
        let code = mailbox
            .sent()
            .last()
            .and_then(|m| {
                m.body
                    .split(|c: char| !c.is_ascii_digit())
                    .find(|r| r.len() == 8)
                    .map(str::to_owned)
            })
            .ok_or("no code was emailed")?;
        let start = Instant::now();
        nvr.verify_code(flow.id, &code, &actor)
            .await
            .map_err(|e| e.to_string())?;
        let done = nvr
            .complete_reset(flow.id, new_password, new_password, &actor)
            .await
            .map_err(|e| e.to_string())?;
        let elapsed = start.elapsed().as_secs_f64() * 1000.0;
        let added = nvr
            .added_camera(done.result_camera.ok_or("not added")?)
            .map_err(|e| e.to_string())?;
        if !added.status.certified() {
            return Err("the re-added camera is not certified".into());
        }
        timings.push(elapsed);
    }
    shutdown.cancel();
    nvr.stopped().await;
    sim.shutdown().await;
    timings.sort_by(f64::total_cmp);
    let median = timings[timings.len() / 2];
    let max = timings.last().copied().unwrap_or(0.0);
    println!("runs={runs} verify_to_certified_ms={median:.1} max_ms={max:.1}");
    Ok(())
}
