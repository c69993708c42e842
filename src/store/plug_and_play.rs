//! The plug-and-play attempts' SQL: which cameras were tried with the default camera password.

use std::time::SystemTime;

use rusqlite::params;

use super::{StoreError, Tx};
use crate::clock::unix_secs;

impl Tx<'_> {
    /// Records that plug and play tries `camera` now; false when it was tried before (then it must
    /// not be tried again).
    pub fn first_plug_in_attempt(&self, camera: &str, at: SystemTime) -> Result<bool, StoreError> {
        let inserted = self.tx.execute(
            "INSERT INTO plug_and_play_attempt (camera, at) VALUES (?1, ?2) ON CONFLICT (camera) DO NOTHING",
            params![camera, unix_secs(at)],
        )?;
        Ok(inserted == 1)
    }
}
