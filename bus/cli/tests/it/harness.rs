//! Routers, helper processes and `vbus` invocations for the tests.

use std::process::{Output, Stdio};

use tokio::{
    io::{AsyncBufReadExt, BufReader, Lines},
    process::{ChildStdout, Command},
};
use vbus::Node;

use vbus_test_support::child::{self, ChildEnv};
pub use vbus_test_support::{WATCHDOG, child::Child, eventually, unique_domain};

/// A router on an ephemeral loopback port, and a fresh domain.
pub struct Bus {
    pub router: Node,
    pub endpoint: String,
    pub domain: String,
}

impl Bus {
    pub async fn new(tag: &str) -> Self {
        let domain = unique_domain(tag);
        let (router, endpoint) = vbus_test_support::router_node("router", &domain).await;
        Self { router, endpoint, domain }
    }

    /// A peer node in this test process, connected to the router.
    pub async fn peer(&self, name: &str) -> Node {
        self.peer_in(name, &self.domain).await
    }

    pub async fn peer_in(&self, name: &str, domain: &str) -> Node {
        vbus_test_support::peer_of(name, domain, &self.endpoint).await
    }

    /// A helper node in another process (`child.rs`), once it printed `VBUS ready`.
    pub async fn child(&self, role: &str, name: &str) -> Child {
        let mut c = child::spawn(&ChildEnv {
            role: role.into(),
            name: name.into(),
            domain: self.domain.clone(),
            connect: self.endpoint.clone(),
            args: vec![],
        });
        c.expect("ready").await;
        c
    }

    /// `vbus` with `--connect` and `--domain` of this bus, then `args`.
    pub fn vbus(&self, args: &[&str]) -> Command {
        self.vbus_in(&self.domain, args)
    }

    pub fn vbus_in(&self, domain: &str, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_vbus"));
        c.args(args).args(["--connect", &self.endpoint, "--domain", domain]);
        c.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
        c
    }
}

/// The result of a finished `vbus` run.
pub struct Run {
    pub ok: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The stdout lines parsed as JSON.
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("not JSON ({e}): {l}\nstderr: {}", self.stderr))
            })
            .collect()
    }
    /// The single JSON document on stdout.
    pub fn json(&self) -> serde_json::Value {
        let mut l = self.json_lines();
        assert_eq!(l.len(), 1, "expected one JSON line:\n{}\nstderr: {}", self.stdout, self.stderr);
        l.remove(0)
    }
    /// Assert success and return self.
    pub fn success(self) -> Self {
        assert!(self.ok, "vbus failed ({:?}):\nstdout: {}\nstderr: {}", self.code, self.stdout, self.stderr);
        self
    }
    /// Assert failure and return self.
    pub fn failure(self) -> Self {
        assert!(!self.ok, "vbus should have failed:\nstdout: {}\nstderr: {}", self.stdout, self.stderr);
        self
    }
}

fn to_run(o: Output) -> Run {
    Run {
        ok: o.status.success(),
        code: o.status.code(),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// Run to completion under the watchdog.
pub async fn run(mut cmd: Command) -> Run {
    let child = cmd.spawn().expect("spawn vbus");
    let out = tokio::time::timeout(WATCHDOG, child.wait_with_output())
        .await
        .expect("vbus did not finish within the watchdog")
        .expect("vbus output");
    to_run(out)
}

/// A running `vbus` whose stdout is read line by line.
pub struct Streaming {
    pub child: tokio::process::Child,
    pub lines: Lines<BufReader<ChildStdout>>,
}

pub fn stream(mut cmd: Command) -> Streaming {
    let mut child = cmd.spawn().expect("spawn vbus");
    let lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    Streaming { child, lines }
}

impl Streaming {
    /// The next stdout line (panics at EOF or after the watchdog).
    pub async fn line(&mut self) -> String {
        tokio::time::timeout(WATCHDOG, self.lines.next_line())
            .await
            .expect("no line from vbus within the watchdog")
            .expect("read vbus stdout")
            .unwrap_or_else(|| panic!("vbus ended its output early"))
    }

    /// Ask it to stop like Ctrl-C does, and collect the rest.
    pub async fn interrupt(mut self) -> Run {
        signal(&self.child, "-INT");
        let mut rest = String::new();
        while let Ok(Ok(Some(l))) = tokio::time::timeout(WATCHDOG, self.lines.next_line()).await {
            rest.push_str(&l);
            rest.push('\n');
        }
        let status =
            tokio::time::timeout(WATCHDOG, self.child.wait()).await.expect("vbus did not stop").unwrap();
        let mut stderr = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            use tokio::io::AsyncReadExt;
            let _ = e.read_to_string(&mut stderr).await;
        }
        Run { ok: status.success(), code: status.code(), stdout: rest, stderr }
    }
}

/// Send a signal (`-INT`, `-KILL`) to a child process.
pub fn signal(child: &tokio::process::Child, sig: &str) {
    let pid = child.id().expect("running child");
    let ok = std::process::Command::new("kill").args([sig, &pid.to_string()]).status().expect("run kill");
    assert!(ok.success(), "kill {sig} {pid}");
}

/// Wait until `node` sees the endpoints of `name` announced (discovery has converged).
pub async fn announced(node: &Node, name: &str, key: &str) {
    eventually(&format!("{name} announcing {key}"), || async {
        node.topics().await.ok()?.iter().any(|t| t.node == name && t.key == key).then_some(())
    })
    .await
}

/// The demo's whole-file binary schema (what vbus-codegen writes next to the generated code),
/// as a file for `--schema`.
pub fn vehicle_bfbs() -> String {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("vbus-cli-vehicle-{}.bfbs", std::process::id()));
    if !path.exists() {
        let tmp = path.with_extension(unique_domain("tmp"));
        std::fs::write(&tmp, vbus_demo_types::SCHEMA_BFBS).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
    }
    path.to_str().unwrap().to_owned()
}
