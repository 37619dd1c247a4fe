//! Test harness: a parent node per test and child OS processes running roles (see `child.rs`).
//!
//! Children are this same test binary re-executed with `VBUS_CHILD_ROLE` set, running only the
//! `child::child_process_entry` test: one binary, real separate processes, no extra link step.

use std::{process::Stdio, time::Duration};

use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines},
    process::{ChildStdin, ChildStdout, Command},
};
use vbus::{Node, NodeConfig};

/// Longest a test waits for any one thing before failing (a watchdog, not a speed assertion).
pub const WATCHDOG: Duration = Duration::from_secs(30);

static NEXT_DOMAIN: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// A domain name unique to this test process and call, so concurrent tests never share keys.
pub fn unique_domain(tag: &str) -> String {
    let n = NEXT_DOMAIN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("t{}-{tag}-{n}", std::process::id())
}

/// A peer node listening on an ephemeral loopback port and connecting nowhere. Returns the node
/// and the endpoint children connect to.
pub async fn parent_node(name: &str, domain: &str) -> (Node, String) {
    let cfg = NodeConfig::from_json5(&format!(
        "{{ name: '{name}', domain: '{domain}', listen: ['tcp/127.0.0.1:0'], connect: [] }}"
    ))
    .expect("test config");
    let node = Node::open(cfg).await.expect("open parent node");
    let endpoint =
        node.locators().into_iter().find(|l| l.starts_with("tcp/127.0.0.1:")).expect("a loopback locator");
    (node, endpoint)
}

/// A child process running `role`.
pub struct Child {
    pub process: tokio::process::Child,
    lines: Lines<BufReader<ChildStdout>>,
    stdin: ChildStdin,
    role: String,
}

pub fn spawn(role: &str, name: &str, domain: &str, connect: &str, args: &[&str]) -> Child {
    spawn_in(&[], role, name, domain, connect, args)
}

/// [`spawn`] under a wrapper command (`wrapper` then the test binary and its arguments), e.g. a
/// shell that changes the child's mounts first.
pub fn spawn_in(
    wrapper: &[&str],
    role: &str,
    name: &str,
    domain: &str,
    connect: &str,
    args: &[&str],
) -> Child {
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
        .args(["--exact", "child::child_process_entry", "--nocapture", "--test-threads=1", "-q"])
        .env("VBUS_CHILD_ROLE", role)
        .env("VBUS_CHILD_NAME", name)
        .env("VBUS_CHILD_DOMAIN", domain)
        .env("VBUS_CHILD_CONNECT", connect)
        .env("VBUS_CHILD_ARGS", args.join(" "))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn child process");
    let lines = BufReader::new(process.stdout.take().expect("stdout")).lines();
    let stdin = process.stdin.take().expect("stdin");
    Child { process, lines, stdin, role: role.to_owned() }
}

impl Child {
    /// Wait for the child's next `VBUS <word> ...` line with `word`, return the rest.
    pub async fn expect(&mut self, word: &str) -> String {
        let role = self.role.clone();
        let fut = async {
            loop {
                let line = self.lines.next_line().await.expect("read child stdout");
                let Some(line) = line else { panic!("child `{role}` exited before printing `VBUS {word}`") };
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

    /// The child's next `VBUS ...` line, whatever its word.
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

/// The path samples between processes of this host take in this run: shared memory by default,
/// zenoh when the suite runs again with `VBUS_SHARED_MEMORY=off` (scripts/test.sh runs both).
pub fn expected_path() -> vbus::DataPath {
    match std::env::var("VBUS_SHARED_MEMORY").as_deref() {
        Ok("off" | "0" | "false" | "no") => vbus::DataPath::Zenoh,
        _ => vbus::DataPath::SharedMemory,
    }
}

/// Parse `key=value` words.
pub fn field(line: &str, key: &str) -> u64 {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no `{key}=` in `{line}`"))
        .parse()
        .expect("number")
}

/// Run a test body under the watchdog.
pub async fn watchdog<F: std::future::Future<Output = ()>>(f: F) {
    tokio::time::timeout(WATCHDOG * 2, f).await.expect("test exceeded its watchdog");
}
