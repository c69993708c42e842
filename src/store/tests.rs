//! The registry's tests: files and modes, crash safety, every upgrade step against `schema.sql`,
//! uniqueness, and camera records.

use super::*;
use crate::clock::from_unix_secs;
use crate::model::{CameraState, ReasonKind, StatusReason};
use secrecy::ExposeSecret;
use std::sync::Arc;

fn status() -> CameraStatus {
    CameraStatus {
        state: CameraState::Online,
        credentials_rejected: false,
        last_error: None,
        last_error_at: None,
        since: from_unix_secs(1_790_000_000),
    }
}

fn insert(store: &Store, host: &str, serial: &str) -> Result<CameraId, StoreError> {
    insert_on_channels(store, host, serial, 256).map(|(id, _channel)| id)
}

/// Adds a camera with the recorder's channel count `channels`; its id and the channel it took.
fn insert_on_channels(
    store: &Store,
    host: &str,
    serial: &str,
    channels: u16,
) -> Result<(CameraId, u16), StoreError> {
    let address = DeviceAddress::new(host, 80).unwrap();
    let identity = DeviceIdentity {
        manufacturer: "Acme".into(),
        model: "X".into(),
        firmware: "1".into(),
        serial: serial.into(),
        mac: None,
    };
    store.write(|tx| {
        tx.insert_added_camera(&NewCamera {
            address: &address,
            endpoint_ref: None,
            identity: &identity,
            credentials: &Credentials::new("admin", "Harbor-Lamp-62"),
            status: &status(),
            clock_offset_secs: 0,
            added_at: from_unix_secs(1_790_000_000),
            channels,
            protocol: crate::model::Protocol::Onvif,
        })
    })
}

