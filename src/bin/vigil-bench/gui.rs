//! `vigil-bench gui`: the on-screen menu drawn by Slint's software renderer into memory at 1920×1080,
//! over the real service: cold start to the first frame (a fresh process), a full repaint of Device
//! Access with many discovered cameras, and the resident memory of a process with the menu and added
//! cameras being monitored.

use std::path::Path;
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use slint::platform::software_renderer::{
    MinimalSoftwareWindow, PremultipliedRgbaColor, RepaintBufferType,
};
use slint::platform::{Platform, WindowAdapter};
use slint::{ComponentHandle, Model};
use tokio_util::sync::CancellationToken;
use vigil::gui::ui::{AppWindow, DeviceAccess, Screen, Shell};
use vigil::gui::{UiJob, UiSink};
use vigil::service::Nvr;

const WIDTH: u32 = 1920;
const HEIGHT: u32 = 1080;

/// A platform with one in-memory window, drawn on demand.
struct MemoryPlatform {
    window: Rc<MinimalSoftwareWindow>,
    start: Instant,
}

impl Platform for MemoryPlatform {
    fn create_window_adapter(&self) -> Result<Rc<dyn WindowAdapter>, slint::PlatformError> {
        Ok(self.window.clone())
    }
    fn duration_since_start(&self) -> Duration {
        self.start.elapsed()
    }
}

const BENCH_PASSWORD: &str = "Quiet-Falcon-83";

/// The menu in memory over a service, with its pixels.
pub(crate) struct Screenful {
    window: Rc<MinimalSoftwareWindow>,
    app: AppWindow,
    jobs: Receiver<UiJob>,
    pixels: Vec<PremultipliedRgbaColor>,
    _wiring: vigil::gui::Wiring,
}

impl Screenful {
    pub(crate) fn open(
        nvr: Nvr,
        runtime: tokio::runtime::Handle,
        buffer: RepaintBufferType,
    ) -> Result<Self, String> {
        let window = MinimalSoftwareWindow::new(buffer);
        slint::platform::set_platform(Box::new(MemoryPlatform {
            window: window.clone(),
            start: Instant::now(),
        }))
        .map_err(|e| e.to_string())?;
        let app = AppWindow::new().map_err(|e| e.to_string())?;
        window.set_size(slint::PhysicalSize::new(WIDTH, HEIGHT));
        // The menu opens only on an activated recorder.
        runtime.block_on(async {
            match nvr
                .activate_nvr(
                    BENCH_PASSWORD,
                    BENCH_PASSWORD,
                    "bench@example.com",
                    None,
                    &vigil::model::Actor::System,
                )
                .await
            {
                Ok(()) | Err(vigil::service::NvrError::NvrAlreadyActivated) => Ok(()),
                Err(error) => Err(error.to_string()),
            }
        })?;
        let (sender, jobs) = channel();
        let wiring = vigil::gui::wire(&app, nvr, runtime, UiSink::Queue(sender), true);
        app.show().map_err(|e| e.to_string())?;
        Ok(Self {
            window,
            app,
            jobs,
            pixels: vec![PremultipliedRgbaColor::default(); (WIDTH * HEIGHT) as usize],
            _wiring: wiring,
        })
    }

    /// Applies what the service posted until `done` holds, or fails after `limit`.
    pub(crate) fn settle(
        &self,
        limit: Duration,
        done: impl Fn(&AppWindow) -> bool,
    ) -> Result<(), String> {
        if vigil::gui::run_queued_until(&self.app, &self.jobs, limit, done) {
            Ok(())
        } else {
            Err("the menu did not show the cameras in time".into())
        }
    }

    /// Draws if anything changed; whether it drew.
    pub(crate) fn draw(&mut self) -> bool {
        slint::platform::update_timers_and_animations();
        let pixels = &mut self.pixels;
        self.window.draw_if_needed(|renderer| {
            renderer.render(pixels, WIDTH as usize);
        })
    }

    /// Shows Settings > Camera > Device Access on tab `tab` (0 added, 1 discovered), drawn.
    pub(crate) fn show_device_access(&mut self, tab: i32) {
        self.app.global::<Shell>().set_screen(Screen::DeviceAccess);
        self.app.global::<DeviceAccess>().set_tab(tab);
        self.draw();
    }

    /// Applies up to `most` of the changes the service posted; how many it applied.
    pub(crate) fn apply_posted(&self, most: u64) -> u64 {
        let mut applied = 0;
        while applied < most {
            let Ok(job) = self.jobs.try_recv() else {
                break;
            };
            job(&self.app);
            applied += 1;
        }
        applied
    }

    /// Draws every pixel again; how long it took, or `None` when nothing was drawn.
    pub(crate) fn repaint(&mut self) -> Option<Duration> {
        self.window.request_redraw();
        let began = Instant::now();
        self.draw().then(|| began.elapsed())
    }
}

fn service_runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
}

