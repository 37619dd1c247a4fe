//! The real `vbus-cloud` binary: SIGKILL mid-stream loses nothing that was accepted; SIGTERM
//! flushes and exits cleanly; bad configuration is a clear error.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use tokio::{
    io::{AsyncBufReadExt, BufReader, Lines},
    process::{Child, ChildStdout, Command},
};
use vbus_cloud::format::decode_batch;

use crate::{
    fixtures::{SPEED, speed},
    harness::{
        Cloud, Gate, Mosquitto, TempDir, WATCHDOG, parent_node, query_stats, unique_domain, wait_matched,
        wait_until, wait_until_async, watchdog,
    },
};

const BIN: &str = env!("CARGO_BIN_EXE_vbus-cloud");

struct Daemon {
    child: Child,
    stdout: Lines<BufReader<ChildStdout>>,
    log: PathBuf,
}

impl Daemon {
    /// Start the daemon and wait for its `ready` line.
    async fn start(config: &Path, log: &Path) -> Self {
        let mut child = Command::new(BIN)
            .arg("--config")
            .arg(config)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::OpenOptions::new().create(true).append(true).open(log).expect("daemon log"))
            .kill_on_drop(true)
            .spawn()
            .expect("spawn vbus-cloud");
        let stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut d = Self { child, stdout, log: log.into() };
        let line = d.line("vbus-cloud ready").await;
        assert!(line.contains("sink="), "{line}");
        d
    }

    /// The next stdout line starting with `prefix`.
    async fn line(&mut self, prefix: &str) -> String {
        let fut = async {
            while let Ok(Some(l)) = self.stdout.next_line().await {
                if l.starts_with(prefix) {
                    return Some(l);
                }
            }
            None
        };
        match tokio::time::timeout(WATCHDOG, fut).await {
            Ok(Some(l)) => l,
            _ => panic!(
                "vbus-cloud printed no `{prefix}` line; its log:\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            ),
        }
    }

    /// SIGKILL: no flush, no goodbye.
    async fn kill9(mut self) {
        self.child.kill().await.expect("SIGKILL vbus-cloud");
    }

    /// SIGTERM, then wait for the exit; returns the final stdout line and the exit status.
    async fn terminate(mut self) -> (String, std::process::ExitStatus) {
        let pid = self.child.id().expect("running") as libc::pid_t;
        // SAFETY: sending a signal to our own child process by pid.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
        let line = self.line("vbus-cloud stopped").await;
        let status = tokio::time::timeout(WATCHDOG, self.child.wait()).await.expect("exit").expect("wait");
        (line, status)
    }
}

