//! The on-screen menu driven headless through Slint's testing backend, against simulated cameras over
//! real sockets and a real SMTP server: the forget-password flow with remove-first, the code from the
//! email typed on the on-screen keyboard, the new password and the re-add, found by accessible labels.
//! Every screen is saved as a PNG under the target directory, and the clicks are counted.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use i_slint_backend_testing::{
    AccessibleRole, ElementHandle, TestingBackend, TestingBackendOptions,
};
use slint::platform::{PointerEventButton, WindowEvent};
use slint::{ComponentHandle, LogicalPosition, Model};

use vigil::clock::SimulatedClock;
use vigil::gui::ui::{
    Account, AppWindow, CameraSettings, CameraStatus, DeviceAccess, Dialog, DialogKind,
    ForgetPassword, ForgotStep, Gate, LoginStep, MailSettings, Problem, Screen, SettingsDone,
    Shell, Theme, TwoFactorStep, WizardStep,
};
use vigil::gui::{UiJob, UiSink, Wiring};
use vigil::model::CameraState;

use crate::mailbox::{SmtpServer, python_or_skip};
use crate::support::{Harness, simulator};

const NEW_PASSWORD: &str = "Quiet-Falcon-83";
/// The recorder's own admin password in these tests.
const NVR_PASSWORD: &str = "Brisk-Otter-47";
/// How long any one wait for the UI may take before the test fails.
const WAIT_LIMIT: Duration = Duration::from_secs(30);

/// The menu on this test's thread, fed by the service through a queue the test drains.
struct Menu {
    window: AppWindow,
    jobs: Receiver<UiJob>,
    _wiring: Wiring,
    clicks: usize,
    shots: PathBuf,
    size: (u32, u32),
}

impl Menu {
    /// The menu on a recorder that has been activated (with [`NVR_PASSWORD`]).
    fn open(h: &Harness, runtime: &tokio::runtime::Runtime, size: (u32, u32)) -> Self {
        runtime
            .block_on(h.nvr.activate_nvr(
                NVR_PASSWORD,
                NVR_PASSWORD,
                "owner@example.com",
                None,
                &vigil::model::Actor::System,
            ))
            .expect("the recorder activates");
        let menu = Self::open_first_boot(h, runtime, size);
        menu.wait_until("the menu open", |w| {
            w.global::<Account>().get_gate() == Gate::Open
        });
        menu
    }

    /// From the live view to Device Access, as an installer goes: right-click, Device Access, log in.
    fn open_device_access(&mut self) {
        self.right_click(600.0, 300.0);
        self.click("Device Access");
        self.log_in();
    }

    /// Logs in on the login dialog that a Settings screen asks for: the password and one click.
    fn log_in(&mut self) {
        assert_eq!(
            self.window.global::<Account>().get_login_step(),
            LoginStep::Password,
            "Settings ask for the login first"
        );
        self.type_into("Password", NVR_PASSWORD);
        self.click("Log in");
        self.wait_until("logged in", |w| {
            let account = w.global::<Account>();
            account.get_logged_in() && account.get_login_step() == LoginStep::Closed
        });
    }

    /// The menu as a recorder shows it, activated or not.
    fn open_first_boot(h: &Harness, runtime: &tokio::runtime::Runtime, size: (u32, u32)) -> Self {
        slint::platform::set_platform(Box::new(TestingBackend::new(TestingBackendOptions {
            mock_time: true,
            threading: false,
            renderer_name: Some("software".into()),
        })))
        .expect("a fresh test thread has no Slint platform yet");
        let window = AppWindow::new().expect("the window builds");
        window
            .window()
            .set_size(slint::PhysicalSize::new(size.0, size.1));
        let (sender, jobs) = channel();
        let wiring = vigil::gui::wire(
            &window,
            h.nvr.clone(),
            runtime.handle().clone(),
            UiSink::Queue(sender),
            true,
        );
        window.show().expect("the window shows");
        slint::select_bundled_translation("en").expect("English is always there");
        let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("../screenshots");
        std::fs::create_dir_all(&shots).expect("screenshot directory");
        Self {
            window,
            jobs,
            _wiring: wiring,
            clicks: 0,
            shots,
            size,
        }
    }

    /// Runs what the service posted until `done` holds; fails after WAIT_LIMIT.
    fn wait_until(&self, what: &str, done: impl Fn(&AppWindow) -> bool) {
        assert!(
            vigil::gui::run_queued_until(&self.window, &self.jobs, WAIT_LIMIT, done),
            "timed out waiting for {what}"
        );
    }

    fn element(&self, label: &str, roles: &[AccessibleRole]) -> ElementHandle {
        let found: Vec<ElementHandle> =
            ElementHandle::find_by_accessible_label(&self.window, label)
                .filter(|e| e.accessible_role().is_some_and(|r| roles.contains(&r)))
                .collect();
        assert_eq!(found.len(), 1, "exactly one {roles:?} labelled {label:?}");
        found.into_iter().next().expect("checked above")
    }

    fn button(&self, label: &str) -> ElementHandle {
        self.element(
            label,
            &[
                AccessibleRole::Button,
                AccessibleRole::Tab,
                AccessibleRole::Checkbox,
            ],
        )
    }

    fn count_buttons(&self, label: &str) -> usize {
        ElementHandle::find_by_accessible_label(&self.window, label)
            .filter(|e| e.accessible_role() == Some(AccessibleRole::Button))
            .count()
    }

    /// A click of the installer's mouse on a button, counted.
    fn click(&mut self, label: &str) {
        let button = self.button(label);
        assert_ne!(
            button.accessible_enabled(),
            Some(false),
            "{label} is enabled"
        );
        button.invoke_accessible_default_action();
        self.clicks += 1;
    }

    /// A click that is not part of the counted path (checking a wrong code, say).
    fn click_uncounted(&mut self, label: &str) {
        self.click(label);
        self.clicks -= 1;
    }

    fn right_click(&mut self, x: f32, y: f32) {
        let position = LogicalPosition::new(x, y);
        let window = self.window.window();
        window.dispatch_event(WindowEvent::PointerMoved { position });
        window.dispatch_event(WindowEvent::PointerPressed {
            position,
            button: PointerEventButton::Right,
        });
        window.dispatch_event(WindowEvent::PointerReleased {
            position,
            button: PointerEventButton::Right,
        });
        self.clicks += 1;
    }

    fn field(&self, label: &str) -> ElementHandle {
        self.element(label, &[AccessibleRole::TextInput])
    }

    /// Puts text in a field the way a physical keyboard would.
    fn type_into(&self, label: &str, text: &str) {
        self.field(label).set_accessible_value(text);
    }

    /// Clicks a field (which opens the on-screen keyboard) and types `text` on the keyboard's keys.
    fn type_on_screen_keyboard(&self, label: &str, text: &str) {
        self.field(label)
            .mock_single_click(PointerEventButton::Left);
        assert!(
            self.window.get_keyboard_visible(),
            "the on-screen keyboard opens"
        );
        for key in text.chars() {
            self.element(&format!("key {key}"), &[AccessibleRole::Button])
                .invoke_accessible_default_action();
        }
        assert_eq!(self.field(label).accessible_value().as_deref(), Some(text));
    }

    fn shows_text(&self, text: &str) -> bool {
        ElementHandle::find_by_accessible_label(&self.window, text)
            .next()
            .is_some()
    }