/// The child process of the first-frame figure: from its start to the first frame of the menu over a
/// running service. Prints `frame` when drawn.
pub fn first_frame_child() -> Result<(), String> {
    let fonts = vigil::gui::MenuFonts::install(&std::env::temp_dir()).map_err(|e| e.to_string())?;
    let runtime = service_runtime()?;
    let state = tempfile::tempdir().map_err(|e| e.to_string())?;
    let shutdown = CancellationToken::new();
    let nvr = runtime.block_on(super::start_service(
        super::quiet_settings(),
        state.path(),
        &shutdown,
    ))?;
    let mut screen = Screenful::open(nvr, runtime.handle().clone(), RepaintBufferType::NewBuffer)?;
    if !screen.draw() {
        return Err("the first frame was not drawn".into());
    }
    println!("frame");
    shutdown.cancel();
    drop(screen);
    drop(fonts);
    Ok(())
}

/// The child process of the memory figure: the service monitoring the cameras already in `state`,
/// with the menu drawing Device Access; prints `rss_kb=` after `seconds`.
pub fn memory_child(state: &Path, cameras: usize, seconds: u64) -> Result<(), String> {
    let fonts = vigil::gui::MenuFonts::install(&std::env::temp_dir()).map_err(|e| e.to_string())?;
    let runtime = service_runtime()?;
    let shutdown = CancellationToken::new();
    let nvr = runtime.block_on(super::start_service(
        super::quiet_settings(),
        state,
        &shutdown,
    ))?;
    let mut screen = Screenful::open(
        nvr,
        runtime.handle().clone(),
        RepaintBufferType::ReusedBuffer,
    )?;
    screen.settle(Duration::from_secs(30), |app| {
        app.global::<DeviceAccess>().get_added().row_count() == cameras
    })?;
    screen
        .app
        .global::<Shell>()
        .set_screen(Screen::DeviceAccess);
    let end = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < end {
        screen.apply_posted(u64::MAX);
        screen.draw();
        std::thread::sleep(Duration::from_millis(100));
    }
    println!("rss_kb={}", super::rss_kb(std::process::id())?);
    shutdown.cancel();
    drop(screen);
    drop(fonts);
    Ok(())
}

/// The benchmark: prints `first_frame_ms=`, `repaint_ms=` and `rss_mb=`.
pub fn run(discovered: usize, added: usize, repaints: usize, seconds: u64) -> Result<(), String> {
    let me = std::env::current_exe().map_err(|e| e.to_string())?;

    // Cold start: a fresh process each time; the median of five.
    let mut starts = Vec::new();
    for _ in 0..5 {
        let began = Instant::now();
        let output = Command::new(&me)
            .arg("gui-first-frame")
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| e.to_string())?;
        let elapsed = began.elapsed();
        if !output.status.success() || !String::from_utf8_lossy(&output.stdout).contains("frame") {
            return Err("the first-frame process failed".into());
        }
        starts.push(elapsed);
    }
    starts.sort();
    let first_frame = starts[starts.len() / 2];

    // Repaint: Device Access with `discovered` cameras listed, every pixel drawn again each time.
    let runtime = service_runtime()?;
    let sim = runtime.block_on(super::simulator(
        std::net::Ipv4Addr::new(127, 202, 0, 1),
        discovered,
        0,
        13,
    ))?;
    let state = tempfile::tempdir().map_err(|e| e.to_string())?;
    let shutdown = CancellationToken::new();
    let nvr = runtime.block_on(async {
        let nvr =
            super::start_service(super::bench_settings(&sim), state.path(), &shutdown).await?;
        nvr.refresh_discovery(&[])
            .await
            .map_err(|e| e.to_string())?
            .finished()
            .await;
        Ok::<_, String>(nvr)
    })?;
    let mut screen = Screenful::open(nvr, runtime.handle().clone(), RepaintBufferType::NewBuffer)?;
    screen.settle(Duration::from_secs(60), |app| {
        app.global::<DeviceAccess>().get_discovered().row_count() == discovered
    })?;
    screen.show_device_access(1);
    let mut times = Vec::with_capacity(repaints);
    for _ in 0..repaints {
        times.push(screen.repaint().ok_or("a repaint was skipped")?);
    }
    times.sort();
    let repaint = times[times.len() / 2];
    let repaint_max = times[times.len() - 1];
    shutdown.cancel();
    drop(screen);
    runtime.block_on(sim.shutdown());

    // Memory: a separate process with the menu and `added` monitored cameras.
    let sim = runtime.block_on(super::simulator(
        std::net::Ipv4Addr::new(127, 203, 0, 1),
        added,
        0,
        14,
    ))?;
    let state = tempfile::tempdir().map_err(|e| e.to_string())?;
    runtime.block_on(super::add_all(&sim, state.path()))?;
    let output = Command::new(&me)
        .arg("gui-memory")
        .arg("--state-dir")
        .arg(state.path())
        .args(["--cameras", &added.to_string()])
        .args(["--seconds", &seconds.to_string()])
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| e.to_string())?;
    runtime.block_on(sim.shutdown());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let rss_kb: u64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("rss_kb="))
        .and_then(|v| v.trim().parse().ok())
        .ok_or("the memory process printed no figure")?;

    println!(
        "first_frame_ms={:.1} repaint_ms={:.2} repaint_max_ms={:.2} discovered={discovered} rss_mb={:.1} added={added} width={WIDTH} height={HEIGHT}",
        first_frame.as_secs_f64() * 1000.0,
        repaint.as_secs_f64() * 1000.0,
        repaint_max.as_secs_f64() * 1000.0,
        rss_kb as f64 / 1024.0,
    );
    Ok(())
}
