//! Integration tests of the `vbus` command (one binary, see ARCHITECTURE "Tests").
//!
//! Every test runs the real `vbus` executable against nodes in other processes: an in-test
//! router on an ephemeral loopback port, helper nodes that are this test binary re-executed with
//! `VBUS_CHILD_ROLE` (`child.rs`), and in-test peers that check what `vbus` published.
//! Every process uses explicit 127.0.0.1 endpoints; every wait has a watchdog.

mod call;
mod child;
mod doctor;
mod echo_pub;
mod errors;
mod foxglove;
mod harness;
mod nodes_topics;
mod rates;
mod record_replay;
mod schema;
