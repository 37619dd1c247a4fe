//! What every example needs besides its one idea: logging, two nodes on loopback, a watchdog
//! and a scratch directory. Each example's own code shows the idea; this shows how to open
//! nodes without a router:
//!
//! ```no_run
//! # async fn demo() -> vbus_examples::support::Result<()> {
//! // `a` listens on an ephemeral loopback port and connects nowhere; `b` connects to `a`'s
//! // actual locator. Both are in a domain unique to this process: no router, no multicast.
//! let (a, b) = vbus_examples::support::two_nodes("mine", "chassis", "cockpit").await?;
//! # Ok(()) }
//! ```

use std::{path::PathBuf, time::Duration};

use vbus::{Node, NodeConfig};

/// The examples' result: any error, with its message printed by `main`.
pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Longest wait for any one thing (a watchdog, not a speed assertion).
pub const WAIT: Duration = Duration::from_secs(20);

/// Logs on stderr, warnings and up unless `RUST_LOG` says otherwise.
pub fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
}

/// Two peers on loopback in the domain `ex-<tag>-<pid>`: `a` listens on an ephemeral port and
/// connects nowhere, `b` connects to `a`'s actual locator. No router, no multicast.
pub async fn two_nodes(tag: &str, a: &str, b: &str) -> Result<(Node, Node)> {
    let first = listening_node(tag, a).await?;
    let second = node_connected_to(tag, b, &loopback_locator(&first)?).await?;
    Ok((first, second))
}

/// A peer `name` in the domain `ex-<tag>-<pid>` listening on an ephemeral loopback port.
pub async fn listening_node(tag: &str, name: &str) -> Result<Node> {
    Ok(Node::open(
        NodeConfig::named(name).domain(&domain(tag)).listen(["tcp/127.0.0.1:0"]).connect([] as [&str; 0]),
    )
    .await?)
}

/// A peer `name` in the domain `ex-<tag>-<pid>` connected to `endpoint`, listening nowhere.
pub async fn node_connected_to(tag: &str, name: &str, endpoint: &str) -> Result<Node> {
    Ok(Node::open(NodeConfig::named(name).domain(&domain(tag)).listen([] as [&str; 0]).connect([endpoint]))
        .await?)
}

/// The domain of an example: unique to the process, so parallel runs cannot meet.
pub fn domain(tag: &str) -> String {
    format!("ex-{tag}-{}", std::process::id())
}

/// `node`'s TCP loopback locator (`tcp/127.0.0.1:<port>`).
pub fn loopback_locator(node: &Node) -> Result<String> {
    Ok(node
        .locators()
        .into_iter()
        .find(|l| l.starts_with("tcp/127.0.0.1:"))
        .ok_or("the node has no loopback locator")?)
}

/// `fut`, or an error naming `what` after [`WAIT`].
pub async fn within<T>(what: &str, fut: impl std::future::Future<Output = T>) -> Result<T> {
    tokio::time::timeout(WAIT, fut)
        .await
        .map_err(|_| format!("timed out after {WAIT:?} waiting for {what}").into())
}

/// A directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// `$TMPDIR/vbus-example-<tag>-<pid>`, created.
    pub fn new(tag: &str) -> std::io::Result<Self> {
        let p = std::env::temp_dir().join(format!("vbus-example-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&p)?;
        Ok(Self(p))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
