//! What vbus's integration tests, benches and examples share: unique domains, loopback nodes,
//! the watchdog and polling helpers, temporary directories, and the child-process harness.
//! One copy here instead of one per test crate (`publish = false`: dev-only).
//!
//! Every node made here talks over `127.0.0.1` only: ephemeral listen ports, explicit connect
//! endpoints, multicast scouting off (the config default).

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    sync::atomic::{AtomicU32, Ordering},
    time::Duration,
};

use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines},
    process::{ChildStdin, ChildStdout, Command},
};
use vbus::{Mode, Node, NodeConfig};

/// Longest a test waits for any one thing before failing (a watchdog, not a speed assertion).
pub const WATCHDOG: Duration = Duration::from_secs(60);

/// The endpoint that makes a node listen on an ephemeral loopback port.
pub const LOOPBACK_ANY: &str = "tcp/127.0.0.1:0";

/// Run a test body under the watchdog (three times [`WATCHDOG`]: a body waits for several
/// things).
pub async fn watchdog<F: std::future::Future<Output = ()>>(f: F) {
    tokio::time::timeout(WATCHDOG * 3, f).await.expect("test exceeded its watchdog");
}

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A name unique to this process and call: `t<pid>-<tag>-<n>`. Used for domains (so concurrent
/// tests never share keys) and temporary directories.
pub fn unique_domain(tag: &str) -> String {
    format!("t{}-{tag}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The node's `tcp/127.0.0.1:<port>` locator, the endpoint other nodes connect to.
pub fn loopback_locator(node: &Node) -> String {
    node.locators()
        .into_iter()
        .find(|l| l.starts_with("tcp/127.0.0.1:"))
        .unwrap_or_else(|| panic!("node `{}` has no loopback locator", node.name()))
}

/// A peer listening on an ephemeral loopback port and connecting nowhere, and its endpoint.
pub async fn peer_node(name: &str, domain: &str) -> (Node, String) {
    open_listening(
        NodeConfig::named(name).domain(domain).listen([LOOPBACK_ANY]).connect(Vec::<String>::new()),
    )
    .await
}

/// A router listening on an ephemeral loopback port, and its endpoint.
pub async fn router_node(name: &str, domain: &str) -> (Node, String) {
    open_listening(
        NodeConfig::named(name)
            .domain(domain)
            .mode(Mode::Router)
            .listen([LOOPBACK_ANY])
            .connect(Vec::<String>::new()),
    )
    .await
}

/// The config of a peer that connects to `endpoint` and listens on an ephemeral loopback port
/// (to be changed further before opening, e.g. `.listen(..)` or `.mode(..)`).
pub fn peer_config(name: &str, domain: &str, endpoint: &str) -> NodeConfig {
    NodeConfig::named(name).domain(domain).listen([LOOPBACK_ANY]).connect([endpoint])
}

/// [`peer_config`], opened.
pub async fn peer_of(name: &str, domain: &str, endpoint: &str) -> Node {
    Node::open(peer_config(name, domain, endpoint))
        .await
        .unwrap_or_else(|e| panic!("open node `{name}`: {e}"))
}

async fn open_listening(cfg: NodeConfig) -> (Node, String) {
    let name = cfg.name.clone();
    let node = Node::open(cfg).await.unwrap_or_else(|e| panic!("open node `{name}`: {e}"));
    let endpoint = loopback_locator(&node);
    (node, endpoint)
}

/// Poll `f` every 20 ms until it returns `Some`; panics naming `what` after [`WATCHDOG`].
pub async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let fut = async {
        loop {
            if let Some(v) = f().await {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(WATCHDOG, fut).await.unwrap_or_else(|_| panic!("{what}: not within the watchdog"))
}

/// [`eventually`] for a plain condition.
pub async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    eventually(what, || std::future::ready(cond().then_some(()))).await
}

/// Wait until `publisher` sees a subscriber, so that nothing is published into the void.
pub async fn wait_matched<T: vbus::Message>(publisher: &vbus::Publisher<T>) {
    wait_until("a subscriber matches", || publisher.has_subscribers()).await
}

/// A directory under the system's temp dir, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("vbus-{}", unique_domain(tag)));
        std::fs::create_dir_all(&p).unwrap_or_else(|e| panic!("create {}: {e}", p.display()));
        Self(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The number after `key=` among the words of `line` (the child protocol's `VBUS done sent=5`).
pub fn field(line: &str, key: &str) -> u64 {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
        .unwrap_or_else(|| panic!("no `{key}=` in `{line}`"))
        .parse()
        .unwrap_or_else(|e| panic!("`{key}=` in `{line}`: {e}"))
}

/// Child processes running test roles.
///
/// A child is the test binary itself, re-executed to run only its `child::child_process_entry`
/// test (one binary per crate, real separate processes, no extra link step). The parent passes
/// the role through `VBUS_CHILD_*` variables ([`child::ChildEnv`]); the child prints `VBUS <word> ...`
/// lines on stdout (`VBUS error <message>` when it fails) and reads commands on stdin, and ends
/// when stdin closes.
pub mod child {
    use super::*;

    /// The test every child runs: each test binary has a `child` module with this test.
    pub const ENTRY: &str = "child::child_process_entry";

    /// What a child is asked to be (from its `VBUS_CHILD_*` variables).
    #[derive(Clone, Debug, Default)]
    pub struct ChildEnv {
        pub role: String,
        pub name: String,
        pub domain: String,
        pub connect: String,
        pub args: Vec<String>,
    }

    impl ChildEnv {
        /// In a child process, its role; `None` when the entry test runs in a normal test run.
        pub fn from_env() -> Option<Self> {
            let role = std::env::var("VBUS_CHILD_ROLE").ok()?;
            let var = |k: &str| std::env::var(k).unwrap_or_default();
            Some(Self {
                role,
                name: var("VBUS_CHILD_NAME"),
                domain: var("VBUS_CHILD_DOMAIN"),
                connect: var("VBUS_CHILD_CONNECT"),
                args: var("VBUS_CHILD_ARGS").split_whitespace().map(str::to_owned).collect(),
            })
        }

        /// Argument `i` as a number (0 when absent).
        pub fn arg(&self, i: usize) -> u64 {
            self.args.get(i).and_then(|a| a.parse().ok()).unwrap_or(0)
        }

        /// The child's node config: a peer on an ephemeral loopback port connected to the parent.
        pub fn config(&self) -> NodeConfig {
            peer_config(&self.name, &self.domain, &self.connect)
        }

        /// Run `role` on a fresh two-thread runtime and exit the process: 0 on `Ok`, 1 after
        /// printing `VBUS error <role>: <message>` on `Err`.
        pub fn run<F: std::future::Future<Output = Result<(), String>>>(
            self,
            role: impl FnOnce(Self) -> F,
        ) -> ! {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("child runtime");
            let name = self.role.clone();
            let code = rt.block_on(async move {
                match role(self).await {
                    Ok(()) => 0,
                    Err(e) => {
                        println!("VBUS error {name}: {e}");
                        1
                    }
                }
            });
            std::process::exit(code)
        }
    }

    /// Until the parent closes stdin (or kills the child).
    pub async fn forever() -> Result<(), String> {
        let mut lines = BufReader::new(tokio::io::stdin()).lines();
        while let Ok(Some(_)) = lines.next_line().await {}
        Ok(())
    }

    /// A running child process.
    pub struct Child {
        pub process: tokio::process::Child,
        lines: Lines<BufReader<ChildStdout>>,
        stdin: ChildStdin,
        role: String,
    }

    /// Start a child running `env.role`.
    pub fn spawn(env: &ChildEnv) -> Child {
        spawn_in(&[], env)
    }

    /// [`spawn`] under a wrapper command (`wrapper`, then the test binary and its arguments),
    /// e.g. a shell that changes the child's mounts first.
    pub fn spawn_in(wrapper: &[&str], env: &ChildEnv) -> Child {
        let exe = std::env::current_exe().expect("test binary path");
        let mut cmd = match wrapper.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(exe);
                c
            }
            None => Command::new(exe),
        };
        let mut process = cmd
            .args(["--exact", ENTRY, "--nocapture", "--test-threads=1", "-q"])
            .env("VBUS_CHILD_ROLE", &env.role)
            .env("VBUS_CHILD_NAME", &env.name)
            .env("VBUS_CHILD_DOMAIN", &env.domain)
            .env("VBUS_CHILD_CONNECT", &env.connect)
            .env("VBUS_CHILD_ARGS", env.args.join(" "))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn child `{}`: {e}", env.role));
        let lines = BufReader::new(process.stdout.take().expect("stdout")).lines();
        let stdin = process.stdin.take().expect("stdin");
        Child { process, lines, stdin, role: env.role.clone() }
    }

    impl Child {
        /// Wait for the child's next `VBUS <word> ...` line with `word`, return the rest; fail on
        /// `VBUS error`, on exit, and after [`WATCHDOG`].
        pub async fn expect(&mut self, word: &str) -> String {
            let role = self.role.clone();
            let fut = async {
                loop {
                    let line = self.lines.next_line().await.expect("read child stdout");
                    let Some(line) = line else {
                        panic!("child `{role}` exited before printing `VBUS {word}`")
                    };
                    if let Some(rest) = line.strip_prefix("VBUS ") {
                        let (w, rest) = rest.split_once(' ').unwrap_or((rest, ""));
                        if w == word {
                            return rest.to_owned();
                        }
                        assert_ne!(w, "error", "child `{role}` failed: {rest}");
                    }
                }
            };
            tokio::time::timeout(WATCHDOG, fut)
                .await
                .unwrap_or_else(|_| panic!("child `{role}`: no `VBUS {word}` line"))
        }

        /// The child's next `VBUS ...` line, whatever its word (`None` once it exited).
        pub async fn line(&mut self) -> Option<String> {
            loop {
                let line = self.lines.next_line().await.ok()??;
                if let Some(rest) = line.strip_prefix("VBUS ") {
                    return Some(rest.to_owned());
                }
            }
        }

        /// Send one line to the child's stdin.
        pub async fn send(&mut self, line: &str) {
            self.stdin.write_all(format!("{line}\n").as_bytes()).await.expect("write child stdin");
            self.stdin.flush().await.expect("flush child stdin");
        }

        /// SIGKILL the child and reap it.
        pub async fn kill(mut self) {
            self.process.kill().await.expect("kill child");
        }
    }
}
