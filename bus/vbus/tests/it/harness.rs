//! The suite's harness: the shared test support (`vbus-test-support`: loopback nodes, watchdog,
//! the data-path switch, child processes running the roles of `child.rs`).

use vbus_test_support::child::{self, ChildEnv};
pub use vbus_test_support::{
    WATCHDOG, child::Child, expected_path, field, peer_node as parent_node, unique_domain, watchdog,
};

/// A child process running `role` as node `name`, connected to `connect`.
pub fn spawn(role: &str, name: &str, domain: &str, connect: &str, args: &[&str]) -> Child {
    spawn_in(&[], role, name, domain, connect, args)
}

/// [`spawn`] under a wrapper command (see [`child::spawn_in`]).
pub fn spawn_in(
    wrapper: &[&str],
    role: &str,
    name: &str,
    domain: &str,
    connect: &str,
    args: &[&str],
) -> Child {
    let env = ChildEnv {
        role: role.into(),
        name: name.into(),
        domain: domain.into(),
        connect: connect.into(),
        args: args.iter().map(|a| (*a).to_owned()).collect(),
    };
    child::spawn_in(wrapper, &env)
}