/// The tables and indexes of a database, with whitespace normalized, for comparing schemas.
fn schema_of(conn: &Connection) -> Vec<(String, String, String)> {
    let mut statement = conn
        .prepare(
            "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY type, name",
        )
        .unwrap();
    statement
        .query_map([], |r| {
            let sql: String = r.get(2)?;
            Ok((
                r.get(0)?,
                r.get(1)?,
                sql.split_whitespace().collect::<Vec<_>>().join(" "),
            ))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Rows a database of `version` would hold, written with that version's own columns.
fn seed_fixture(conn: &Connection, version: u32) {
    if version >= 8 {
        conn.execute_batch(
            "INSERT INTO added_camera (host, port, service_path, manufacturer, model, serial, username,
                 password_sealed, credentials_rejected, state, state_since, last_error_words,
                 last_error_kind, last_error_at, added_at)
             VALUES ('10.0.0.9', 80, '/onvif/device_service', 'Acme', 'X', 'OLD1', 'admin', x'00', 1,
                 'not_certified', 1700000000, 'Timestamp is stale', 'clock_rejected', 1700000000,
                 1700000000)",
        )
        .unwrap();
    } else if version >= 1 {
        conn.execute_batch(
            "INSERT INTO added_camera (host, port, service_path, manufacturer, model, serial, username,
                 password_sealed, credentials_rejected, state, state_since, last_error, last_error_at, added_at)
             VALUES ('10.0.0.9', 80, '/onvif/device_service', 'Acme', 'X', 'OLD1', 'admin', x'00', 1,
                 'not_certified', 1700000000,
                 'The camera refused the login because its clock is off (Timestamp is stale). Set the camera''s date and time or turn on NTP, then edit the credentials to try again. The NVR will not retry them until then.',
                 1700000000, 1700000000)",
        )
        .unwrap();
    }
}

#[test]
fn schema_sql_is_what_the_migrations_build() {
    let mut conn = Connection::open_in_memory().unwrap();
    build_schema_version(&mut conn, SCHEMA_VERSION).unwrap();
    let reference = Connection::open_in_memory().unwrap();
    reference.execute_batch(SCHEMA_SQL).unwrap();
    assert_eq!(schema_of(&conn), schema_of(&reference));
}

#[test]
fn every_earlier_version_upgrades_to_the_current_schema_keeping_its_rows() {
    let reference = Connection::open_in_memory().unwrap();
    reference.execute_batch(SCHEMA_SQL).unwrap();
    for from in 0..SCHEMA_VERSION {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut conn = Connection::open(dir.path().join(DATABASE_FILE)).unwrap();
            build_schema_version(&mut conn, from).unwrap();
            seed_fixture(&conn, from);
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(
            store.schema_version().unwrap(),
            SCHEMA_VERSION,
            "from version {from}"
        );
        assert_eq!(
            schema_of(&store.conn()),
            schema_of(&reference),
            "from version {from}"
        );
        let cameras = store.write(|tx| tx.load_added_cameras()).unwrap();
        if from >= 1 {
            assert_eq!(cameras.len(), 1, "rows survive the upgrade from {from}");
            assert_eq!(cameras[0].camera.identity.serial, "OLD1");
            assert!(
                cameras[0].credentials.is_none(),
                "an undecryptable password is not invented"
            );
            assert_eq!(
                cameras[0].camera.status.last_error,
                Some(StatusReason::with_words(
                    ReasonKind::ClockRejected,
                    "Timestamp is stale"
                )),
                "the English sentence of an earlier build reads back as a kind and the camera's words (from {from})"
            );
            if from < 9 {
                assert_eq!(
                    cameras[0].camera.channel,
                    Some(1),
                    "a camera added before channels takes channel 1 (from {from})"
                );
            }
        }
    }
}

#[test]
fn files_are_private_and_passwords_sealed() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let store = Store::open(&state).unwrap();
    insert(&store, "10.0.0.1", "S1").unwrap();
    assert_eq!(
        fs::metadata(&state).unwrap().permissions().mode() & 0o777,
        0o700
    );
    for file in [DATABASE_FILE, secret::KEY_FILE] {
        let mode = fs::metadata(state.join(file)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{file}");
    }
    drop(store);
    for entry in fs::read_dir(&state).unwrap() {
        let bytes = fs::read(entry.unwrap().path()).unwrap();
        assert!(
            !bytes.windows(14).any(|w| w == b"Harbor-Lamp-62"),
            "password in clear on disk"
        );
    }
    let reopened = Store::open(&state).unwrap();
    let cameras = reopened.write(|tx| tx.load_added_cameras()).unwrap();
    let creds = cameras[0].credentials.as_ref().unwrap();
    assert_eq!(creds.password.expose_secret(), "Harbor-Lamp-62");
}

#[test]
fn a_state_dir_that_is_a_link_shared_or_someone_elses_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let message = |path: &Path| match Store::open(path) {
        Err(error @ StoreError::StateDir { .. }) => error.to_string(),
        other => panic!("{} was accepted: {other:?}", path.display()),
    };

    // A symbolic link to a directory is not followed, even to a good one.
    let real = dir.path().join("real");
    fs::create_dir(&real).unwrap();
    fs::set_permissions(&real, fs::Permissions::from_mode(0o700)).unwrap();
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let refused = message(&link);
    assert!(refused.contains(&link.display().to_string()), "{refused}");
    assert!(refused.contains("symbolic link"), "{refused}");
    assert!(
        fs::read_dir(&real).unwrap().next().is_none(),
        "nothing written through the link"
    );

    // A directory others may write to is refused, not taken over.
    let shared = dir.path().join("shared");
    fs::create_dir(&shared).unwrap();
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o777)).unwrap();
    let refused = message(&shared);
    assert!(refused.contains(&shared.display().to_string()), "{refused}");
    assert!(refused.contains("writable by group or others"), "{refused}");
    assert_eq!(
        fs::metadata(&shared).unwrap().permissions().mode() & 0o777,
        0o777,
        "left as it was"
    );

    // A directory of another user (only root can make one to test with).
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        let theirs = dir.path().join("theirs");
        fs::create_dir(&theirs).unwrap();
        fs::set_permissions(&theirs, fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::chown(&theirs, Some(4242), Some(4242)).unwrap();
        let refused = message(&theirs);
        assert!(refused.contains(&theirs.display().to_string()), "{refused}");
        assert!(refused.contains("owned by uid 4242"), "{refused}");
    }

    // The real directory itself is fine, and a group-readable one is made private.
    fs::set_permissions(&real, fs::Permissions::from_mode(0o750)).unwrap();
    Store::open(&real).unwrap();
    assert_eq!(
        fs::metadata(&real).unwrap().permissions().mode() & 0o777,
        0o700
    );
}

