//! The configuration's tests: defaults, refusals naming the key, reload rules.

use std::time::Duration;

use super::*;

#[test]
fn an_empty_file_means_every_default() {
    let config = Config::parse("", "test").unwrap();
    assert_eq!(config, Config::default());
    let settings = config.resolve("test").unwrap();
    assert_eq!(settings.monitor.period, Duration::from_secs(10));
    assert!(settings.discovery.multicast);
}

#[test]
fn unknown_keys_and_bad_types_name_the_key() {
    let e = Config::parse("[discovery]\nmulticats = true\n", "f.toml").unwrap_err();
    assert_eq!(e.key, "discovery.multicats");
    assert!(e.problem.contains("unknown field"), "{e}");
    let e = Config::parse("[cameras]\nmonitor_period_ms = \"fast\"\n", "f.toml").unwrap_err();
    assert_eq!(e.key, "cameras.monitor_period_ms");
    let e = Config::parse("[cameras\n", "f.toml").unwrap_err();
    assert!(e.to_string().starts_with("f.toml: "), "{e}");
}

#[test]
fn values_are_checked_with_the_key_named() {
    let bad = |toml: &str| {
        Config::parse(toml, "f")
            .unwrap()
            .resolve("f")
            .unwrap_err()
            .key
    };
    assert_eq!(
        bad("[cameras]\nmonitor_period_ms = 0\n"),
        "cameras.monitor_period_ms"
    );
    assert_eq!(
        bad("[discovery]\nunicast_targets = [\"10.0.0.9-10.0.0.1\"]\n"),
        "discovery.unicast_targets[0]"
    );
    assert_eq!(
        bad("[discovery]\nannouncement_address = \"nowhere\"\n"),
        "discovery.announcement_address"
    );
    assert_eq!(
        bad("[cameras]\nmonitor_period_ms = 5000\noffline_backoff_max_ms = 1000\n"),
        "cameras.offline_backoff_max_ms"
    );
    assert_eq!(bad("[log]\nlevel = \"loud=[\"\n"), "log.level");
    assert_eq!(bad("[dbus]\nbus = \"the-bus\"\n"), "dbus.bus");
    assert_eq!(bad("[dbus]\nadmin_group = \"a b\"\n"), "dbus.admin_group");
    assert_eq!(
        bad("[discovery]\ninterfaces = [\"eth 0\"]\n"),
        "discovery.interfaces[0]"
    );
}

#[test]
fn a_missing_default_file_is_fine_but_a_missing_explicit_one_is_not() {
    let missing = Path::new("/nonexistent/vigild.toml");
    assert_eq!(Config::load(missing, false).unwrap(), Config::default());
    assert_eq!(Config::load(missing, true).unwrap_err().key, "file");
}

#[test]
fn a_reload_sees_which_keys_changed_and_can_keep_the_running_values_of_some() {
    let running = Config::parse(
        "[cameras]\nmonitor_period_ms = 5000\n[dbus]\nbus = \"session\"\n",
        "running",
    )
    .unwrap();
    // Left out of the new file: monitor_period_ms goes back to its default, which is a change.
    let new = Config::parse(
        "[dbus]\nbus = \"none\"\n[log]\nlevel = \"debug\"\n[discovery]\nport = 3702\n",
        "new",
    )
    .unwrap();
    assert_eq!(
        running.changed_keys(&new),
        ["cameras.monitor_period_ms", "dbus.bus", "log.level"]
    );
    assert!(running.changed_keys(&running.clone()).is_empty());
    let kept = new.with_values_of(&running, &["dbus.bus".to_owned()]);
    assert_eq!(kept.dbus.bus, "session");
    assert_eq!(kept.log.level, "debug");
    assert_eq!(kept.cameras.monitor_period_ms, 10_000);
    assert!(RESTART_ONLY_KEYS.contains(&"dbus.bus"));
    for key in RESTART_ONLY_KEYS {
        let (section, name) = key.split_once('.').unwrap();
        let table = toml::Table::try_from(Config::default()).unwrap();
        assert!(
            table[section].as_table().unwrap().contains_key(name),
            "{key} is a real key"
        );
    }
}
