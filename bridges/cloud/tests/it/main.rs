//! Integration tests of vbus-cloud (one binary, modules by theme).

mod daemon;
mod downlink;
mod fields;
mod fixtures;
mod harness;
mod rules;
mod store;
mod tls;
mod uplink;