#[test]
fn reads_run_beside_an_open_write_and_cannot_write() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    insert(&store, "10.0.0.1", "S1").unwrap();
    let (started_tx, started) = std::sync::mpsc::channel();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let writer = {
        let store = store.clone();
        std::thread::spawn(move || {
            store.write(|tx| {
                let id = tx.insert_added_camera(&NewCamera {
                    address: &DeviceAddress::new("10.0.0.2", 80).unwrap(),
                    endpoint_ref: None,
                    identity: &DeviceIdentity::default(),
                    credentials: &Credentials::new("admin", "Harbor-Lamp-62"),
                    status: &status(),
                    clock_offset_secs: 0,
                    added_at: from_unix_secs(1_790_000_000),
                    channels: 256,
                    protocol: crate::model::Protocol::Hikvision,
                })?;
                started_tx.send(()).unwrap();
                released.recv().unwrap();
                Ok(id)
            })
        })
    };
    started.recv().unwrap();
    // The write transaction is open: a read neither waits for it nor sees its uncommitted row.
    let (done_tx, done) = std::sync::mpsc::channel();
    {
        let store = store.clone();
        std::thread::spawn(move || {
            done_tx.send(store.read(|tx| tx.load_added_cameras()).map(|c| c.len()))
        });
    }
    let seen = done
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("the read finished while the write was open");
    assert_eq!(seen.unwrap(), 1);
    release.send(()).unwrap();
    writer.join().unwrap().unwrap();
    assert_eq!(store.read(|tx| tx.load_added_cameras()).unwrap().len(), 2);
    assert!(
        store
            .read(|tx| tx.remove_added_camera(CameraId(1)))
            .is_err(),
        "the reading connection cannot write"
    );
    assert_eq!(store.write(|tx| tx.load_added_cameras()).unwrap().len(), 2);
}

#[test]
fn duplicates_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    insert(&store, "10.0.0.1", "S1").unwrap();
    assert!(matches!(
        insert(&store, "10.0.0.1", "S2"),
        Err(StoreError::Duplicate(DuplicateOf::Address))
    ));
    assert!(matches!(
        insert(&store, "10.0.0.2", "S1"),
        Err(StoreError::Duplicate(DuplicateOf::Serial))
    ));
    assert_eq!(store.write(|tx| tx.load_added_cameras()).unwrap().len(), 1);
}

#[test]
fn a_newer_database_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    {
        let conn = Connection::open(dir.path().join(DATABASE_FILE)).unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
    }
    assert!(matches!(
        Store::open(dir.path()),
        Err(StoreError::TooNew { .. })
    ));
    let conn = Connection::open(dir.path().join(DATABASE_FILE)).unwrap();
    let v: u32 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, SCHEMA_VERSION + 1);
}

#[test]
fn status_updates_persist_and_removal_reports_absence() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let id = insert(&store, "10.0.0.1", "S1").unwrap();
    let rejected = CameraStatus {
        state: CameraState::NotCertified,
        credentials_rejected: true,
        last_error: Some(StatusReason::with_words(
            ReasonKind::Refused,
            "Sender not authorized",
        )),
        last_error_at: Some(from_unix_secs(1_790_000_100)),
        since: from_unix_secs(1_790_000_100),
    };
    store
        .write(|tx| tx.update_status(id, &rejected, Some(7)))
        .unwrap();
    let loaded = store.write(|tx| tx.load_added_cameras()).unwrap();
    assert_eq!(loaded[0].camera.status, rejected);
    assert_eq!(loaded[0].camera.clock_offset_secs, 7);
    assert!(store.write(|tx| tx.remove_added_camera(id)).unwrap());
    assert!(!store.write(|tx| tx.remove_added_camera(id)).unwrap());
    assert!(matches!(
        store.write(|tx| tx.update_status(id, &rejected, None)),
        Err(StoreError::NotFound(_))
    ));
}

