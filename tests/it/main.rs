//! The integration suite, built as one binary: real sockets to the camera simulator, real SQLite files,
//! real processes. Each module covers one capability.

mod camera_layer;
mod support;
