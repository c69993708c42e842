//! The recorder's own settings' SQL: one row per setting, read and replaced by name.

use rusqlite::{OptionalExtension, params};

use super::{StoreError, Tx};

/// A setting the recorder keeps; the names in the database are fixed here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NvrSetting {
    /// The on-screen menu's language (`en`, `ru`).
    MenuLanguage,
    /// The recorder's serial number, made once at first start when the hardware gives none.
    Serial,
    /// The support code's day: its date, the wrong entries that day, and whether its code was used.
    SupportDay,
}

impl NvrSetting {
    fn name(self) -> &'static str {
        match self {
            NvrSetting::MenuLanguage => "menu_language",
            NvrSetting::Serial => "serial",
            NvrSetting::SupportDay => "support_day",
        }
    }
}

impl Tx<'_> {
    /// A setting's value, if it was ever set.
    pub fn nvr_setting(&self, setting: NvrSetting) -> Result<Option<String>, StoreError> {
        Ok(self
            .tx
            .query_row(
                "SELECT value FROM nvr_setting WHERE name = ?1",
                params![setting.name()],
                |row| row.get(0),
            )
            .optional()?)
    }

    /// Sets a setting unless it is set already; the value it has afterwards.
    pub fn nvr_setting_or_insert(
        &self,
        setting: NvrSetting,
        value: &str,
    ) -> Result<String, StoreError> {
        self.tx.execute(
            "INSERT INTO nvr_setting (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
            params![setting.name(), value],
        )?;
        Ok(self.tx.query_row(
            "SELECT value FROM nvr_setting WHERE name = ?1",
            params![setting.name()],
            |row| row.get(0),
        )?)
    }

    /// Sets a setting, replacing its old value.
    pub fn set_nvr_setting(&self, setting: NvrSetting, value: &str) -> Result<(), StoreError> {
        self.tx.execute(
            "INSERT INTO nvr_setting (name, value) VALUES (?1, ?2)
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            params![setting.name(), value],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn a_setting_is_kept_across_a_reopen_and_replaced_in_place() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            assert_eq!(
                store
                    .read(|tx| tx.nvr_setting(NvrSetting::MenuLanguage))
                    .unwrap(),
                None
            );
            store
                .write(|tx| tx.set_nvr_setting(NvrSetting::MenuLanguage, "ru"))
                .unwrap();
            store
                .write(|tx| tx.set_nvr_setting(NvrSetting::MenuLanguage, "en"))
                .unwrap();
            store
                .write(|tx| tx.set_nvr_setting(NvrSetting::MenuLanguage, "ru"))
                .unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(
            store
                .read(|tx| tx.nvr_setting(NvrSetting::MenuLanguage))
                .unwrap(),
            Some("ru".to_owned())
        );
    }
}
