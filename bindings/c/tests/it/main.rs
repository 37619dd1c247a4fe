//! Tests of the C and C++ API: the header is cbindgen's current output, and C and C++
//! programs built against the installed SDK (scripts/install-c.sh) run on loopback with Rust
//! peers.

mod header;
mod interop;
mod readme;
mod sdk;
