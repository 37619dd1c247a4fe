//! What every example needs besides its one idea: logging, two nodes on loopback, a watchdog
//! and a scratch directory. Each example includes it (`mod support;`). The node, domain and
//! directory helpers themselves are vbus-test-support's (a dev-dependency: examples build like
//! tests; `vbus_test_support::TempDir` is the scratch directory), so the examples open their
//! nodes as the test suites do. How to open nodes without a router:
//!
//! ```text
//! // `a` listens on an ephemeral loopback port and connects nowhere; `b` connects to `a`'s
//! // actual locator. Both are in a domain unique to this process: no router, no multicast.
//! let (a, b) = support::two_nodes("mine", "chassis", "cockpit").await?;
//! ```

// Each example uses some of these.
#![allow(dead_code)]

use std::time::Duration;

use vbus::Node;
pub use vbus_examples::init_logging;
use vbus_test_support::{peer_config, peer_node, unique_domain};

/// The examples' result: any error, with its message printed by `main`.
pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Longest wait for any one thing (a watchdog, not a speed assertion).
pub const WAIT: Duration = Duration::from_secs(20);

/// Two peers on loopback in a domain unique to this process: `a` listens on an ephemeral port
/// and connects nowhere ([`peer_node`]), `b` connects to `a`'s actual locator and listens
/// nowhere. No router, no multicast.
pub async fn two_nodes(tag: &str, a: &str, b: &str) -> Result<(Node, Node)> {
    let domain = unique_domain(tag);
    let (first, endpoint) = peer_node(a, &domain).await;
    let config = peer_config(b, &domain, &endpoint).listen(Vec::<String>::new());
    Ok((first, Node::open(config).await?))
}

/// `fut`, or an error naming `what` after [`WAIT`].
pub async fn within<T>(what: &str, fut: impl std::future::Future<Output = T>) -> Result<T> {
    tokio::time::timeout(WAIT, fut)
        .await
        .map_err(|_| format!("timed out after {WAIT:?} waiting for {what}").into())
}