#[test]
fn a_camera_takes_the_lowest_free_channel_and_none_past_the_count() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let add = |host: &str, serial: &str, channels: u16| {
        insert_on_channels(&store, host, serial, channels)
    };
    let (first, one) = add("10.0.0.1", "S1", 2).unwrap();
    let (_, two) = add("10.0.0.2", "S2", 2).unwrap();
    assert_eq!((one, two), (1, 2));
    assert!(matches!(
        add("10.0.0.3", "S3", 2),
        Err(StoreError::NoFreeChannel(2))
    ));
    assert!(matches!(
        store.write(|tx| tx.set_camera_channel(first, 2)),
        Err(StoreError::Duplicate(DuplicateOf::Channel))
    ));
    store.write(|tx| tx.set_camera_channel(first, 5)).unwrap();
    let (_, reused) = add("10.0.0.3", "S3", 2).unwrap();
    assert_eq!(reused, 1, "the channel the moved camera left is free again");
    let second = store
        .write(|tx| tx.load_added_cameras())
        .unwrap()
        .into_iter()
        .find(|c| c.camera.channel == Some(2))
        .map(|c| c.camera.id)
        .unwrap();
    // A swap in one step: the one camera per channel rule never sees it half done.
    store
        .write(|tx| tx.assign_channels(&[(first, 2), (second, 5)]))
        .unwrap();
    store
        .write(|tx| tx.assign_channels(&[(first, 5), (second, 2)]))
        .unwrap();
    store.write(|tx| tx.set_camera_name(first, "Gate")).unwrap();
    let loaded = store.write(|tx| tx.load_added_cameras()).unwrap();
    let gate = loaded.iter().find(|c| c.camera.id == first).unwrap();
    assert_eq!(
        (gate.camera.channel, gate.camera.name.as_str()),
        (Some(5), "Gate")
    );
}

#[test]
fn a_new_password_on_its_way_is_sealed_until_the_credentials_are_stored() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let id = insert(&store, "127.0.0.1", "SN1").unwrap();
    let new = secrecy::SecretString::from("Quiet-Falcon-83".to_owned());
    store
        .write(|tx| tx.set_pending_password(id, "admin", Some(&new)))
        .unwrap();
    let raw: Vec<u8> = store
        .conn()
        .query_row(
            "SELECT pending_password_sealed FROM added_camera WHERE id = ?1",
            [id.0],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        !raw.windows(15).any(|w| w == b"Quiet-Falcon-83"),
        "never in clear"
    );
    drop(store);

    // It survives a reopen, opens with the key, and is one more sealed value an inspection tries.
    let store = Store::open(dir.path()).unwrap();
    let cameras = store.write(|tx| tx.load_added_cameras()).unwrap();
    assert_eq!(
        cameras[0]
            .pending_password
            .as_ref()
            .unwrap()
            .expose_secret(),
        "Quiet-Falcon-83"
    );
    assert_eq!(
        cameras[0]
            .credentials
            .as_ref()
            .unwrap()
            .password
            .expose_secret(),
        "Harbor-Lamp-62",
        "the stored password is untouched"
    );
    let found = inspect(dir.path()).unwrap();
    assert_eq!(found.sealed_values, 2);
    assert!(found.undecryptable.is_empty());

    // Storing the camera's credentials forgets it in the same transaction; so does forgetting it.
    let camera = &cameras[0].camera;
    store
        .write(|tx| {
            tx.update_credentials(
                id,
                &Credentials::new("admin", "Quiet-Falcon-83"),
                &camera.identity,
                &camera.status,
                0,
            )
        })
        .unwrap();
    let cameras = store.write(|tx| tx.load_added_cameras()).unwrap();
    assert!(cameras[0].pending_password.is_none());
    store
        .write(|tx| tx.set_pending_password(id, "admin", Some(&new)))
        .unwrap();
    store
        .write(|tx| tx.set_pending_password(id, "admin", None))
        .unwrap();
    let cameras = store.write(|tx| tx.load_added_cameras()).unwrap();
    assert!(cameras[0].pending_password.is_none());
    assert!(matches!(
        store.write(|tx| tx.set_pending_password(CameraId(99), "admin", None)),
        Err(StoreError::NotFound(_))
    ));
}
