//! What a reload (SIGHUP) may change: which keys differ between two files, and which of those only
//! a restart applies.

use super::Config;

/// Keys read only when vigild starts: a reload (SIGHUP) that changes them keeps the running value and
/// says a restart is needed. Every other key applies at once.
pub const RESTART_ONLY_KEYS: &[&str] = &[
    "discovery.multicast",
    "discovery.interfaces",
    "discovery.listen_announcements",
    "discovery.announcement_address",
    "discovery.on_start",
    "discovery.identify_concurrency",
    "cameras.request_timeout_ms",
    "dbus.bus",
    "dbus.read_group",
    "dbus.admin_group",
];

impl Config {
    /// The dotted keys (`cameras.monitor_period_ms`) whose values differ between `self` and `other`,
    /// in file order. A key left out of a file counts as its default.
    pub fn changed_keys(&self, other: &Config) -> Vec<String> {
        let (mine, theirs) = (self.keyed_values(), other.keyed_values());
        mine.iter()
            .filter(|(key, value)| {
                theirs.iter().find(|(k, _)| k == key).map(|(_, v)| v) != Some(value)
            })
            .map(|(key, _)| key.clone())
            .collect()
    }

    /// `self`, with the values of `keys` taken from `other`.
    pub fn with_values_of(&self, other: &Config, keys: &[String]) -> Config {
        let mut table = self.as_table();
        let theirs = other.as_table();
        for key in keys {
            let Some((section, name)) = key.split_once('.') else {
                continue;
            };
            let value = theirs
                .get(section)
                .and_then(toml::Value::as_table)
                .and_then(|t| t.get(name))
                .cloned();
            if let (Some(value), Some(toml::Value::Table(target))) = (value, table.get_mut(section))
            {
                target.insert(name.to_owned(), value);
            }
        }
        // The table came from a Config and only values of the same keys were swapped in.
        toml::Value::Table(table)
            .try_into()
            .unwrap_or_else(|_| self.clone())
    }

    fn as_table(&self) -> toml::Table {
        toml::Table::try_from(self).unwrap_or_default()
    }

    fn keyed_values(&self) -> Vec<(String, toml::Value)> {
        let mut keyed = Vec::new();
        for (section, values) in self.as_table() {
            if let toml::Value::Table(values) = values {
                for (name, value) in values {
                    keyed.push((format!("{section}.{name}"), value));
                }
            }
        }
        keyed
    }
}