fn write_config(dir: &TempDir, domain: &str, endpoint: &str, mqtt: &str) -> PathBuf {
    let path = dir.join("cloud.json5");
    std::fs::write(
        &path,
        format!(
            "// written by the test\n{{
              node: {node},
              mqtt: {{ {mqtt}, reconnect_min_ms: 50, reconnect_max_ms: 300 }},
              queue: {{ path: '{q}' }},
              file_sink: {{ path: '{f}' }},
              rules: [{{ name: 'chassis', keys: 'chassis/**', mode: 'all' }}],
              stats_period_ms: 100,
            }}",
            q = dir.join("queue.sqlite").display(),
            f = dir.join("uplink.jsonl").display(),
            node = vbus::NodeConfig::named("cloud")
                .domain(domain)
                .listen([vbus_test_support::LOOPBACK_ANY])
                .connect([endpoint])
                .to_value(),
        ),
    )
    .expect("write config");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_stream_loses_nothing_that_was_accepted() {
    watchdog(async {
        let domain = unique_domain("kill9");
        let dir = TempDir::new("kill9");
        let mut broker = Mosquitto::start().await;
        let gate = Gate::start(broker.port).await;
        let mut cloud = Cloud::connect(broker.port, &domain).await;
        let (node, endpoint) = parent_node("app", &domain).await;
        let config =
            write_config(&dir, &domain, &endpoint, &format!("host: '127.0.0.1', port: {}", gate.port));
        let log = dir.join("daemon.log");
        let daemon = Daemon::start(&config, &log).await;
        let mut p = node.publisher(SPEED).create().await.unwrap();
        wait_matched(&p).await;

        // A steady stream, about 1000 samples/s, that keeps going through everything below.
        let stop = Arc::new(AtomicBool::new(false));
        let streaming = {
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_millis(1));
                let mut i = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    tick.tick().await;
                    i += 1;
                    p.publish(&speed(i as f32, i, "stream")).expect("publish");
                }
                i
            })
        };
        wait_until("samples flow to the cloud", || {
            cloud.with(|r| r.distinct_seqs("chassis/speed").len()) >= 200
        })
        .await;

        // The broker goes away, so accepted samples pile up on the daemon's disk only.
        broker.kill();
        gate.set_open(false);
        // What the daemon reports as accepted: its stats are computed after the fsync.
        let stats = tokio::time::timeout(WATCHDOG, async {
            loop {
                if let Some(s) = query_stats(&node, &domain).await
                    && s.queue.records >= 500
                {
                    break s;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .expect("500 samples queued on disk");
        daemon.kill9().await;
        let accepted =
            stats.accepted_seq.iter().find(|a| a.key == "chassis/speed").expect("accepted seq").seq;
        assert_eq!(stats.bus_dropped, 0, "nothing lost on the bus side, so 1..=accepted were all accepted");
        assert!(stats.accepted >= accepted, "{stats:?}");
        eprintln!(
            "killed with {} accepted (last seq {accepted}), {} queued",
            stats.accepted, stats.queue.records
        );

        // Everything comes back: broker, cloud subscription, then a new daemon on the same queue.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let subs = cloud.subscriptions();
        broker.restart().await;
        cloud.wait_subscribed(subs + 1).await;
        gate.set_open(true);
        let daemon = Daemon::start(&config, &log).await;
        wait_until("every accepted sample delivered after the restart", || {
            cloud.with(|r| r.distinct_seqs("chassis/speed").range(1..=accepted).count() as u64) == accepted
        })
        .await;
        stop.store(true, Ordering::Relaxed);
        let published = streaming.await.unwrap();
        cloud.with(|r| {
            let (by_pub, dups) = r.by_publisher();
            let (_, seqs) = by_pub.iter().find(|((k, _), _)| k == "chassis/speed").unwrap();
            assert!(seqs.windows(2).all(|w| w[0] < w[1]), "first occurrences in publication order");
            eprintln!("published {published}, cloud has {} distinct, {dups} duplicates", seqs.len());
        });
        let after = query_stats(&node, &domain).await.expect("stats of the new daemon");
        assert_eq!(after.queue.store_id, stats.queue.store_id, "the same queue was reopened");
        let (line, status) = daemon.terminate().await;
        assert!(status.success(), "{status:?}: {line}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_flushes_to_the_file_sink_and_exits_cleanly() {
    watchdog(async {
        let domain = unique_domain("term");
        let dir = TempDir::new("term");
        let (node, endpoint) = parent_node("app", &domain).await;
        let config = write_config(&dir, &domain, &endpoint, "host: null");
        let daemon = Daemon::start(&config, &dir.join("daemon.log")).await;
        let mut p = node.publisher(SPEED).create().await.unwrap();
        wait_matched(&p).await;
        for i in 1..=200u32 {
            p.publish(&speed(1.0, i, "term")).unwrap();
        }
        wait_until_async("the daemon received all", || {
            let (node, domain) = (node.clone(), domain.clone());
            async move { query_stats(&node, &domain).await.is_some_and(|s| s.received == 200) }
        })
        .await;
        let (line, status) = daemon.terminate().await;
        assert!(status.success(), "{status:?}");
        assert!(line.contains("accepted=200") && line.contains("queued=0"), "{line}");
        // The file sink holds JSON Lines, one batch each, every sample once.
        let text = std::fs::read_to_string(dir.join("uplink.jsonl")).unwrap();
        let mut seqs: Vec<u64> = text
            .lines()
            .flat_map(|l| decode_batch(l.as_bytes()).expect("a batch per line").samples)
            .map(|s| s.seq)
            .collect();
        seqs.sort();
        assert_eq!(seqs, (1..=200).collect::<Vec<_>>());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_configuration_is_a_clear_error_and_the_default_prints() {
    watchdog(async {
        let dir = TempDir::new("badcfg");
        let bad = dir.join("bad.json5");
        std::fs::write(&bad, "{ rules: [{ name: 'fast', keys: 'chassis/**', mode: 'periodic' }] }").unwrap();
        let out = Command::new(BIN).arg("--config").arg(&bad).output().await.unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("bad.json5") && err.contains("rule `fast`") && err.contains("needs `period_ms`"),
            "{err}"
        );

        let out = Command::new(BIN).arg("--config").arg(dir.join("missing.json5")).output().await.unwrap();
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));

        let out = Command::new(BIN).arg("--frobnicate").output().await.unwrap();
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("unknown argument"));

        let out = Command::new(BIN).arg("--print-default-config").output().await.unwrap();
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        assert_eq!(text, vbus_cloud::DEFAULT_CONFIG);
        vbus_cloud::Config::from_json5(&text).expect("the printed default parses");
    })
    .await;
}
