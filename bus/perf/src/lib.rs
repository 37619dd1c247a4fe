//! vbus-perf: the benchmark tool that puts vbus side by side with raw zenoh (same version), raw
//! iceoryx2 (the floor of vbus's same-host path), plain UDP over loopback and CycloneDDS
//! `ddsperf`. See `BENCHMARKS.md` at the workspace root.
//!
//! The library part holds what the binary and the allocation test share: the benchmark payload
//! type, the session configurations, the raw iceoryx2 ports and the measurement helpers.

pub mod config;
pub mod iox;
pub mod measure;
pub mod payload;