    fn screenshot(&self, name: &str) {
        // Let hover and enable animations finish on the mock clock.
        i_slint_backend_testing::mock_elapsed_time(Duration::from_millis(500));
        let shot = self
            .window
            .window()
            .take_snapshot()
            .expect("the software renderer draws");
        assert_eq!((shot.width(), shot.height()), self.size);
        let path = self
            .shots
            .join(format!("{name}-{}x{}.png", self.size.0, self.size.1));
        let file = std::io::BufWriter::new(std::fs::File::create(&path).expect("png file"));
        let mut encoder = png::Encoder::new(file, shot.width(), shot.height());
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Eight);
        encoder
            .write_header()
            .and_then(|mut w| w.write_image_data(shot.as_bytes()))
            .expect("png written");
        // A screen that drew nothing would be one colour.
        let first = &shot.as_slice()[0];
        assert!(
            shot.as_slice().iter().any(|p| p != first),
            "{name} has something on it"
        );
    }

    fn wizard_step(&self) -> WizardStep {
        self.window.global::<ForgetPassword>().get_step()
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn the_whole_forget_password_flow_with_remove_first_in_ten_clicks() {
    let Some(python) = python_or_skip("the GUI flow test (it needs a real SMTP server)") else {
        return;
    };
    let rt = runtime();
    let smtp = SmtpServer::start(&python);
    let (h, camera) = rt.block_on(async {
        let settings = smtp.settings("camera-noreply@example.com");
        let sim = simulator(2, |c| c.smtp = Some(settings)).await;
        let h = Harness::start(sim, Duration::from_millis(300)).await;
        h.discover().await;
        h.add(1).await;
        let camera = h.add(0).await;
        // The password is changed behind the recorder's back: camera 0 is added but not certified.
        h.sim.cameras()[0].set_password_directly("admin", "Forgotten-Pass-19");
        h.wait_for_state(camera.id, CameraState::NotCertified, Duration::from_secs(5))
            .await;
        (h, camera)
    });
    let serial = camera.identity.serial.clone();
    let mut menu = Menu::open(&h, &rt, (1920, 1080));
    menu.wait_until("both cameras listed", |w| {
        w.global::<DeviceAccess>().get_added().row_count() == 2
    });
    menu.screenshot("01-live-view");

    // Bare HDMI draws no pointer, so the menu draws its own where the mouse is.
    let at = LogicalPosition::new(700.0, 400.0);
    menu.window
        .window()
        .dispatch_event(WindowEvent::PointerMoved { position: at });
    let cursor = ElementHandle::find_by_element_id(&menu.window, "AppWindow::cursor")
        .next()
        .expect("the drawn cursor");
    assert_eq!(cursor.absolute_position(), at);
    menu.right_click(900.0, 500.0);
    assert!(
        menu.window.get_menu_open(),
        "a right-click opens the main menu"
    );
    let over_menu = LogicalPosition::new(920.0, 520.0);
    menu.window
        .window()
        .dispatch_event(WindowEvent::PointerMoved {
            position: over_menu,
        });
    let cursor = ElementHandle::find_by_element_id(&menu.window, "AppWindow::popup-cursor")
        .next()
        .expect("the cursor drawn over the open menu");
    // Positions inside a popup are the popup's own; it opened where the right-click was.
    assert_eq!(cursor.absolute_position(), LogicalPosition::new(20.0, 20.0));
    menu.screenshot("02-main-menu");
    menu.click("Device Access");
    menu.log_in();
    assert_eq!(
        menu.window.global::<Shell>().get_screen(),
        Screen::DeviceAccess
    );
    assert!(
        menu.shows_text(
            "The camera rejected the stored password. Edit the credentials, or use Forget Password."
        ),
        "the added tab gives the reason and the next step"
    );
    assert_eq!(
        menu.count_buttons(&format!("Forget Password {serial}")),
        1,
        "only the camera that is not certified offers Forget Password on Added Devices"
    );
    menu.screenshot("03-added-devices");

    menu.click("Discovered Devices");
    menu.wait_until("both cameras discovered", |w| {
        w.global::<DeviceAccess>().get_discovered().row_count() == 2
    });
    menu.screenshot("04-discovered-devices");

    menu.click(&format!("Forget Password {serial}"));
    menu.wait_until("the remove-first step", |w| {
        w.global::<ForgetPassword>().get_step() == WizardStep::RemoveFirst
    });
    menu.screenshot("05-remove-first");

    menu.click("Remove and continue");
    menu.wait_until("the code step", |w| {
        w.global::<ForgetPassword>().get_step() == WizardStep::GetCode
            && !w.global::<ForgetPassword>().get_busy()
    });
    assert!(
        rt.block_on(async { h.nvr.added_camera(camera.id) })
            .is_err(),
        "the camera was removed first"
    );
    let fp = menu.window.global::<ForgetPassword>();
    assert_eq!(fp.get_masked_email().as_str(), "o***@e***.com");
    assert!(fp.get_attempts_left() == 5 && fp.get_seconds_left() > 25 * 60);
    menu.screenshot("06-get-code");

    menu.click("Send Code");
    menu.wait_until("the code sent", |w| {
        !w.global::<ForgetPassword>().get_code_sent_to().is_empty()
    });
    let mail = rt.block_on(smtp.nth_message(1));
    let code = mail.code(8).expect("an 8-digit code in the email");

    // A wrong code first: the attempts left go down, and the wizard says so.
    menu.type_into("Verification code", "00000000");
    menu.click_uncounted("Verify");
    menu.wait_until("the wrong code refused", |w| {
        let fp = w.global::<ForgetPassword>();
        fp.get_failure().problem == Problem::CodeInvalid && !fp.get_busy()
    });
    assert_eq!(
        menu.window.global::<ForgetPassword>().get_attempts_left(),
        4
    );
    assert!(menu.shows_text("The code is not right. 4 attempts left."));
    menu.type_into("Verification code", "");
    menu.type_on_screen_keyboard("Verification code", &code);
    menu.screenshot("07-code-on-screen-keyboard");
    menu.click("Verify");
    menu.wait_until("the new-password step", |w| {
        w.global::<ForgetPassword>().get_step() == WizardStep::NewPassword
    });

    // The meter names every unmet rule while the password is typed.
    menu.type_into("New password", "admin1234");
    assert!(menu.shows_text("✗ does not contain the user name"));
    assert!(menu.shows_text("✗ no four sequential characters such as 1234 or abcd"));
    assert!(menu.shows_text("✓ 8 to 32 characters"));
    menu.screenshot("08-new-password-weak");
    menu.type_into("New password", NEW_PASSWORD);
    menu.type_into("Confirm password", NEW_PASSWORD);
    assert!(menu.shows_text("✓ does not contain the user name"));
    menu.click("Set password");
    menu.wait_until("the result", |w| {
        w.global::<ForgetPassword>().get_step() == WizardStep::Done
    });
    let fp = menu.window.global::<ForgetPassword>();
    assert!(fp.get_readded(), "the camera is added again");
    assert_eq!(fp.get_result_status(), CameraStatus::Online);
    menu.screenshot("09-done");
    menu.click("Done");
    assert_eq!(menu.wizard_step(), WizardStep::Closed);

    menu.wait_until("the camera back on Added Devices, online", |w| {
        let added = w.global::<DeviceAccess>().get_added();
        added.row_count() == 2 && added.iter().all(|r| r.status == CameraStatus::Online)
    });
    println!(
        "forget_password_clicks={} (goal: 10 or fewer, plus the code and password entry)",
        menu.clicks
    );
    assert!(menu.clicks <= 10, "{} clicks", menu.clicks);

    let accepted = rt.block_on(async {
        let url = h.sim.cameras()[0].device_service_url();
        oxvif::OnvifClient::new(url)
            .with_credentials("admin", NEW_PASSWORD)
            .get_device_info()
            .await
            .is_ok()
    });
    assert!(accepted, "the camera takes the new password");
    drop(menu);
    rt.block_on(h.stop());
}

#[test]
fn dialogs_add_activate_change_and_remove_at_1280x720() {
    let rt = runtime();
    let (h, first, second) = rt.block_on(async {
        let sim = simulator(4, |c| c.inactive = 1).await;
        let h = Harness::start(sim, Duration::from_millis(300)).await;
        h.discover().await;
        let first = h.add(0).await;
        let second = h.add(1).await;
        (h, first, second)
    });
    let mut menu = Menu::open(&h, &rt, (1280, 720));
    assert!(
        menu.window.global::<Theme>().get_compact(),
        "720p uses the compact sizes"
    );
    menu.wait_until("two cameras listed", |w| {
        w.global::<DeviceAccess>().get_added().row_count() == 2
    });
    menu.open_device_access();
    menu.screenshot("10-added-devices");

    // Add by IP: a bad port and a wrong password are refused with the reason; nothing is added.
    let (host, port) = h.address(2);
    menu.click("Add by IP");
    menu.type_into("IP address", &host);
    menu.type_into("Port", "80a");
    menu.type_into("Password", "wrong-password");
    menu.click("Add");
    menu.wait_until("the port refused", |w| {
        w.global::<Dialog>().get_failure().problem == Problem::PortInvalid
    });
    assert!(menu.shows_text("The port must be a number from 1 to 65535."));
    menu.type_into("Port", &port.to_string());
    menu.click("Add");
    menu.wait_until("the password refused", |w| {
        w.global::<Dialog>().get_failure().problem == Problem::CredentialsRejected
    });
    menu.screenshot("11-add-by-ip-refused");
    assert_eq!(rt.block_on(async { h.nvr.added_cameras().len() }), 2);
    menu.type_into("Password", crate::support::CAMERA_PASSWORD);
    menu.click("Add");
    menu.wait_until("the camera added and listed", |w| {
        w.global::<Dialog>().get_kind() == DialogKind::None
            && w.global::<DeviceAccess>().get_added().row_count() == 3
    });

    // Activate the inactive camera: the meter judges the password, then it is activated and added.
    let inactive_serial = h.sim.cameras()[3].identity().serial.clone();
    menu.click("Discovered Devices");
    menu.wait_until("the inactive camera listed", |w| {
        w.global::<DeviceAccess>()
            .get_discovered()
            .iter()
            .any(|d| d.inactive)
    });
    assert!(menu.shows_text("Inactive"));
    menu.click(&format!("Activate {inactive_serial}"));
    menu.type_into("New password", "12345678");
    assert!(menu.shows_text("✗ not a well-known password such as admin or 12345"));
    menu.type_into("Confirm password", "12345678");
    menu.type_into("Reset email", "installer@example.com");
    menu.click("Activate");
    menu.wait_until("the weak password refused", |w| {
        w.global::<Dialog>().get_failure().problem == Problem::PolicyViolation
    });
    menu.screenshot("12-activate-weak-password");
    menu.type_into("New password", NEW_PASSWORD);
    menu.type_into("Confirm password", NEW_PASSWORD);
    menu.click("Activate");
    menu.wait_until("the camera activated and added", |w| {
        w.global::<Dialog>().get_kind() == DialogKind::None
            && w.global::<DeviceAccess>().get_added().row_count() == 4
    });
    assert!(
        !rt.block_on(async {
            h.nvr
                .discovered_device(&h.sim.cameras()[3].identity().endpoint_ref)
        })
        .expect("still discovered")
        .inactive
    );

    // One new password for two ticked cameras.
    menu.click("Added Devices");
    menu.click(&format!("Tick {}", first.identity.serial));
    menu.click(&format!("Tick {}", second.identity.serial));
    menu.click("Change password for the ticked cameras");
    menu.type_into("New password", NEW_PASSWORD);
    menu.type_into("Confirm password", "Quiet-Falcon-84");
    menu.click("Change password");
    menu.wait_until("the mismatch refused", |w| {
        w.global::<Dialog>().get_failure().problem == Problem::PasswordMismatch
    });
    menu.type_into("Confirm password", NEW_PASSWORD);
    menu.screenshot("13-change-password");
    menu.click("Change password");
    menu.wait_until("both changed", |w| {
        w.global::<Dialog>().get_kind() == DialogKind::None
    });
    assert!(
        menu.window
            .global::<DeviceAccess>()
            .get_added()
            .iter()
            .all(|r| !r.selected),
        "the ticks are cleared after a change"
    );
    for index in [0, 1] {
        let accepted = rt.block_on(async {
            let url = h.sim.cameras()[index].device_service_url();
            oxvif::OnvifClient::new(url)
                .with_credentials("admin", NEW_PASSWORD)
                .get_device_info()
                .await
                .is_ok()
        });
        assert!(accepted, "camera {index} takes the new password");
    }

    // Remove asks first, then the camera is gone from the list and the registry.
    menu.click(&format!("Remove {}", second.identity.serial));
    menu.screenshot("14-remove");
    menu.click("Remove");
    menu.wait_until("the camera removed", |w| {
        w.global::<DeviceAccess>().get_added().row_count() == 3
    });
    assert!(
        rt.block_on(async { h.nvr.added_camera(second.id) })
            .is_err()
    );

    // Russian, chosen in Settings > System: every word on Device Access follows, plurals included.
    menu.click("System");
    menu.screenshot("15-system");
    menu.click("Русский");
    assert_eq!(menu.window.global::<Shell>().get_language(), 1);
    assert!(
        menu.shows_text("Двухфакторный вход"),
        "the account section in Russian too"
    );
    menu.click("Device Access");
    assert!(menu.shows_text("Онлайн"), "status word in Russian");
    assert!(
        menu.shows_text("Прот.") && menu.shows_text("Модель"),
        "the columns in Russian"
    );
    menu.click("Discovered Devices");
    assert!(
        menu.shows_text("Найдено 4 камеры"),
        "Russian plural for 2-4"
    );
    menu.screenshot("16-discovered-russian");
    rt.block_on(crate::support::eventually(
        Duration::from_secs(5),
        "the language kept for the next start",
        || async { h.nvr.menu_language().await == Ok(Some("ru".to_owned())) },
    ));
    menu.click("System");
    menu.click("English");
    menu.click("Device Access");
    menu.click("Discovered Devices");
    assert!(menu.shows_text("4 cameras found"), "back in English");
    drop(menu);
    rt.block_on(h.stop());
}

#[test]
fn a_camera_id_past_the_menus_int_range_still_names_its_camera() {
    let rt = runtime();
    let h = rt.block_on(async {
        let sim = simulator(2, |_| {}).await;
        let settings = crate::support::test_settings(&sim, Duration::from_millis(300));
        let state = tempfile::tempdir().unwrap();
        // A registry whose ids have grown past 32 bits.
        drop(vigil::store::Store::open(state.path()).unwrap());
        let db =
            rusqlite::Connection::open(state.path().join(vigil::store::DATABASE_FILE)).unwrap();
        db.execute(
            "INSERT INTO sqlite_sequence (name, seq) VALUES ('added_camera', 4294967296)",
            [],
        )
        .unwrap();
        drop(db);
        let h = Harness::start_with(sim, settings, state).await;
        h.add(0).await;
        h.add(1).await;
        h
    });
    let cameras = h.nvr.added_cameras();
    assert!(
        cameras.iter().all(|c| c.id.0 > i64::from(i32::MAX)),
        "{cameras:?}"
    );
    let mut menu = Menu::open(&h, &rt, (1280, 720));
    menu.wait_until("two cameras listed", |w| {
        w.global::<DeviceAccess>().get_added().row_count() == 2
    });
    menu.open_device_access();
    let second = &cameras[1];
    menu.click(&format!("Remove {}", second.identity.serial));
    menu.click("Remove");
    menu.wait_until("the camera removed", |w| {
        w.global::<DeviceAccess>().get_added().row_count() == 1
    });
    assert!(h.nvr.added_camera(second.id).is_err(), "that one is gone");
    assert!(h.nvr.added_camera(cameras[0].id).is_ok(), "the other stays");
    drop(menu);
    rt.block_on(h.stop());
}

/// The menu's login guards its commands in the service, not only on screen: a command sent after the
/// login has ended (the installer left the confirmation open) is refused, changes nothing, and the
/// menu asks for the login again.
#[test]
fn a_camera_command_after_the_menus_login_has_ended_is_refused() {
    let rt = runtime();
    let clock = Arc::new(SimulatedClock::new(vigil::clock::from_unix_secs(
        1_800_000_000,
    )));
    let h = rt.block_on(async {
        let sim = simulator(1, |_| {}).await;
        let settings = crate::support::test_settings(&sim, Duration::from_millis(300));
        let state = tempfile::tempdir().unwrap();
        let h = Harness::start_with_clock(sim, settings, state, clock.clone()).await;
        h.add(0).await;
        h
    });
    let camera = h.nvr.added_cameras().remove(0);
    let mut menu = Menu::open(&h, &rt, (1280, 720));
    menu.wait_until("the camera listed", |w| {
        w.global::<DeviceAccess>().get_added().row_count() == 1
    });
    menu.open_device_access();
    menu.click(&format!("Remove {}", camera.identity.serial));
    clock.advance(h.nvr.settings().account.session_idle + Duration::from_secs(1));
    menu.click("Remove");
    menu.wait_until("the login asked for again", |w| {
        let account = w.global::<Account>();
        !account.get_logged_in()
            && account.get_login_step() == LoginStep::Password
            && account.get_failure().problem == Problem::SessionExpired
    });
    menu.screenshot("login-ended-command-refused");
    assert!(
        h.nvr.added_camera(camera.id).is_ok(),
        "the camera was not removed"
    );
    drop(menu);
    rt.block_on(h.stop());
}

#[test]
fn add_by_ip_of_a_factory_state_camera_offers_activation_instead() {
    let rt = runtime();
    // Not discovered yet: the camera is known only by the address the installer types.
    let h = rt.block_on(async {
        let sim = simulator(1, |c| c.inactive = 1).await;
        Harness::start(sim, Duration::from_millis(300)).await
    });
    let mut menu = Menu::open(&h, &rt, (1280, 720));
    menu.open_device_access();
    let (host, port) = h.address(0);
    menu.click("Add by IP");
    menu.type_into("IP address", &host);
    menu.type_into("Port", &port.to_string());
    menu.type_into("User name", "whoever");
    menu.type_into("Password", "Any-Thing-123");
    menu.click("Add");
    menu.wait_until("the activation offered", |w| {
        w.global::<Dialog>().get_kind() == DialogKind::Activate
    });
    assert_eq!(
        menu.window.global::<Dialog>().get_failure().problem,
        Problem::CameraInactive
    );
    assert!(menu.shows_text(
        "The camera is inactive (factory state): it lets anyone in until it has an admin password, so it cannot be added with a login. Activate it to set one."
    ));
    menu.screenshot("17-add-by-ip-inactive-offers-activation");
    assert!(rt.block_on(async { h.nvr.added_cameras().is_empty() }));
    menu.type_into("New password", NEW_PASSWORD);
    menu.type_into("Confirm password", NEW_PASSWORD);
    menu.type_into("Reset email", "installer@example.com");
    menu.click("Activate");
    menu.wait_until("the camera activated and added", |w| {
        w.global::<Dialog>().get_kind() == DialogKind::None
            && w.global::<DeviceAccess>().get_added().row_count() == 1
    });
    assert!(!h.sim.cameras()[0].is_inactive());
    drop(menu);
    rt.block_on(h.stop());
}

#[test]
fn the_menu_comes_back_in_the_language_chosen_last_time() {
    let rt = runtime();
    let h = rt.block_on(async {
        let sim = simulator(1, |_| {}).await;
        let h = Harness::start(sim, Duration::from_millis(300)).await;
        assert!(matches!(
            h.nvr.set_menu_language("de").await,
            Err(vigil::service::NvrError::InvalidArgument { .. })
        ));
        h.nvr.set_menu_language("ru").await.unwrap();
        h
    });
    let menu = Menu::open(&h, &rt, (1920, 1080));
    menu.wait_until("the menu in Russian", |w| {
        w.global::<Shell>().get_language() == 1
    });
    assert!(
        menu.shows_text("Камер пока нет"),
        "the live view in Russian"
    );
    menu.screenshot("17-live-view-russian");
    drop(menu);
    rt.block_on(h.stop());
}

/// A camera's status reason reaches the menu as a kind the menu translates and the camera's own
/// words, so the Russian menu shows no English sentence of the monitor's.
#[test]
fn a_cameras_status_reason_is_shown_in_the_menus_language() {
    use vigil::sim::dialect::Dialect;
    let rt = runtime();
    let (h, rejected, refused) = rt.block_on(async {
        let sim = simulator(2, |_| {}).await;
        let h = Harness::start(sim, Duration::from_millis(300)).await;
        let rejected = h.add(0).await;
        let refused = h.add(1).await;
        // Both passwords change behind the recorder's back; one camera refuses in words no
        // catalogue holds.
        h.sim.cameras()[0].set_password_directly("admin", "Changed#Elsewhere7");
        h.sim.cameras()[1].set_dialect(Dialect::Unclassified);
        h.sim.cameras()[1].set_password_directly("admin", "Changed#Elsewhere7");
        for camera in [&rejected, &refused] {
            h.wait_for_state(
                camera.id,
                CameraState::NotCertified,
                Duration::from_secs(10),
            )
            .await;
        }
        (h, rejected, refused)
    });
    let english = [&rejected, &refused].map(|camera| {
        h.nvr
            .added_camera(camera.id)
            .unwrap()
            .status
            .last_error
            .expect("a reason")
            .to_string()
    });
    let mut menu = Menu::open(&h, &rt, (1920, 1080));
    menu.wait_until("both cameras not certified", |w| {
        let rows = w.global::<DeviceAccess>().get_added();
        rows.row_count() == 2
            && rows
                .iter()
                .all(|row| row.status == CameraStatus::NotCertified)
    });
    menu.open_device_access();
    menu.click("System");
    menu.click("Русский");
    menu.click("Device Access");
    menu.screenshot("i14-05-reasons-russian");
    for sentence in &english {
        assert!(
            !menu.shows_text(sentence),
            "the monitor's English reaches the Russian menu: {sentence}"
        );
    }
    assert!(
        menu.shows_text(
            "Камера отклонила сохранённый пароль. Измените учётные данные или нажмите «Забыли пароль»."
        ),
        "the rejected password in Russian"
    );
    assert!(
        menu.shows_text(
            "Камера отклонила сохранённые учётные данные. Регистратор не будет повторять их, пока их не изменят, чтобы камера не заблокировала его."
        ),
        "the held refusal in Russian"
    );
    let words = h
        .nvr
        .added_camera(refused.id)
        .unwrap()
        .status
        .last_error
        .expect("a reason")
        .words;
    assert!(
        menu.shows_text(&format!("Камера ответила: «{words}»")),
        "the camera's own words, introduced in Russian: {words}"
    );
    drop(menu);
    rt.block_on(h.stop());
}

/// The demo as the README walks it: the camera whose password changed behind the recorder's back has
/// no internet, so its Forget Password is remove first, then the QR code; Send Code stays on screen,
/// disabled with the reason; the phone app (the simulator's vendor side, scanning the QR code the
/// recorder shows for that serial number) has the code emailed into demo-mail; the code, a new
/// password, and the camera is back.
#[test]
fn the_demos_qr_path_can_be_walked_to_the_end() {
    use vigil::daemon::demo::{self, DemoOptions};
    let _demo = crate::daemon::DEMO
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let rt = runtime();
    let state = tempfile::tempdir().unwrap();
    let mail_dir = state.path().join("demo-mail");
    let (h, serial) = rt.block_on(async {
        let options = DemoOptions {
            cameras: 8,
            mail_dir: mail_dir.clone(),
            control_socket: state.path().join("demo-cameras.sock"),
        };
        let mut settings = vigil::config::Config::default()
            .resolve("test")
            .expect("defaults resolve");
        let sim = demo::start_cameras(&options, &mut settings)
            .await
            .expect("the demo cameras start");
        // The demo's own probe window: under load a shorter one misses cameras, as it would on a
        // busy recorder.
        settings.discovery.on_start = false;
        settings.discovery.refresh_interval = None;
        settings.monitor.period = Duration::from_millis(300);
        settings.monitor.offline_backoff_max = Duration::from_millis(600);
        settings.request_timeout = Duration::from_secs(2);
        let h = Harness::start_with(sim, settings, state).await;
        demo::populate(&h.nvr, &h.sim).await;
        let serial = h.sim.cameras()[1].identity().serial.clone();
        let added = h
            .nvr
            .added_cameras()
            .into_iter()
            .find(|c| c.identity.serial == serial)
            .expect("demo camera 2 is added");
        h.wait_for_state(added.id, CameraState::NotCertified, Duration::from_secs(10))
            .await;
        (h, serial)
    });
    let mut menu = Menu::open(&h, &rt, (1920, 1080));
    menu.open_device_access();
    let clicks_before = menu.clicks;
    menu.click(&format!("Forget Password {serial}"));
    menu.wait_until("the remove-first step", |w| {
        w.global::<ForgetPassword>().get_step() == WizardStep::RemoveFirst
    });
    menu.click("Remove and continue");
    menu.wait_until("the code step", |w| {
        let fp = w.global::<ForgetPassword>();
        fp.get_step() == WizardStep::GetCode && !fp.get_busy()
    });
    let fp = menu.window.global::<ForgetPassword>();
    assert!(fp.get_by_qr(), "the QR code is offered");
    assert!(!fp.get_internet(), "demo camera 2 has no internet");
    let send = menu.button("Send Code");
    assert!(
        !send.accessible_enabled().unwrap_or(true),
        "Send Code stays on screen, disabled"
    );
    assert!(
        menu.shows_text(
            "Send Code needs the camera to reach the internet, and it cannot now. Scan the QR code with the phone app instead."
        ),
        "and says why"
    );
    assert_eq!(
        menu.count_buttons("New code"),
        1,
        "a new code is always offered"
    );
    menu.screenshot("i15-01-demo-qr-path");

    // The phone app scans the QR code on the screen; the vendor's cloud emails the code.
    let sent_to = rt
        .block_on(h.sim.app_scan(&serial))
        .expect("the phone app reads the QR code the recorder shows");
    assert!(sent_to.contains('@'), "{sent_to}");
    let code = std::fs::read_dir(&mail_dir)
        .expect("demo-mail")
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .find(|mail| mail.contains(&serial))
        .and_then(|mail| {
            mail.split(|c: char| !c.is_ascii_digit())
                .find(|run| run.len() == 8)
                .map(str::to_owned)
        })
        .expect("the code's email in demo-mail");
    assert!(menu.shows_text("1. Get a code (current)"));
    menu.type_on_screen_keyboard("Verification code", &code);
    let keys = code.len();
    assert!(
        menu.shows_text("2. Enter the code (current)"),
        "the step bar follows the code being entered"
    );
    assert_eq!(
        menu.button("Use support code").accessible_enabled(),
        Some(false),
        "an 8-digit verification code is not offered as a 10-digit support code"
    );
    menu.click("Verify");
    menu.wait_until("the new-password step", |w| {
        w.global::<ForgetPassword>().get_step() == WizardStep::NewPassword
    });
    // A refusal keeps what was typed, and its message goes once the entry is corrected.
    menu.type_into("New password", NEW_PASSWORD);
    menu.type_into("Confirm password", "Other-Falcon-99");
    menu.click_uncounted("Set password");
    menu.wait_until("the mismatch refused", |w| {
        let fp = w.global::<ForgetPassword>();
        fp.get_failure().problem == Problem::PasswordMismatch && !fp.get_busy()
    });
    assert!(menu.shows_text("The password and its confirmation are not the same."));
    assert_eq!(
        menu.field("New password").accessible_value().as_deref(),
        Some(NEW_PASSWORD),
        "the refusal keeps the new password typed"
    );
    menu.screenshot("i15-06-mismatch-kept");
    menu.type_into("Confirm password", NEW_PASSWORD);
    assert!(
        !menu.shows_text("The password and its confirmation are not the same."),
        "the message goes once the confirmation is corrected"
    );
    menu.click("Set password");
    menu.wait_until("the result", |w| {
        w.global::<ForgetPassword>().get_step() == WizardStep::Done
    });
    let fp = menu.window.global::<ForgetPassword>();
    assert!(fp.get_readded(), "the camera is added again");
    assert_eq!(fp.get_result_status(), CameraStatus::Online);
    menu.click("Done");
    println!(
        "demo_qr_path_clicks={} on_screen_keyboard_presses={keys} (from Forget Password to Done, the code typed on the keyboard; the passwords typed)",
        menu.clicks - clicks_before
    );
    drop(menu);
    rt.block_on(h.stop());
}

/// Hints never look like filled-in values, and a refused entry is named in the menu's own words and
/// language (not an internal field name), with the right problem: an empty field is empty.
#[test]
fn hints_look_like_hints_and_errors_name_the_field_in_the_menus_words() {
    let rt = runtime();
    let h = rt.block_on(async {
        let sim = simulator(2, |c| c.inactive = 1).await;
        let h = Harness::start(sim, Duration::from_millis(300)).await;
        h.nvr.set_menu_language("ru").await.unwrap();
        h.discover().await;
        h
    });
    let mut menu = Menu::open_first_boot(&h, &rt, (1920, 1080));
    menu.wait_until("the activation screen in Russian", |w| {
        w.global::<Account>().get_gate() == Gate::Activate
            && w.global::<Shell>().get_language() == 1
    });
    menu.type_into("Admin password", NVR_PASSWORD);
    menu.type_into("Confirm password", NVR_PASSWORD);
    menu.click("Activate the recorder");
    menu.wait_until("the empty reserved email refused", |w| {
        w.global::<Account>().get_failure().problem == Problem::InvalidInput
    });
    assert!(
        menu.shows_text("Поле «Резервная эл. почта» не заполнено. Заполните его."),
        "the field in the menu's words and language"
    );
    menu.screenshot("i15-05-empty-reserved-email-russian");
    menu.type_into("Reserved email", "owner@example.com");
    menu.click("Activate the recorder");
    menu.wait_until("activated", |w| {
        w.global::<Account>().get_gate() == Gate::Open
    });

    // Back to English for the camera's Activate dialog: an empty reset email is empty, and named so.
    menu.window.global::<Shell>().invoke_language_selected(0);
    menu.wait_until("the menu in English", |w| {
        w.global::<Shell>().get_language() == 0
    });
    menu.right_click(600.0, 300.0);
    menu.click("Device Access");
    menu.wait_until("Device Access open", |w| {
        w.global::<Shell>().get_screen() == Screen::DeviceAccess
    });
    menu.click("Discovered Devices");
    let inactive = h.sim.cameras()[1].identity().serial.clone();
    menu.click(&format!("Activate {inactive}"));
    menu.type_into("New password", NEW_PASSWORD);
    menu.type_into("Confirm password", NEW_PASSWORD);
    menu.type_into("Reset email", "");
    menu.click("Activate");
    menu.wait_until("the empty reset email refused", |w| {
        w.global::<Dialog>().get_failure().problem == Problem::InvalidInput
    });
    assert!(
        menu.shows_text("Reset email is empty. Fill it in."),
        "not 'reset_email: the reset email is not an email address'"
    );
    menu.screenshot("i15-05-empty-reset-email");
    drop(menu);
    rt.block_on(h.stop());
}

/// Forget Password on Added Devices works on a camera however it was added: one added by IP that
/// discovery never listed is reached at its stored address. An offline camera is told as offline,
/// with what to check, and stays added.
#[test]
fn forget_password_on_a_camera_added_by_ip_or_offline_has_no_dead_end() {
    let rt = runtime();
    let (h, by_ip, offline) = rt.block_on(async {
        let sim = simulator(2, |_| {}).await;
        let h = Harness::start(sim, Duration::from_millis(300)).await;
        // Added by address, with no discovery run: the discovered list stays empty.
        let add = |index: usize| {
            let (host, port) = h.address(index);
            vigil::service::AddCamera {
                host,
                port,
                username: "admin".into(),
                password: crate::support::CAMERA_PASSWORD.into(),
            }
        };
        let by_ip = h
            .nvr
            .add_camera(add(0), &crate::support::system())
            .await
            .unwrap();
        let offline = h
            .nvr
            .add_camera(add(1), &crate::support::system())
            .await
            .unwrap();
        assert!(h.nvr.discovered_devices().is_empty());
        h.sim.cameras()[0].set_password_directly("admin", "Forgotten-Pass-19");
        assert!(h.sim.cameras()[1].set_online(false).await);
        h.wait_for_state(by_ip.id, CameraState::NotCertified, Duration::from_secs(10))
            .await;
        h.wait_for_state(offline.id, CameraState::Offline, Duration::from_secs(10))
            .await;
        (h, by_ip, offline)
    });
    let mut menu = Menu::open(&h, &rt, (1920, 1080));
    menu.open_device_access();

    menu.click(&format!("Forget Password {}", offline.identity.serial));
    menu.wait_until("the offline camera refused with the reason", |w| {
        let fp = w.global::<ForgetPassword>();
        fp.get_failure().problem == Problem::Unreachable && !fp.get_busy()
    });
    let address = offline.address.to_string();
    assert!(
        menu.shows_text(&format!(
            "No camera answers at {address}. Check the address, port and cabling."
        )),
        "told as offline, with what to check"
    );
    menu.screenshot("i15-03-forget-password-offline");
    menu.click("Close");
    assert!(
        h.nvr.added_camera(offline.id).is_ok(),
        "the offline camera stays added"
    );

    menu.click(&format!("Forget Password {}", by_ip.identity.serial));
    menu.wait_until("the remove-first step", |w| {
        w.global::<ForgetPassword>().get_step() == WizardStep::RemoveFirst
    });
    menu.click("Remove and continue");
    menu.wait_until("the code step for the camera added by IP", |w| {
        let fp = w.global::<ForgetPassword>();
        fp.get_step() == WizardStep::GetCode && !fp.get_busy()
    });
    assert_eq!(
        menu.window.global::<ForgetPassword>().get_serial().as_str(),
        by_ip.identity.serial
    );
    menu.screenshot("i15-03-forget-password-added-by-ip");
    drop(menu);
    rt.block_on(h.stop());
}

/// A notice belongs to the action that raised it: it sits over the bottom of the lists (the buttons
/// stay where the pointer is), a success says what was done (one password changed, a camera
/// activated and added, one removed), and a failure ends with the next action, a tab change, leaving
/// the screen or logging out.
#[test]
fn a_notice_belongs_to_the_action_that_raised_it() {
    let rt = runtime();
    let (h, camera) = rt.block_on(async {
        let sim = simulator(3, |c| c.inactive = 1).await;
        let h = Harness::start(sim, Duration::from_millis(300)).await;
        h.discover().await;
        let camera = h.add(0).await;
        h.add(1).await;
        (h, camera)
    });
    let mut menu = Menu::open(&h, &rt, (1920, 1080));
    menu.open_device_access();
    let toolbar = || menu.button("Add by IP").absolute_position();
    let before = toolbar();
    let shown = |menu: &Menu| {
        let access = menu.window.global::<DeviceAccess>();
        access.get_notice_failure().problem != Problem::None
            || access.get_notice_kind() != vigil::gui::ui::NoticeKind::None
    };
    let raise_failure = |menu: &Menu| {
        menu.window
            .global::<DeviceAccess>()
            .set_notice_failure(vigil::gui::rows::failure_of(
                &vigil::service::NvrError::ShuttingDown,
            ));
    };
    raise_failure(&menu);
    assert_eq!(toolbar(), before, "the notice moves no button");
    menu.screenshot("i15-04-notice-over-the-list");
    menu.click("Discovered Devices");
    assert!(!shown(&menu), "a tab change ends it");
    menu.click("Added Devices");
    raise_failure(&menu);
    menu.click("System");
    menu.click("Device Access");
    assert!(!shown(&menu), "leaving the screen ends it");
    raise_failure(&menu);
    menu.click(&format!("Tick {}", camera.identity.serial));
    menu.click("System");
    menu.click("Log out");
    menu.wait_until("logged out", |w| !w.global::<Account>().get_logged_in());
    menu.open_device_access();
    assert!(!shown(&menu), "logging out ends it");
    assert!(
        menu.window
            .global::<DeviceAccess>()
            .get_added()
            .iter()
            .all(|r| !r.selected),
        "logging out clears the ticks"
    );

    // One camera's Change password says it worked.
    menu.click(&format!("Change password {}", camera.identity.serial));
    menu.type_into("New password", NEW_PASSWORD);
    menu.type_into("Confirm password", NEW_PASSWORD);
    menu.click("Change password");
    menu.wait_until("the password changed and said so", |w| {
        w.global::<Dialog>().get_kind() == DialogKind::None
            && w.global::<DeviceAccess>().get_notice_kind()
                == vigil::gui::ui::NoticeKind::PasswordsChanged
    });
    let name = format!("{} {}", camera.identity.model, camera.identity.serial);
    assert!(
        menu.shows_text(&format!("The password of {name} is changed.")),
        "the change is confirmed by name"
    );
    menu.screenshot("i15-08-password-changed");

    // Activating a camera in factory state says it was activated and added.
    let inactive = h.sim.cameras()[2].identity().serial.clone();
    menu.click("Discovered Devices");
    menu.click(&format!("Activate {inactive}"));
    assert_eq!(
        menu.field("Reset email").accessible_value().as_deref(),
        Some("owner@example.com"),
        "the recorder's reserved email is offered as the camera's reset email"
    );
    menu.type_into("New password", NEW_PASSWORD);
    menu.type_into("Confirm password", NEW_PASSWORD);
    menu.click("Activate");
    menu.wait_until("activated, added and said so", |w| {
        w.global::<DeviceAccess>().get_notice_kind()
            == vigil::gui::ui::NoticeKind::ActivatedAndAdded
    });
    let model = h.sim.cameras()[2].identity().model.clone();
    assert!(menu.shows_text(&format!("{model} {inactive} is activated and added.")));
    menu.wait_until("the activated camera listed as added", |w| {
        w.global::<DeviceAccess>().get_added().row_count() == 3
    });
    menu.screenshot("i15-12-activated-and-added");
    drop(menu);
    rt.block_on(h.stop());
}

/// A password change on several cameras says of an offline one that it is offline (with what to check),
/// not that it is not certified.
#[test]
fn a_bulk_password_change_tells_an_offline_camera_as_offline() {
    let rt = runtime();
    let (h, online, offline) = rt.block_on(async {
        let sim = simulator(2, |_| {}).await;
        let h = Harness::start(sim, Duration::from_millis(300)).await;
        let online = h.add(0).await;
        let offline = h.add(1).await;
        assert!(h.sim.cameras()[1].set_online(false).await);
        h.wait_for_state(offline.id, CameraState::Offline, Duration::from_secs(10))
            .await;
        (h, online, offline)
    });
    let mut menu = Menu::open(&h, &rt, (1920, 1080));
    menu.open_device_access();
    menu.click(&format!("Tick {}", online.identity.serial));
    menu.click(&format!("Tick {}", offline.identity.serial));
    menu.click("Change password for the ticked cameras");
    menu.type_into("New password", NEW_PASSWORD);
    menu.type_into("Confirm password", NEW_PASSWORD);
    menu.click("Change password");
    menu.wait_until("each camera's outcome", |w| {
        w.global::<Dialog>().get_results().row_count() == 2
    });
    let results = menu.window.global::<Dialog>().get_results();
    let offline_result = results
        .iter()
        .find(|r| !r.ok)
        .expect("the offline camera's outcome");
    assert_eq!(offline_result.failure.problem, Problem::Unreachable);
    assert!(
        menu.shows_text(&format!(
            "No camera answers at {}. Check the address, port and cabling.",
            offline.address
        )),
        "told as offline, with what to check"
    );
    menu.screenshot("i15-07-bulk-change-offline");
    drop(menu);
    rt.block_on(h.stop());
}

/// Discovered Devices gives every camera a state (an active camera that is not added says Active; an
/// unplugged added one says offline), names models as Added Devices does, and offers no Forget
/// Password that would only redirect (a certified added camera changes its password on Added Devices).
#[test]
fn discovered_devices_state_every_camera_and_offer_only_what_works() {
    let rt = runtime();
    let (h, certified, unplugged) = rt.block_on(async {
        let sim = simulator(4, |c| c.inactive = 1).await;
        let h = Harness::start(sim, Duration::from_millis(300)).await;
        h.discover().await;
        let certified = h.add(0).await;
        let unplugged = h.add(1).await;
        assert!(h.sim.cameras()[1].set_online(false).await);
        h.wait_for_state(unplugged.id, CameraState::Offline, Duration::from_secs(10))
            .await;
        (h, certified, unplugged)
    });
    let mut menu = Menu::open(&h, &rt, (1920, 1080));
    menu.open_device_access();
    menu.click("Discovered Devices");
    menu.wait_until("four cameras listed, one offline", |w| {
        let rows = w.global::<DeviceAccess>().get_discovered();
        rows.row_count() == 4
            && rows
                .iter()
                .any(|r| r.added && r.added_status == CameraStatus::Offline)
    });
    for state in ["Added", "Added, offline", "Active", "Inactive"] {
        assert!(menu.shows_text(state), "the state {state} is shown");
    }
    assert!(
        !menu.shows_text("Added, not certified"),
        "an unplugged camera is offline, not not certified"
    );
    assert_eq!(
        menu.count_buttons(&format!("Forget Password {}", certified.identity.serial)),
        0,
        "a certified added camera offers no Forget Password that only redirects"
    );
    let active = h.sim.cameras()[2].identity().serial.clone();
    assert_eq!(menu.count_buttons(&format!("Forget Password {active}")), 1);
    assert_eq!(
        menu.count_buttons(&format!("Forget Password {}", unplugged.identity.serial)),
        1
    );
    let discovered_model = menu
        .window
        .global::<DeviceAccess>()
        .get_discovered()
        .iter()
        .find(|r| r.serial == certified.identity.serial.as_str())
        .map(|r| r.model.to_string());
    let added_name = menu
        .window
        .global::<DeviceAccess>()
        .get_added()
        .iter()
        .find(|r| r.serial == certified.identity.serial.as_str())
        .map(|r| r.model.to_string());
    assert_eq!(discovered_model, added_name, "one model name on both tabs");
    menu.screenshot("i15-11-discovered-states");
    drop(menu);
    rt.block_on(h.stop());
}

/// Added Devices with eight cameras at 1280×720: no row under the status bar, a reason's words
/// readable in full, and each action in the same place on every row.
#[test]
fn added_devices_lay_out_eight_cameras_at_720p() {
    use vigil::sim::dialect::Dialect;
    let rt = runtime();
    let (h, held) = rt.block_on(async {
        let sim = simulator(8, |_| {}).await;
        let h = Harness::start(sim, Duration::from_millis(300)).await;
        let mut added = Vec::new();
        for index in 0..8 {
            added.push(h.add(index).await);
        }
        // One camera refuses in long words of its own; one is unplugged.
        h.sim.cameras()[2].set_dialect(Dialect::Unclassified);
        h.sim.cameras()[2].set_password_directly("admin", "Changed#Elsewhere7");
        assert!(h.sim.cameras()[5].set_online(false).await);
        h.wait_for_state(
            added[2].id,
            CameraState::NotCertified,
            Duration::from_secs(10),
        )
        .await;
        h.wait_for_state(added[5].id, CameraState::Offline, Duration::from_secs(10))
            .await;
        (h, added[2].clone())
    });
    let mut menu = Menu::open(&h, &rt, (1280, 720));
    menu.open_device_access();
    menu.wait_until("eight cameras listed", |w| {
        w.global::<DeviceAccess>().get_added().row_count() == 8
    });
    menu.screenshot("i15-10-eight-cameras");
    let serials: Vec<String> = h
        .sim
        .cameras()
        .iter()
        .map(|c| c.identity().serial.clone())
        .collect();
    // Every action in the same column on every row.
    for action in ["Edit", "Remove"] {
        let xs: Vec<f32> = serials
            .iter()
            .map(|serial| {
                menu.button(&format!("{action} {serial}"))
                    .absolute_position()
                    .x
            })
            .collect();
        assert!(
            xs.iter().all(|x| (x - xs[0]).abs() < 0.5),
            "{action} lines up: {xs:?}"
        );
    }
    let middle_x = |serial: &str| {
        let label = if serial == serials[2] || serial == serials[5] {
            format!("Forget Password {serial}")
        } else {
            format!("Change password {serial}")
        };
        menu.button(&label).absolute_position().x
    };
    assert!((middle_x(&serials[2]) - middle_x(&serials[0])).abs() < 0.5);
    // The camera's own words are read in full: their text ends inside its row, above the next row.
    let words = h
        .nvr
        .added_camera(held.id)
        .unwrap()
        .status
        .last_error
        .unwrap()
        .words;
    let said = ElementHandle::find_by_accessible_label(
        &menu.window,
        &format!("The camera said: “{words}”"),
    )
    .next()
    .expect("the camera's words on the row");
    let next_row = menu.button(&format!("Edit {}", serials[3]));
    assert!(
        said.absolute_position().y + said.size().height <= next_row.absolute_position().y,
        "the words end inside their row"
    );
    // Nothing off the bottom of the screen.
    let last = menu.button(&format!("Remove {}", serials[7]));
    assert!(last.absolute_position().y + last.size().height <= 720.0);
    drop(menu);
    rt.block_on(h.stop());
}

/// Every added camera has a channel and a name: Added Devices lists by channel, an add past the last
/// channel is refused before any login, a camera moves to a free channel, and the installer names it.
#[test]
fn cameras_have_channels_and_names() {
    let rt = runtime();
    let (h, cameras) = rt.block_on(async {
        let sim = simulator(4, |_| {}).await;
        let mut settings = crate::support::test_settings(&sim, Duration::from_millis(300));
        settings.channels = 3;
        let h = Harness::start_with(sim, settings, tempfile::tempdir().unwrap()).await;
        let mut cameras = Vec::new();
        for index in 0..3 {
            cameras.push(h.add(index).await);
        }
        (h, cameras)
    });
    assert_eq!(
        cameras.iter().map(|c| c.channel).collect::<Vec<_>>(),
        vec![Some(1), Some(2), Some(3)]
    );
    // Two of one model are told apart by the end of their serial numbers.
    assert_eq!(
        cameras[0].display_name(),
        format!(
            "{} {}",
            cameras[0].identity.model,
            &cameras[0].identity.serial[cameras[0].identity.serial.len() - 4..]
        )
    );
    let mut menu = Menu::open(&h, &rt, (1920, 1080));
    menu.open_device_access();

    // The fourth camera: every channel is taken, and the camera never sees a login.
    let (host, port) = h.address(3);
    menu.click("Add by IP");
    menu.type_into("IP address", &host);
    menu.type_into("Port", &port.to_string());
    menu.type_into("Password", crate::support::CAMERA_PASSWORD);
    menu.click("Add");
    menu.wait_until("the add refused for want of a channel", |w| {
        w.global::<Dialog>().get_failure().problem == Problem::NoFreeChannel
    });
    assert!(menu.shows_text(
        "All 3 channels hold a camera. Remove a camera first, or raise the recorder's channel count."
    ));
    assert_eq!(h.sim.cameras()[3].stats().login_attempts, 0);
    menu.screenshot("i15-s2-no-free-channel");
    menu.click("Cancel");

    // Channel D2 freed; the camera on D3 moves there (by the service, as D-Bus and vigilctl do), and
    // the list follows the channels.
    rt.block_on(
        h.nvr
            .remove_camera(cameras[1].id, &crate::support::system()),
    )
    .unwrap();
    rt.block_on(
        h.nvr
            .set_camera_channel(cameras[2].id, 2, &crate::support::system()),
    )
    .unwrap();
    assert!(matches!(
        rt.block_on(
            h.nvr
                .set_camera_channel(cameras[2].id, 1, &crate::support::system())
        ),
        Err(vigil::service::NvrError::ChannelTaken { channel: 1, .. })
    ));
    menu.wait_until("the moved camera listed on D2", |w| {
        let rows: Vec<_> = w.global::<DeviceAccess>().get_added().iter().collect();
        rows.len() == 2 && rows[1].channel == "D2"
    });

    // The installer names a camera: Channel and name, from its channel button.
    let serial = cameras[0].identity.serial.clone();
    menu.click(&format!("Channel and name {serial}"));
    menu.wait_until("Channel and name open", |w| {
        w.global::<Dialog>().get_kind() == DialogKind::ChannelAndName
    });
    menu.type_into("Camera name", "Front gate");
    menu.screenshot("i15-s2-channel-and-name");
    menu.click("Save channel and name");
    menu.wait_until("named", |w| {
        w.global::<DeviceAccess>()
            .get_added()
            .iter()
            .any(|r| r.name == "Front gate" && r.channel == "D1")
    });
    assert!(menu.shows_text("Saved: D1 Front gate."));
    assert_eq!(
        h.nvr.added_camera(cameras[0].id).unwrap().name,
        "Front gate",
        "kept in the registry"
    );
    let audit = rt
        .block_on(h.nvr.audit_log(20))
        .expect("the audit log")
        .into_iter()
        .map(|e| e.action)
        .collect::<Vec<_>>();
    assert!(audit.contains(&vigil::model::AuditAction::ChannelMoved));
    assert!(audit.contains(&vigil::model::AuditAction::CameraRenamed));
    menu.screenshot("i15-s2-named");
    drop(menu);
    rt.block_on(h.stop());
}

/// Several discovered cameras ticked and added with one user name and password: one attempt each,
/// each outcome listed, the ticks gone afterwards.
#[test]
fn several_discovered_cameras_are_added_at_once() {
    let rt = runtime();
    let (h, odd_one, attempts_before) = rt.block_on(async {
        let sim = simulator(4, |c| c.inactive = 1).await;
        let h = Harness::start(sim, Duration::from_millis(300)).await;
        h.discover().await;
        let odd_one = h.sim.cameras()[1].clone();
        odd_one.set_password_directly("admin", "Another-Pass-77");
        let attempts = odd_one.stats().login_attempts;
        (h, odd_one, attempts)
    });
    let mut menu = Menu::open(&h, &rt, (1920, 1080));
    menu.open_device_access();
    menu.click("Discovered Devices");
    let serials: Vec<String> = h
        .sim
        .cameras()
        .iter()
        .map(|c| c.identity().serial.clone())
        .collect();
    for serial in &serials[..3] {
        menu.click(&format!("Tick {serial}"));
    }
    assert_eq!(
        menu.button(&format!("Tick {}", serials[3]))
            .accessible_enabled(),
        Some(false),
        "an inactive camera is activated, not added"
    );
    menu.click("Add selected");
    menu.type_into("Password", crate::support::CAMERA_PASSWORD);
    menu.screenshot("i15-s7-add-selected");
    menu.click("Add");
    menu.wait_until("each outcome listed", |w| {
        w.global::<Dialog>().get_results().row_count() == 3
    });
    let results: Vec<_> = menu
        .window
        .global::<Dialog>()
        .get_results()
        .iter()
        .collect();
    assert_eq!(results.iter().filter(|r| r.ok).count(), 2);
    let refused = results.iter().find(|r| !r.ok).expect("the odd one");
    assert_eq!(refused.failure.problem, Problem::CredentialsRejected);
    // Channels follow the list, not the order the cameras answered in.
    assert!(results[0].name.starts_with("D1 "), "{:?}", results[0].name);
    assert!(results[2].name.starts_with("D2 "), "{:?}", results[2].name);
    let mut stored: Vec<_> = h
        .nvr
        .added_cameras()
        .into_iter()
        .map(|c| (c.identity.serial, c.channel))
        .collect();
    stored.sort();
    assert_eq!(
        stored
            .iter()
            .map(|(_, channel)| *channel)
            .collect::<Vec<_>>(),
        vec![Some(1), Some(2)],
        "the registry agrees: {stored:?}"
    );
    assert_eq!(
        odd_one.stats().login_attempts - attempts_before,
        1,
        "one attempt, never retried"
    );
    assert_eq!(
        menu.window.global::<DeviceAccess>().get_ticked_discovered(),
        0,
        "the ticks of a finished action go"
    );
    menu.screenshot("i15-s7-added-results");
    menu.click("Close");
    assert_eq!(h.nvr.added_cameras().len(), 2);
    drop(menu);
    rt.block_on(h.stop());
}

/// pyotp's code for a base32 key now, as an authenticator app would show it.
fn authenticator_code(python: &str, key: &str) -> String {
    let out = std::process::Command::new(python)
        .args([
            "-c",
            "import sys, pyotp; print(pyotp.TOTP(sys.argv[1]).now())",
            key,
        ])
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "pyotp: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn first_boot_login_forgot_password_two_factor_email_and_lockout_driven_headless() {
    let Some(python) = python_or_skip("the account GUI test (it needs a real SMTP server)") else {
        return;
    };
    let rt = runtime();
    let smtp = SmtpServer::start(&python);
    let clock = std::sync::Arc::new(vigil::clock::SimulatedClock::new(
        std::time::SystemTime::now(),
    ));
    let h = rt.block_on(async {
        let sim = simulator(1, |_| {}).await;
        let settings = crate::support::test_settings(&sim, Duration::from_millis(300));
        let state = tempfile::tempdir().unwrap();
        Harness::start_with_clock(sim, settings, state, clock.clone()).await
    });
    let mut menu = Menu::open_first_boot(&h, &rt, (1920, 1080));
    menu.wait_until("the activation screen", |w| {
        w.global::<Account>().get_gate() == Gate::Activate
    });

    // Until the recorder is activated nothing else can be reached: no main menu, no Settings.
    menu.right_click(900.0, 500.0);
    assert!(
        !menu.window.get_menu_open(),
        "no main menu before activation"
    );
    assert_eq!(menu.count_buttons("Device Access"), 0);
    menu.window
        .global::<Shell>()
        .invoke_navigate(Screen::DeviceAccess);
    assert_eq!(menu.window.global::<Shell>().get_screen(), Screen::Home);
    menu.type_into("Admin password", "admin12345");
    menu.type_into("Confirm password", "admin12345");
    menu.type_into("Reserved email", "owner@example.com");
    assert!(menu.shows_text("✗ not a well-known password such as admin or 12345"));
    menu.click("Activate the recorder");
    menu.wait_until("the weak password refused", |w| {
        w.global::<Account>().get_failure().problem == Problem::PolicyViolation
    });
    menu.screenshot("20-activate-weak-password");
    assert!(!rt.block_on(h.nvr.account_status()).unwrap().activated);
    menu.type_into("Admin password", NVR_PASSWORD);
    menu.type_into("Confirm password", NVR_PASSWORD);
    menu.click("Activate the recorder");
    menu.wait_until("activated and logged in", |w| {
        let account = w.global::<Account>();
        account.get_gate() == Gate::Open && account.get_logged_in()
    });
    assert!(rt.block_on(h.nvr.account_status()).unwrap().activated);

    // Settings > Network > Email: a bad port is refused; the real server saves and sends a test.
    menu.right_click(900.0, 500.0);
    menu.click("Email");
    assert_eq!(menu.window.global::<Shell>().get_screen(), Screen::Email);
    menu.type_into("Mail server", "127.0.0.1");
    menu.type_into("Mail port", "0");
    menu.type_into("Sender address", "nvr@example.com");
    menu.click("Security none");
    menu.click("Save mail settings");
    menu.wait_until("the port refused", |w| {
        w.global::<MailSettings>().get_failure().problem == Problem::PortInvalid
    });
    assert!(rt.block_on(h.nvr.mail_server()).unwrap().is_none());
    menu.type_into("Mail port", &smtp.port.to_string());
    menu.click("Save mail settings");
    menu.wait_until("saved", |w| w.global::<MailSettings>().get_notice() == 1);
    menu.type_into("Test email address", "owner@example.com");
    menu.click("Send test email");
    menu.wait_until("the test email sent", |w| {
        w.global::<MailSettings>().get_notice() == 2
    });
    assert!(rt.block_on(smtp.nth_message(1)).subject.contains("test"));
    menu.screenshot("21-email-settings");

    // Logged out, a wrong password says how many tries are left and shows the serial and date.
    menu.click("System");
    menu.click("Log out");
    menu.wait_until("logged out, on the live view", |w| {
        !w.global::<Account>().get_logged_in() && w.global::<Shell>().get_screen() == Screen::Home
    });
    menu.right_click(900.0, 500.0);
    menu.click("System");
    menu.type_into("Password", "Wrong-Guess-11");
    menu.click("Log in");
    menu.wait_until("the wrong password refused", |w| {
        w.global::<Account>().get_failure().problem == Problem::LoginFailed
    });
    let identity = rt.block_on(h.nvr.support_identity()).unwrap();
    assert!(
        menu.shows_text("Wrong user name or password. 4 attempts left before the account locks.")
    );
    assert!(menu.shows_text(&format!(
        "For the support desk: serial number {}, date {}.",
        identity.serial, identity.date
    )));
    menu.screenshot("22-login-failed");

    // Forgot password: a code to the reserved email, a new password, and a login with it.
    menu.click("Forgot password");
    menu.wait_until("the ways to a code", |w| {
        w.global::<Account>().get_login_step() == LoginStep::Forgot
    });
    assert_eq!(
        menu.window.global::<Account>().get_masked_email().as_str(),
        "o***@e***.com"
    );
    menu.click("Send code to the reserved email");
    menu.wait_until("the code step", |w| {
        w.global::<Account>().get_forgot_step() == ForgotStep::Code
    });
    let code = rt
        .block_on(smtp.nth_message(2))
        .code(8)
        .expect("an 8-digit code in the email");
    menu.screenshot("23-forgot-code");
    menu.type_into("Verification code", &code);
    menu.click("Verify");
    menu.wait_until("the new-password step", |w| {
        w.global::<Account>().get_forgot_step() == ForgotStep::NewPassword
    });
    menu.type_into("New password", NEW_PASSWORD);
    menu.type_into("Confirm password", NEW_PASSWORD);
    menu.click("Set password");
    menu.wait_until("the password changed", |w| {
        w.global::<Account>().get_forgot_step() == ForgotStep::Done
    });
    menu.click("Back to login");
    menu.type_into("Password", NEW_PASSWORD);
    menu.click("Log in");
    menu.wait_until("logged in with the new password", |w| {
        w.global::<Account>().get_logged_in()
    });
    assert_eq!(menu.window.global::<Shell>().get_screen(), Screen::System);

    // Two-factor login: scan (pyotp plays the app), confirm, recovery codes shown once.
    menu.click("Turn on two-factor login");
    menu.wait_until("the QR code to scan", |w| {
        w.global::<Account>().get_two_factor() == TwoFactorStep::Scanning
    });
    let key = menu
        .window
        .global::<Account>()
        .get_two_factor_key()
        .to_string();
    menu.screenshot("24-two-factor-scan");
    menu.type_into("Authenticator code", &authenticator_code(&python, &key));
    menu.click("Confirm two-factor login");
    menu.wait_until("the recovery codes", |w| {
        w.global::<Account>().get_two_factor() == TwoFactorStep::RecoveryCodes
    });
    let codes: Vec<String> = menu
        .window
        .global::<Account>()
        .get_recovery_codes()
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(codes.len(), 10);
    assert!(menu.shows_text(&codes[0]));
    menu.screenshot("25-recovery-codes");
    menu.click("Recovery codes saved");
    assert!(!menu.shows_text(&codes[0]), "shown only once");
    assert!(rt.block_on(h.nvr.account_status()).unwrap().totp_enabled);

    // The next login asks for the code; a recovery code works.
    menu.click("Log out");
    menu.wait_until("logged out", |w| !w.global::<Account>().get_logged_in());
    menu.right_click(900.0, 500.0);
    menu.click("Device Access");
    menu.type_into("Password", NEW_PASSWORD);
    menu.click("Log in");
    menu.wait_until("the code step", |w| {
        w.global::<Account>().get_login_step() == LoginStep::Code
    });
    menu.type_into("Authenticator code", &codes[3]);
    menu.click("Verify authenticator code");
    menu.wait_until("logged in with the second factor", |w| {
        w.global::<Account>().get_logged_in()
    });
    assert_eq!(
        menu.window.global::<Shell>().get_screen(),
        Screen::DeviceAccess
    );

    // Ten idle minutes end the login: back to the live view, and Settings ask again.
    clock.advance(Duration::from_secs(11 * 60));
    menu.wait_until("the login timed out", |w| {
        !w.global::<Account>().get_logged_in() && w.global::<Shell>().get_screen() == Screen::Home
    });
    assert!(menu.shows_text("The login has timed out. Log in again."));

    // Five wrong passwords lock the account for 30 minutes, and the dialog says how long.
    for _ in 0..5 {
        menu.window
            .global::<Account>()
            .set_failure(vigil::gui::rows::no_failure());
        menu.type_into("Password", "Wrong-Guess-11");
        menu.click("Log in");
        menu.wait_until("refused", |w| {
            let account = w.global::<Account>();
            !account.get_busy() && account.get_failure().problem != Problem::None
        });
    }
    menu.type_into("Password", NEW_PASSWORD);
    menu.click("Log in");
    menu.wait_until("locked", |w| {
        w.global::<Account>().get_failure().problem == Problem::AccountLocked
    });
    assert!(menu.shows_text(
        "Too many wrong passwords: the account is locked. Try again in 30 minutes, or use Forgot password."
    ));
    menu.screenshot("26-locked");
    drop(menu);
    rt.block_on(h.stop());
}

/// The Added and Discovered lists carry the columns installers know (channel, name, IP address,
/// protocol, status, model; IP, model, serial, protocol, security), a drifted clock flagged, at both
/// screen sizes.
#[test]
fn the_lists_show_the_columns_installers_know() {
    for size in [(1920, 1080), (1280, 720)] {
        // Each size on a thread of its own: a thread holds one Slint platform.
        std::thread::spawn(move || lists_at(size))
            .join()
            .expect("the lists at this size");
    }
}

fn lists_at(size: (u32, u32)) {
    let rt = runtime();
    let h = rt.block_on(async {
        let sim = simulator(3, |c| {
            c.clock_offset_secs = 600;
            c.inactive = 1;
        })
        .await;
        let mut settings = crate::support::test_settings(&sim, Duration::from_secs(60));
        // The clock is left off so the list shows it flagged.
        settings.camera_time.sync = vigil::config::TimeSync::Off;
        let h = Harness::start_with(sim, settings, tempfile::tempdir().unwrap()).await;
        h.add(0).await;
        h.discover().await;
        h
    });
    let mut menu = Menu::open(&h, &rt, size);
    menu.open_device_access();
    menu.wait_until("the drifted clock flagged in the list", |w| {
        w.global::<DeviceAccess>()
            .get_added()
            .iter()
            .any(|r| r.clock_drift && r.protocol == "ONVIF")
    });
    assert!(
        (599..=601).any(|s| menu.shows_text(&format!("Clock off {s} s"))),
        "the offset on the row"
    );
    menu.screenshot("i15-s8-added-columns");
    menu.click("Discovered Devices");
    menu.wait_until("three discovered", |w| {
        w.global::<DeviceAccess>().get_discovered().row_count() == 3
    });
    assert!(menu.shows_text("Inactive") && menu.shows_text("Active"));
    menu.screenshot("i15-s8-discovered-columns");
    drop(menu);
    rt.block_on(h.stop());
}

/// IP and maintenance of an added camera, as the installer does it: the dialog reads the camera's
/// network settings, a mask that is not one is refused by name before anything is sent, a new address
/// is saved and the list follows, the clock is set, and reboot and factory defaults each ask first and
/// say what is lost. A discovered camera asks for a login before its settings are shown.
#[test]
fn ip_and_maintenance_of_a_camera() {
    let rt = runtime();
    let (h, camera) = rt.block_on(async {
        let sim = simulator(2, |c| c.clock_offset_secs = 600).await;
        let mut settings = crate::support::test_settings(&sim, Duration::from_secs(60));
        // The clock is left off so the dialog shows it off first.
        settings.camera_time.sync = vigil::config::TimeSync::Off;
        let h = Harness::start_with(sim, settings, tempfile::tempdir().unwrap()).await;
        let camera = h.add(0).await;
        h.discover().await;
        (h, camera)
    });
    let mut menu = Menu::open(&h, &rt, (1920, 1080));
    menu.open_device_access();
    let serial = camera.identity.serial.clone();
    menu.click(&format!("IP and maintenance {serial}"));
    menu.wait_until("the camera's settings read", |w| {
        w.global::<CameraSettings>().get_loaded()
    });
    let old = h.sim.cameras()[0].http_addr().ip().to_string();
    assert_eq!(
        menu.field("Camera IP address")
            .accessible_value()
            .as_deref(),
        Some(old.as_str())
    );
    assert_eq!(
        menu.field("Subnet mask").accessible_value().as_deref(),
        Some("255.255.255.0")
    );
    assert!(
        (599..=601).any(|s| menu.shows_text(&format!(
            "Clock: {s} s off the recorder's, more than the 10 s allowed."
        ))),
        "the clock offset flagged"
    );
    menu.screenshot("i15-s4-ip-and-maintenance");

    let requests = h.sim.cameras()[0].stats().requests;
    menu.type_into("Subnet mask", "255.0.255.0");
    menu.click("Save network settings");
    menu.wait_until("the mask refused", |w| {
        w.global::<Dialog>().get_failure().problem == Problem::InvalidInput
    });
    assert!(menu.shows_text("Subnet mask is not a subnet mask such as 255.255.255.0."));
    assert_eq!(
        h.sim.cameras()[0].stats().requests,
        requests,
        "nothing sent"
    );
    menu.screenshot("i15-s4-bad-mask");

    let new = {
        let mut octets: Vec<&str> = old.split('.').collect();
        octets[3] = "77";
        octets.join(".")
    };
    menu.type_into("Subnet mask", "255.255.255.0");
    menu.type_into("Camera IP address", &new);
    menu.click("Save network settings");
    menu.wait_until("the new address saved", |w| {
        w.global::<CameraSettings>().get_done() == SettingsDone::NetworkSaved
    });
    assert!(menu.shows_text("The camera took the new network settings."));
    menu.wait_until("the list at the new address", |w| {
        w.global::<DeviceAccess>()
            .get_added()
            .iter()
            .any(|r| r.address.starts_with(&format!("{new}:")))
    });

    menu.click("Set time now");
    menu.wait_until("the clock set", |w| {
        w.global::<CameraSettings>().get_done() == SettingsDone::ClockSet
    });
    assert!(
        (-1..=1).any(|s| menu.shows_text(&format!("Clock: {s} s off the recorder's."))),
        "the clock now right"
    );

    menu.click("Restore factory defaults");
    assert!(menu.shows_text("Hard: everything goes back to factory values, network settings, users and passwords too. The camera must be activated again, and may come back at its factory address."));
    menu.screenshot("i15-s7-factory-defaults-confirm");
    menu.click("Back");
    assert!(!h.sim.cameras()[0].is_inactive(), "nothing happened");
    menu.click("Reboot the camera");
    menu.screenshot("i15-s7-reboot-confirm");
    menu.click("Reboot now");
    menu.wait_until("rebooting", |w| {
        w.global::<CameraSettings>().get_done() == SettingsDone::Rebooting
    });
    assert!(menu.shows_text("The camera is rebooting."));
    menu.click("Close");

    // A discovered camera that is not added: a login first.
    menu.click("Discovered Devices");
    let other = h.sim.cameras()[1].identity().serial.clone();
    menu.click(&format!("IP and maintenance {other}"));
    assert!(!menu.window.global::<CameraSettings>().get_loaded());
    menu.type_into("Password", crate::support::CAMERA_PASSWORD);
    menu.click("Log in to the camera");
    menu.wait_until("the discovered camera's settings read", |w| {
        let failure = w.global::<Dialog>().get_failure();
        assert_eq!(failure.problem, Problem::None, "{failure:?}");
        w.global::<CameraSettings>().get_loaded()
    });
    menu.screenshot("i15-s4-discovered-ip");
    menu.click("Close");
    let audit: Vec<_> = rt
        .block_on(h.nvr.audit_log(20))
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    for action in [
        vigil::model::AuditAction::NetworkChanged,
        vigil::model::AuditAction::ClockSet,
        vigil::model::AuditAction::CameraRebooted,
    ] {
        assert!(audit.contains(&action), "{action:?} in {audit:?}");
    }
    drop(menu);
    rt.block_on(h.stop());
}

/// Add by IP with a password the camera refuses is no dead end: the camera is listed by asking its
/// address (no login), and the dialog offers Forget Password for it, which starts the wizard on it.
/// Only the one login was tried.
#[test]
fn add_by_ip_with_a_refused_password_offers_forget_password() {
    let rt = runtime();
    let h = rt.block_on(async {
        let sim = simulator(1, |_| {}).await;
        Harness::start(sim, Duration::from_millis(300)).await
    });
    let mut menu = Menu::open(&h, &rt, (1920, 1080));
    menu.open_device_access();
    let (host, port) = h.address(0);
    menu.click("Add by IP");
    menu.type_into("IP address", &host);
    menu.type_into("Port", &port.to_string());
    menu.type_into("Password", "Not-The-One-38");
    menu.click("Add");
    menu.wait_until("the refusal, with Forget Password offered", |w| {
        let dialog = w.global::<Dialog>();
        dialog.get_failure().problem == Problem::CredentialsRejected
            && !dialog.get_device_key().is_empty()
    });
    assert_eq!(h.sim.cameras()[0].stats().failed_logins, 1, "one login");
    menu.screenshot("i15-s1-3-add-by-ip-refused");
    menu.click("Forget Password for this camera");
    menu.wait_until("the wizard on that camera", |w| {
        let wizard = w.global::<ForgetPassword>();
        wizard.get_step() != WizardStep::Closed
            && wizard.get_serial() == h.sim.cameras()[0].identity().serial.as_str()
    });
    menu.screenshot("i15-s1-3-forget-from-add-by-ip");
    assert_eq!(
        h.sim.cameras()[0].stats().failed_logins,
        1,
        "no login since"
    );
    drop(menu);
    rt.block_on(h.stop());
}

/// Plug and play shows in the menu what it did: a camera it activated and added is in Added Devices,
/// and one whose password is not the default is listed in Discovered Devices, saying so.
#[test]
fn plug_and_play_shows_what_it_did() {
    let rt = runtime();
    let h = rt.block_on(async {
        let sim = simulator(2, |c| c.inactive = 1).await;
        let mut settings = crate::support::test_settings(&sim, Duration::from_millis(300));
        settings.discovery.plug_and_play_interfaces = vec!["lo".into()];
        let h = Harness::start_with(sim, settings, tempfile::tempdir().unwrap()).await;
        h.nvr
            .activate_nvr(
                NVR_PASSWORD,
                NVR_PASSWORD,
                "owner@example.com",
                Some(crate::support::CAMERA_PASSWORD),
                &vigil::model::Actor::System,
            )
            .await
            .expect("the recorder activates with a default camera password");
        h.sim.cameras()[0].set_password_directly("admin", "Another-Pass-93");
        h.discover().await;
        h
    });
    let mut menu = Menu::open_first_boot(&h, &rt, (1920, 1080));
    menu.wait_until("the menu open", |w| {
        w.global::<Account>().get_gate() == Gate::Open
    });
    menu.open_device_access();
    menu.wait_until("the factory-state camera added by plug and play", |w| {
        w.global::<DeviceAccess>()
            .get_added()
            .iter()
            .any(|r| r.status == CameraStatus::Online)
    });
    menu.click("Discovered Devices");
    menu.wait_until("the other camera's outcome shown", |w| {
        w.global::<DeviceAccess>()
            .get_discovered()
            .iter()
            .any(|r| r.plug_and_play == vigil::gui::ui::PlugAndPlay::PasswordRefused)
    });
    assert!(menu.shows_text("Default password refused"));
    menu.screenshot("i15-s3-plug-and-play");
    drop(menu);
    rt.block_on(h.stop());
}

/// A mixed fleet in the menu: Discovered Devices names each camera's protocols (a Hikvision camera
/// with ONVIF on shows both), and a Hikvision camera in factory state is activated with the same
/// wizard as any other, then listed in Added Devices as managed over Hikvision's protocol.
#[test]
fn a_mixed_fleet_in_the_menu_and_a_hikvision_camera_activated_from_it() {
    for size in [(1920, 1080), (1280, 720)] {
        std::thread::spawn(move || mixed_fleet_at(size))
            .join()
            .expect("the mixed fleet at this size");
    }
}

fn mixed_fleet_at(size: (u32, u32)) {
    use vigil::sim::persona::{Persona, PersonaMix};
    let rt = runtime();
    let h = rt.block_on(async {
        let sim = simulator(6, |c| {
            c.persona = PersonaMix::Mixed(vec![Persona::Onvif, Persona::Vigil, Persona::Hikvision]);
            c.inactive = 1;
        })
        .await;
        sim.cameras()[2].set_onvif_enabled(true);
        let mut settings = crate::support::test_settings(&sim, Duration::from_millis(300));
        settings.discovery.vendor_ports = vec![(vigil::model::Protocol::Hikvision, 37020)];
        let h = Harness::start_with(sim, settings, tempfile::tempdir().unwrap()).await;
        h.discover().await;
        h
    });
    let tag = if size.0 == 1920 { "1080" } else { "720" };
    let mut menu = Menu::open(&h, &rt, size);
    menu.open_device_access();
    menu.click("Discovered Devices");
    menu.wait_until("six discovered", |w| {
        w.global::<DeviceAccess>().get_discovered().row_count() == 6
    });
    let rows: Vec<_> = menu
        .window
        .global::<DeviceAccess>()
        .get_discovered()
        .iter()
        .collect();
    let protocol_of = |index: usize| {
        let serial = h.sim.cameras()[index].identity().serial.clone();
        rows.iter()
            .find(|r| r.serial.as_str() == serial)
            .map(|r| r.protocol.to_string())
            .unwrap()
    };
    assert_eq!(protocol_of(0), "ONVIF");
    assert_eq!(protocol_of(1), "ONVIF\nVigil");
    assert_eq!(protocol_of(2), "Hikvision\nONVIF");
    assert_eq!(protocol_of(5), "Hikvision");
    assert!(menu.shows_text("Hikvision") && menu.shows_text("Inactive"));
    menu.screenshot(&format!("i16-mixed-discovered-{tag}"));

    let serial = h.sim.cameras()[5].identity().serial.clone();
    menu.click(&format!("Activate {serial}"));
    menu.type_into("New password", NEW_PASSWORD);
    menu.type_into("Confirm password", NEW_PASSWORD);
    menu.type_into("Reset email", "installer@example.com");
    menu.screenshot(&format!("i16-activate-hikvision-{tag}"));
    menu.click("Activate");
    menu.wait_until("the Hikvision camera activated and added", |w| {
        w.global::<Dialog>().get_kind() == DialogKind::None
            && w.global::<DeviceAccess>()
                .get_added()
                .iter()
                .any(|r| r.protocol == "Hikvision" && r.status == CameraStatus::Online)
    });
    menu.click("Added Devices");
    assert!(menu.shows_text("Hikvision"));
    menu.screenshot(&format!("i16-hikvision-added-{tag}"));
    drop(menu);
    rt.block_on(h.stop());
}

/// A Dahua fleet in the menu, at both sizes: the camera in factory state is activated from Discovered
/// Devices over Dahua's RPC; Forget Password on a Dahua camera that cannot email shows the camera's
/// refusal beside the QR code for DMSS, and the code from the vendor's app resets it and adds it.
#[test]
fn a_dahua_camera_is_activated_and_recovered_from_the_menu() {
    let Some(python) = python_or_skip("the Dahua menu test (it needs a real SMTP server)") else {
        return;
    };
    for size in [(1920, 1080), (1280, 720)] {
        let python = python.clone();
        std::thread::spawn(move || dahua_fleet_at(&python, size))
            .join()
            .expect("the Dahua fleet at this size");
    }
}

fn dahua_fleet_at(python: &str, size: (u32, u32)) {
    use vigil::sim::persona::{Persona, PersonaMix};
    let rt = runtime();
    let smtp = SmtpServer::start(python);
    let h = rt.block_on(async {
        let settings = smtp.settings("camera-noreply@example.com");
        let sim = simulator(3, |c| {
            c.persona = PersonaMix::All(Persona::Dahua);
            c.inactive = 1;
            c.smtp = Some(settings);
        })
        .await;
        sim.cameras()[0].set_internet(false);
        let mut settings = crate::support::test_settings(&sim, Duration::from_millis(300));
        settings.discovery.vendor_ports = vec![(vigil::model::Protocol::Dahua, 37810)];
        let h = Harness::start_with(sim, settings, tempfile::tempdir().unwrap()).await;
        h.discover().await;
        h
    });
    let tag = if size.0 == 1920 { "1080" } else { "720" };
    let mut menu = Menu::open(&h, &rt, size);
    menu.open_device_access();
    menu.click("Discovered Devices");
    menu.wait_until("three discovered", |w| {
        w.global::<DeviceAccess>().get_discovered().row_count() == 3
    });
    let protocols: Vec<String> = menu
        .window
        .global::<DeviceAccess>()
        .get_discovered()
        .iter()
        .map(|r| r.protocol.to_string())
        .collect();
    assert_eq!(
        protocols,
        vec!["Dahua\nONVIF"; 3],
        "seen by DHIP and WS-Discovery"
    );
    assert!(menu.shows_text("Inactive"));
    menu.screenshot(&format!("i16-dahua-discovered-{tag}"));

    let factory = h.sim.cameras()[2].identity().serial.clone();
    menu.click(&format!("Activate {factory}"));
    menu.type_into("New password", NEW_PASSWORD);
    menu.type_into("Confirm password", NEW_PASSWORD);
    menu.type_into("Reset email", "installer@example.com");
    menu.click("Activate");
    menu.wait_until("the Dahua camera initialized and added", |w| {
        w.global::<Dialog>().get_kind() == DialogKind::None
            && w.global::<DeviceAccess>()
                .get_added()
                .iter()
                .any(|r| r.protocol == "Dahua" && r.status == CameraStatus::Online)
    });
    assert!(h.sim.cameras()[2].password_is("admin", NEW_PASSWORD));

    let serial = h.sim.cameras()[0].identity().serial.clone();
    menu.click("Discovered Devices");
    menu.click(&format!("Forget Password {serial}"));
    menu.wait_until("the code step", |w| {
        w.global::<ForgetPassword>().get_step() == WizardStep::GetCode
            && !w.global::<ForgetPassword>().get_busy()
    });
    assert_eq!(
        menu.window
            .global::<ForgetPassword>()
            .get_phone_app()
            .as_str(),
        "DMSS"
    );
    assert!(menu.shows_text(
        "Scan with the DMSS phone app. The code is emailed to the reset email even when the camera has no internet."
    ));
    menu.click("Send Code");
    menu.wait_until("the camera's refusal to email", |w| {
        let fp = w.global::<ForgetPassword>();
        fp.get_failure().problem == Problem::MailFailed && !fp.get_busy()
    });
    menu.screenshot(&format!("i16-dahua-forget-password-qr-{tag}"));

    let payload = h
        .nvr
        .recoveries()
        .into_iter()
        .find_map(|f| f.challenge.map(|c| c.qr_payload))
        .expect("the QR code's payload");
    rt.block_on(h.sim.app_scan(&payload))
        .expect("DMSS scans it");
    let code = rt
        .block_on(smtp.nth_message(1))
        .code(8)
        .expect("an 8-digit code");
    menu.type_on_screen_keyboard("Verification code", &code);
    menu.click("Verify");
    menu.wait_until("the new-password step", |w| {
        w.global::<ForgetPassword>().get_step() == WizardStep::NewPassword
    });
    menu.type_into("New password", NEW_PASSWORD);
    menu.type_into("Confirm password", NEW_PASSWORD);
    menu.click("Set password");
    menu.wait_until("the result", |w| {
        w.global::<ForgetPassword>().get_step() == WizardStep::Done
    });
    assert_eq!(
        menu.window.global::<ForgetPassword>().get_result_status(),
        CameraStatus::Online
    );
    menu.screenshot(&format!("i16-dahua-forget-password-done-{tag}"));
    menu.click("Done");
    assert!(h.sim.cameras()[0].password_is("admin", NEW_PASSWORD));

    // The support desk's way in on another Dahua camera: its password of the day for the serial number
    // and the camera's date shown, then factory defaults, then the new password sets it up.
    let other = h.sim.cameras()[1].clone();
    menu.click(&format!("Forget Password {}", other.identity().serial));
    menu.wait_until("the code step", |w| {
        w.global::<ForgetPassword>().get_step() == WizardStep::GetCode
            && !w.global::<ForgetPassword>().get_busy()
    });
    let date = menu
        .window
        .global::<ForgetPassword>()
        .get_camera_date()
        .to_string();
    menu.type_into("Verification code", &other.vendor_support_code(&date));
    menu.click("Use support code");
    menu.wait_until("the new-password step", |w| {
        w.global::<ForgetPassword>().get_step() == WizardStep::NewPassword
    });
    assert!(menu.shows_text(
        "The camera is restored to factory defaults. Set its new password for user admin; it is set up with it."
    ));
    menu.screenshot(&format!("i16-dahua-support-path-{tag}"));
    menu.type_into("New password", NEW_PASSWORD);
    menu.type_into("Confirm password", NEW_PASSWORD);
    menu.click("Set password");
    menu.wait_until("the result", |w| {
        w.global::<ForgetPassword>().get_step() == WizardStep::Done
    });
    menu.click("Done");
    assert!(other.password_is("admin", NEW_PASSWORD));
    drop(menu);
    rt.block_on(h.stop());
}

/// A Hikvision camera in another subnet, on the camera LAN of a recorder in a private network
/// namespace: Discovered Devices says where it is and offers Edit IP only; the dialog shows what the
/// camera reported after a login, and a new address in the recorder's subnet brings it in, after which
/// it can be added. Needs root for the namespaces; skipped with the reason otherwise.
#[test]
fn edit_ip_brings_in_a_camera_from_another_subnet_in_the_menu() {
    use crate::multicast::{another_subnet_plan, hikvision_in_another_subnet};
    if !vigil::sim::netns::can_isolate() {
        eprintln!("SKIPPED the menu's Edit IP across subnets: network namespaces need root");
        return;
    }
    // Each size on its own camera LAN (the camera moves), its menu on the recorder side's thread.
    for size in [(1920, 1080), (1280, 720)] {
        let (camera_tx, camera_rx) = std::sync::mpsc::channel();
        let outcome = vigil::sim::netns::isolated_lan(
            another_subnet_plan(),
            move |done| hikvision_in_another_subnet(done, camera_tx),
            move || -> Result<(), String> {
                camera_rx.recv().map_err(|e| e.to_string())??;
                edit_ip_across_subnets_at(size)
            },
        );
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(e)) | Err(e) => panic!("{e}"),
        }
    }
}

