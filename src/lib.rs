//! Vigil: the camera-access daemon of a network video recorder.
//!
//! One core, thin faces. The map:
//!
//! - [`clock`]: wall-clock time behind a trait, with a simulated clock for exact tests.
//! - [`sim`]: `vigil-camsim`, the simulated ONVIF cameras shipped for demos, tests and benchmarks.

pub mod camera;
pub mod clock;
pub mod sim;
