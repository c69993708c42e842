//! Which vendor's camera a simulated camera plays: a plain ONVIF camera, a camera with Vigil's recovery
//! extension (the simulator's own, and the default), a Hikvision camera (SADP, ISAPI with Digest, ONVIF
//! off until turned on), or a Dahua camera (DHIP; its JSON RPC as far as this build has it). A fleet
//! may mix them.

use std::fmt;

/// One camera's part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Persona {
    /// ONVIF only: no recovery extension, activation by Profile Q's CreateUsers.
    Onvif,
    /// ONVIF with Vigil's recovery extension.
    Vigil,
    /// Hikvision: SADP and ISAPI; ONVIF off in factory state and until turned on.
    Hikvision,
    /// Dahua: DHIP and the calls made before a login; ONVIF on.
    Dahua,
}

impl Persona {
    /// The stable name, as `--persona` takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Persona::Onvif => "onvif",
            Persona::Vigil => "vigil",
            Persona::Hikvision => "hikvision",
            Persona::Dahua => "dahua",
        }
    }

    /// Whether it answers the ONVIF device service and WS-Discovery from the start.
    pub fn onvif_at_start(self) -> bool {
        !matches!(self, Persona::Hikvision)
    }
}

impl fmt::Display for Persona {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The parts a fleet's cameras play: one for all, or each in turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PersonaMix {
    /// Every camera plays this one.
    All(Persona),
    /// Camera i plays the (i mod n)th of these.
    Mixed(Vec<Persona>),
}

impl Default for PersonaMix {
    fn default() -> Self {
        PersonaMix::All(Persona::Vigil)
    }
}

impl PersonaMix {
    /// The part of camera `index`.
    pub fn for_camera(&self, index: usize) -> Persona {
        match self {
            PersonaMix::All(persona) => *persona,
            PersonaMix::Mixed(list) if list.is_empty() => Persona::Vigil,
            PersonaMix::Mixed(list) => list[index % list.len()],
        }
    }

    /// Reads `--persona`: `onvif`, `vigil`, `hikvision`, `dahua`, `mixed` (each in turn), or a comma
    /// list.
    pub fn parse(text: &str) -> Result<Self, String> {
        let one = |word: &str| match word.trim().to_ascii_lowercase().as_str() {
            "onvif" => Ok(Persona::Onvif),
            "vigil" => Ok(Persona::Vigil),
            "hikvision" => Ok(Persona::Hikvision),
            "dahua" => Ok(Persona::Dahua),
            other => Err(format!(
                "'{other}' is not a persona; use onvif, vigil, hikvision, dahua or mixed"
            )),
        };
        let text = text.trim();
        if text.eq_ignore_ascii_case("mixed") {
            return Ok(PersonaMix::Mixed(vec![
                Persona::Onvif,
                Persona::Vigil,
                Persona::Hikvision,
                Persona::Dahua,
            ]));
        }
        if text.contains(',') {
            let list = text.split(',').map(one).collect::<Result<Vec<_>, _>>()?;
            return Ok(PersonaMix::Mixed(list));
        }
        one(text).map(PersonaMix::All)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mixed_fleet_plays_each_part_in_turn() {
        let mix = PersonaMix::parse("mixed").unwrap();
        assert_eq!(mix.for_camera(0), Persona::Onvif);
        assert_eq!(mix.for_camera(2), Persona::Hikvision);
        assert_eq!(mix.for_camera(3), Persona::Dahua);
        assert_eq!(mix.for_camera(4), Persona::Onvif);
        assert_eq!(
            PersonaMix::parse("hikvision,vigil").unwrap().for_camera(1),
            Persona::Vigil
        );
        assert!(PersonaMix::parse("axis").is_err());
        assert_eq!(PersonaMix::default().for_camera(7), Persona::Vigil);
    }
}