fn edit_ip_across_subnets_at(size: (u32, u32)) -> Result<(), String> {
    use crate::multicast::{FACTORY_ADDRESS, recorder_on_the_camera_lan};
    let rt = runtime();
    let h = rt.block_on(recorder_on_the_camera_lan())?;
    let tag = if size.0 == 1920 { "1080" } else { "720" };
    let mut menu = Menu::open(&h, &rt, size);
    menu.open_device_access();
    menu.click("Discovered Devices");
    menu.click("Refresh");
    menu.wait_until("the camera in another subnet listed", |w| {
        w.global::<DeviceAccess>()
            .get_discovered()
            .iter()
            .any(|r| !r.other_subnet.is_empty())
    });
    let row = menu
        .window
        .global::<DeviceAccess>()
        .get_discovered()
        .iter()
        .find(|r| !r.other_subnet.is_empty())
        .ok_or("no row")?;
    assert_eq!(row.other_subnet.as_str(), format!("{FACTORY_ADDRESS}/24"));
    let serial = row.serial.to_string();
    assert!(menu.shows_text("In another subnet"));
    assert_eq!(menu.count_buttons(&format!("Add {serial}")), 0);
    assert_eq!(menu.count_buttons(&format!("Forget Password {serial}")), 0);
    menu.screenshot(&format!("i16-other-subnet-listed-{tag}"));

    menu.click(&format!("Edit IP {serial}"));
    menu.type_into("Password", crate::support::CAMERA_PASSWORD);
    menu.click("Log in to the camera");
    menu.wait_until("what the camera reported", |w| {
        w.global::<CameraSettings>().get_loaded()
    });
    assert_eq!(
        menu.field("Camera IP address")
            .accessible_value()
            .as_deref(),
        Some(FACTORY_ADDRESS.to_string().as_str())
    );
    menu.type_into("Camera IP address", "10.77.0.21");
    menu.type_into("Gateway", "10.77.0.1");
    menu.screenshot(&format!("i16-other-subnet-edit-ip-{tag}"));
    menu.click("Save network settings");
    menu.wait_until("the new address saved", |w| {
        w.global::<CameraSettings>().get_done() == SettingsDone::NetworkSaved
            || w.global::<Dialog>().get_failure().problem != Problem::None
    });
    let failure = menu.window.global::<Dialog>().get_failure();
    assert_eq!(failure.problem, Problem::None, "{failure:?}");
    menu.click("Close");
    menu.wait_until("the camera at its new address, addable", |w| {
        w.global::<DeviceAccess>()
            .get_discovered()
            .iter()
            .any(|r| r.address.starts_with("10.77.0.21:") && r.other_subnet.is_empty())
    });
    assert_eq!(menu.count_buttons(&format!("Add {serial}")), 1);
    menu.screenshot(&format!("i16-other-subnet-moved-{tag}"));
    drop(menu);
    rt.block_on(h.stop());
    Ok(())
}
