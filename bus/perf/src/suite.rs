//! The whole comparison in one go: every cell runs its two sides as separate processes of this
//! binary (or of `ddsperf`), and the table shows vbus / raw zenoh ratios next to the absolute
//! numbers, raw iceoryx2 (the floor of vbus's same-host path), the UDP floor and CycloneDDS.

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    fs::File,
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use clap::Args;
use serde::{Deserialize, Serialize};
use vbus_perf::{
    config::parse_zset,
    measure::{Latency, Report, tv_ns},
};

use crate::roles::Stack;

type Res<T> = Result<T, String>;
type ZSet = (String, serde_json::Value);

/// CycloneDDS pinned to loopback, multicast off, unicast discovery of 127.0.0.1 only.
pub const CYCLONEDDS_URI: &str = "<CycloneDDS><Domain><General><Interfaces><NetworkInterface name=\"lo\"/></Interfaces><AllowMulticast>false</AllowMulticast></General><Discovery><ParticipantIndex>auto</ParticipantIndex><Peers><Peer address=\"127.0.0.1\"/></Peers></Discovery></Domain></CycloneDDS>";
/// DDS domain of the ddsperf runs: not the default 0, so that other DDS tests on the host do not
/// mix in.
const DDS_DOMAIN: &str = "71";

#[derive(Args, Clone, Debug)]
pub struct SuiteArgs {
    /// Multiply every measurement window (1: the whole suite takes a few minutes).
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Run every cell N times, stacks interleaved, and report the medians.
    #[arg(long, default_value_t = 1)]
    rounds: usize,
    /// Throughput payload sizes, bytes.
    #[arg(long, value_delimiter = ',', default_values_t = [8usize, 64, 1024, 65536, 1048576])]
    sizes: Vec<usize>,
    /// Latency payload sizes, bytes.
    #[arg(long, value_delimiter = ',', default_values_t = [64usize, 1024])]
    lat_sizes: Vec<usize>,
    /// Fixed ping rates, Hz.
    #[arg(long, value_delimiter = ',', default_values_t = [100.0f64, 1000.0])]
    rates: Vec<f64>,
    /// More throughput variants next to vbus and zenoh, e.g. zenoh-mimic (raw zenoh with vbus's
    /// encoding, attachment and timestamping), vbus-queue, zenoh-queue, vbus-nots (timestamping
    /// off), vbus-express, zenoh-noshm.
    #[arg(long, value_delimiter = ',')]
    thr_variants: Vec<String>,
    /// Parts to leave out: thr, lat, rate, dds, iceoryx2 (the raw iceoryx2 cells).
    #[arg(long, value_delimiter = ',')]
    skip: Vec<String>,
    /// Also run the latency configuration study (zenoh options and QoS at the fixed rates).
    #[arg(long)]
    study: bool,
    /// Only the configuration study.
    #[arg(long)]
    study_only: bool,
    /// zenoh configuration override `path=json` for both stacks (repeatable).
    #[arg(long = "zset", value_parser = parse_zset)]
    zset: Vec<ZSet>,
    /// zenoh override for vbus only, e.g. `timestamping/enabled=false`.
    #[arg(long = "vbus-zset", value_parser = parse_zset)]
    vbus_zset: Vec<ZSet>,
    /// zenoh override for raw zenoh only, e.g. `transport/shared_memory/enabled=false`.
    #[arg(long = "zenoh-zset", value_parser = parse_zset)]
    zenoh_zset: Vec<ZSet>,
    /// Write every result as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Where the children's stderr goes.
    #[arg(long, default_value = "/tmp/vbus-perf-logs")]
    log_dir: PathBuf,
    /// A label for this run, printed in the header (e.g. `shm`).
    #[arg(long, default_value = "")]
    label: String,
    /// Commit measured, printed in the header.
    #[arg(long, default_value = "unknown")]
    commit: String,
    /// Measure nothing: print the tables of a `--json` file written by an earlier run (after
    /// a change to the report itself).
    #[arg(long)]
    render: Option<PathBuf>,
}

/// One side's throughput numbers.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
struct Thr {
    /// Messages per second received.
    rate: f64,
    /// CPU time per message, publisher + subscriber process, ns.
    cpu_ns: f64,
    /// Peak RSS of the larger of the two processes, KiB.
    rss_kib: u64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Results {
    date: String,
    commit: String,
    label: String,
    machine: String,
    scale: f64,
    rounds: usize,
    /// size -> stack -> numbers
    thr: BTreeMap<usize, BTreeMap<String, Thr>>,
    /// "b2b" | "100 Hz" ... -> size -> variant -> latency
    lat: BTreeMap<String, BTreeMap<usize, BTreeMap<String, Latency>>>,
    /// rate -> variant -> latency (64 B)
    study: BTreeMap<String, BTreeMap<String, Latency>>,
    errors: Vec<String>,
}

/// A latency variant: which stack, with which publisher QoS / options.
struct Variant {
    label: String,
    stack: Option<Stack>, // None: ddsperf
    args: Vec<String>,
}

fn v(label: &'static str, stack: Stack, args: &[&str]) -> Variant {
    Variant { label: label.into(), stack: Some(stack), args: args.iter().map(|s| s.to_string()).collect() }
}

/// Variants selectable by name on the command line (`--thr-variants`).
fn named_variant(name: &str) -> Res<Variant> {
    let (stack, rest) = match name.split_once('-') {
        Some((s, r)) => (s, Some(r)),
        None => (name, None),
    };
    let stack = match stack {
        "vbus" => Stack::Vbus,
        "zenoh" => Stack::Zenoh,
        "iceoryx2" if rest.is_none() => Stack::Iceoryx2,
        _ => return Err(format!("unknown variant `{name}`")),
    };
    let mut args: Vec<String> = Vec::new();
    for part in rest.map(|r| r.split('-').collect::<Vec<_>>()).unwrap_or_default() {
        match part {
            "rt" => args.extend(strs(RT)),
            "express" => args.push("--express".into()),
            "queue" => args.push("--queue".into()),
            "mimic" if stack == Stack::Zenoh => args.push("--mimic".into()),
            "att" if stack == Stack::Zenoh => args.push("--attach".into()),
            "enc" if stack == Stack::Zenoh => args.push("--encoding".into()),
            "nots" => args.push("--zset=timestamping/enabled=false".into()),
            "ts" => args.push("--zset=timestamping/enabled=true".into()),
            "nobatch" => args.push("--zset=transport/link/tx/queue/batching/enabled=false".into()),
            "noshm" => args.push("--zset=transport/shared_memory/enabled=false".into()),
            "tcp" if stack == Stack::Vbus => args.push("--zenoh-only".into()),
            _ => {
                return Err(format!(
                    "unknown variant part `{part}` in `{name}` (rt, express, queue, mimic, att, enc, nots, ts, nobatch, noshm, tcp)"
                ));
            }
        }
    }
    Ok(Variant { label: name.into(), stack: Some(stack), args })
}

const RT: &[&str] = &["--express", "--priority", "real-time"];
/// Largest UDP datagram payload over IPv4: UDP pings of more are not measured.
const MAX_UDP_PAYLOAD: usize = 65_507;

/// A child process whose stdout lines arrive on a channel; killed on drop.
struct Child {
    name: String,
    log: PathBuf,
    proc: std::process::Child,
    lines: mpsc::Receiver<String>,
    reaped: bool,
}

impl Child {
    fn spawn(cmd: &mut Command, name: &str, log: PathBuf) -> Res<Self> {
        let err = File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let mut proc = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        let out = proc.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Self { name: name.into(), log, proc, lines, reaped: false })
    }

    /// The rest of the first line that starts with `prefix`.
    fn expect(&mut self, prefix: &str, timeout: Duration) -> Res<String> {
        let end = Instant::now() + timeout;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    if let Some(rest) = l.strip_prefix(prefix) {
                        return Ok(rest.to_owned());
                    }
                }
                Err(e) => {
                    let why =
                        if matches!(e, mpsc::RecvTimeoutError::Timeout) { "timed out" } else { "exited" };
                    let tail = std::fs::read_to_string(&self.log).unwrap_or_default();
                    let tail: Vec<_> = tail.lines().rev().take(5).collect();
                    return Err(format!(
                        "{} {why} before printing `{prefix}` (log {}: {})",
                        self.name,
                        self.log.display(),
                        tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
                    ));
                }
            }
        }
    }

    /// All remaining stdout lines until exit, and the process's resource usage (CPU, RSS).
    fn finish(&mut self, timeout: Duration) -> Res<(Vec<String>, libc::rusage)> {
        let end = Instant::now() + timeout;
        let pid = self.proc.id() as libc::pid_t;
        loop {
            // SAFETY: wait4 on our own child; status and rusage are plain out-parameters.
            let (r, usage) = unsafe {
                let mut status = 0;
                let mut usage: libc::rusage = std::mem::zeroed();
                (libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage), usage)
            };
            if r == pid {
                self.reaped = true;
                let mut lines = Vec::new();
                while let Ok(l) = self.lines.recv_timeout(Duration::from_millis(200)) {
                    lines.push(l);
                }
                return Ok((lines, usage));
            }
            if Instant::now() > end {
                return Err(format!("{} did not exit within {timeout:?}", self.name));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if !self.reaped {
            let _ = self.proc.kill();
            let _ = self.proc.wait();
        }
    }
}

struct Suite {
    exe: PathBuf,
    a: SuiteArgs,
    n: usize,
    r: Results,
}

pub fn run(a: &SuiteArgs) -> Res<()> {
    if let Some(p) = &a.render {
        let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
        let r: Results = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))?;
        println!("{}", render(&r));
        return Ok(());
    }
    std::fs::create_dir_all(&a.log_dir).map_err(|e| format!("{}: {e}", a.log_dir.display()))?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut s = Suite {
        exe,
        a: a.clone(),
        n: 0,
        r: Results {
            date: today(),
            commit: a.commit.clone(),
            label: a.label.clone(),
            machine: machine(),
            scale: a.scale,
            rounds: a.rounds.max(1),
            ..Results::default()
        },
    };
    let dds = !s.skip("dds") && which("ddsperf");
    if !dds && !s.skip("dds") {
        s.r.errors.push("ddsperf not found (Debian package cyclonedds-tools): CycloneDDS cells empty".into());
    }
    let started = Instant::now();
    if !a.study_only {
        if !s.skip("thr") {
            s.throughput(dds);
        }
        if !s.skip("lat") {
            s.latency(None, dds);
        }
        if !s.skip("rate") {
            for rate in a.rates.clone() {
                s.latency(Some(rate), dds);
            }
        }
    }
    if a.study || a.study_only {
        s.study();
    }
    eprintln!("[suite] done in {:.0} s", started.elapsed().as_secs_f64());
    let table = render(&s.r);
    println!("{table}");
    if let Some(p) = &a.json {
        let text = serde_json::to_string_pretty(&s.r).map_err(|e| e.to_string())?;
        std::fs::write(p, text).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    Ok(())
}

impl Suite {
    fn skip(&self, part: &str) -> bool {
        self.a.skip.iter().any(|s| s == part)
    }

    fn secs(&self, base: f64) -> f64 {
        base * self.a.scale
    }

    fn log(&mut self, name: &str) -> PathBuf {
        self.n += 1;
        self.a.log_dir.join(format!("{:03}-{name}.log", self.n))
    }

    fn role(&mut self, role: &str, stack: Stack, size: usize, extra: &[String]) -> Res<Child> {
        let mut cmd = Command::new(&self.exe);
        cmd.arg(role).args(["--stack", stack.name(), "--size", &size.to_string()]).args(extra);
        let zsets = self.a.zset.iter().chain(match stack {
            Stack::Vbus => &self.a.vbus_zset[..],
            Stack::Zenoh => &self.a.zenoh_zset[..],
            Stack::Udp | Stack::Iceoryx2 => &[][..],
        });
        for (k, v) in zsets {
            cmd.arg("--zset").arg(format!("{k}={v}"));
        }
        let name = format!("{role}-{}-{size}", stack.name());
        let log = self.log(&name);
        Child::spawn(&mut cmd, &name, log)
    }

    fn record_err(&mut self, what: &str, e: String) {
        eprintln!("[suite] {what}: {e}");
        self.r.errors.push(format!("{what}: {e}"));
    }

    // -----------------------------------------------------------------------------------------
    // Throughput

    fn throughput(&mut self, dds: bool) {
        let mut names = vec!["vbus".to_string(), "vbus-tcp".to_string(), "zenoh".to_string()];
        if !self.skip("iceoryx2") {
            names.push("iceoryx2".into());
        }
        names.extend(self.a.thr_variants.iter().filter(|n| !names.contains(n)).cloned().collect::<Vec<_>>());
        let variants: Vec<Variant> = match names.iter().map(|n| named_variant(n)).collect() {
            Ok(v) => v,
            Err(e) => return self.record_err("throughput", e),
        };
        for size in self.a.sizes.clone() {
            let mut runs: BTreeMap<String, Vec<Thr>> = BTreeMap::new();
            for round in 0..self.r.rounds {
                let mut order: Vec<&Variant> = variants.iter().collect();
                if round % 2 == 1 {
                    order.reverse();
                }
                for var in order {
                    match self.thr_cell(var, size) {
                        Ok(t) => {
                            eprintln!(
                                "[thr {}] {:<14} {:>10} msg/s  {:>7.2} us CPU/msg  {:>6.1} MiB",
                                size_label(size),
                                var.label,
                                fmt_rate(t.rate),
                                t.cpu_ns / 1e3,
                                t.rss_kib as f64 / 1024.0
                            );
                            runs.entry(var.label.to_string()).or_default().push(t);
                        }
                        Err(e) => self.record_err(&format!("throughput {} {}", var.label, size), e),
                    }
                }
                if dds {
                    match self.dds_thr(size) {
                        Ok(t) => {
                            eprintln!(
                                "[thr {}] ddsperf {:>10} msg/s  {:>7.2} us CPU/msg",
                                size_label(size),
                                fmt_rate(t.rate),
                                t.cpu_ns / 1e3
                            );
                            runs.entry("ddsperf".into()).or_default().push(t);
                        }
                        Err(e) => self.record_err(&format!("throughput ddsperf {size}"), e),
                    }
                }
            }
            let cell = self.r.thr.entry(size).or_default();
            for (k, v) in runs {
                cell.insert(
                    k,
                    Thr {
                        rate: median(v.iter().map(|t| t.rate)),
                        cpu_ns: median(v.iter().map(|t| t.cpu_ns)),
                        rss_kib: median(v.iter().map(|t| t.rss_kib as f64)) as u64,
                    },
                );
            }
        }
    }

    fn thr_cell(&mut self, var: &Variant, size: usize) -> Res<Thr> {
        let r = self.thr_pair(var, size);
        iox_cleanup(var);
        r
    }

    fn thr_pair(&mut self, var: &Variant, size: usize) -> Res<Thr> {
        let stack = var.stack.ok_or("not a vbus-perf variant")?;
        let (w, d) = (self.secs(1.0).max(0.5), self.secs(2.0));
        let mut common = var.args.clone();
        common.extend([
            "--warmup".to_string(),
            w.to_string(),
            "--duration".into(),
            d.to_string(),
            "--lifetime".into(),
            (w + d + 120.0).to_string(),
        ]);
        let mut sub_args = common.clone();
        if stack != Stack::Iceoryx2 {
            // iceoryx2 needs no endpoint: its READY line names the run's service tag.
            sub_args.extend(["--listen".into(), "tcp/127.0.0.1:0".into()]);
        }
        let mut sub = self.role("sub-thr", stack, size, &sub_args)?;
        let ep = sub.expect("READY ", Duration::from_secs(30))?;
        let mut pub_args = common;
        pub_args.extend(["--connect".into(), ep]);
        let mut publ = self.role("pub-thr", stack, size, &pub_args)?;
        let limit = Duration::from_secs_f64(w + d + 60.0);
        let s = report(&sub.expect("RESULT ", limit)?)?;
        let p = report(&publ.expect("RESULT ", limit)?)?;
        if s.msgs == 0 {
            return Err("the subscriber received nothing in its window".into());
        }
        Ok(Thr {
            rate: s.rate,
            cpu_ns: s.cpu_ns_per_msg + p.cpu_ns_per_msg,
            rss_kib: s.max_rss_kib.max(p.max_rss_kib),
        })
    }

    fn ddsperf(&mut self, name: &str, args: &[String]) -> Res<Child> {
        let mut cmd = Command::new("ddsperf");
        cmd.env("CYCLONEDDS_URI", CYCLONEDDS_URI).args(["-i", DDS_DOMAIN]).args(args);
        let log = self.log(name);
        Child::spawn(&mut cmd, name, log)
    }

    fn dds_thr(&mut self, size: usize) -> Res<Thr> {
        let d = (self.secs(3.0).ceil() as u64).max(3);
        let sz = dds_size(size);
        let mut sub = self.ddsperf("ddsperf-sub", &strs(&[&format!("-D{}", d + 3), "sub"]))?;
        std::thread::sleep(Duration::from_millis(300));
        let mut publ = self.ddsperf(
            "ddsperf-pub",
            &strs(&[&format!("-D{}", d + 1), "-Qminmatch:1", "-Qinitwait:10", "pub", "size", &sz]),
        )?;
        let limit = Duration::from_secs(d + 30);
        let (_, pu) = publ.finish(limit)?;
        let (lines, su) = sub.finish(limit)?;
        // "... size N total T lost L delta D lost L rate R kS/s ..." once a second.
        let mut deltas = Vec::new();
        let mut total = 0u64;
        for l in &lines {
            let f: Vec<&str> = l.split_whitespace().collect();
            let field = |name: &str| {
                f.iter()
                    .position(|w| *w == name)
                    .and_then(|i| f.get(i + 1))
                    .and_then(|x| x.parse::<u64>().ok())
            };
            if let (Some(t), Some(dl)) = (field("total"), field("delta")) {
                total = t;
                deltas.push(dl as f64);
            }
        }
        // Drop the first (discovery, partial second) and last (publisher stopping) seconds.
        let steady: Vec<f64> = if deltas.len() > 2 { deltas[1..deltas.len() - 1].to_vec() } else { deltas };
        if steady.is_empty() || total == 0 {
            return Err(format!("ddsperf sub reported nothing: {}", lines.join(" | ")));
        }
        let cpu = tv_ns(pu.ru_utime) + tv_ns(pu.ru_stime) + tv_ns(su.ru_utime) + tv_ns(su.ru_stime);
        Ok(Thr {
            rate: median(steady.into_iter()),
            cpu_ns: cpu as f64 / total as f64,
            rss_kib: (pu.ru_maxrss.max(su.ru_maxrss)).max(0) as u64,
        })
    }

    // -----------------------------------------------------------------------------------------
    // Latency

    fn latency(&mut self, rate: Option<f64>, dds: bool) {
        let key = rate.map_or("back-to-back".to_string(), rate_label);
        let mut variants = vec![
            v("vbus", Stack::Vbus, &[]),
            v("vbus-tcp", Stack::Vbus, &["--zenoh-only"]),
            v("zenoh", Stack::Zenoh, &[]),
            v("vbus-rt", Stack::Vbus, RT),
            v("zenoh-rt", Stack::Zenoh, RT),
            v("udp", Stack::Udp, &[]),
        ];
        if !self.skip("iceoryx2") {
            variants.push(v("iceoryx2", Stack::Iceoryx2, &[]));
        }
        for size in self.a.lat_sizes.clone() {
            let mut runs: BTreeMap<String, Vec<Latency>> = BTreeMap::new();
            for round in 0..self.r.rounds {
                let mut order: Vec<&Variant> = variants.iter().collect();
                if round % 2 == 1 {
                    order.reverse();
                }
                for var in order {
                    if var.stack == Some(Stack::Udp) && size > MAX_UDP_PAYLOAD {
                        continue; // one datagram per ping
                    }
                    match self.lat_cell(var, size, rate) {
                        Ok(l) => {
                            progress(&key, size, &var.label, &l);
                            runs.entry(var.label.clone()).or_default().push(l);
                        }
                        Err(e) => self.record_err(&format!("latency {} {size} {key}", var.label), e),
                    }
                }
                if dds {
                    match self.dds_lat(size, rate) {
                        Ok(l) => {
                            progress(&key, size, "ddsperf", &l);
                            runs.entry("ddsperf".into()).or_default().push(l);
                        }
                        Err(e) => self.record_err(&format!("latency ddsperf {size} {key}"), e),
                    }
                }
            }
            let cell = self.r.lat.entry(key.clone()).or_default().entry(size).or_default();
            for (k, ls) in runs {
                cell.insert(k, median_latency(&ls));
            }
        }
    }

    fn lat_window(&self, rate: Option<f64>) -> (f64, f64) {
        match rate {
            None => (0.5, self.secs(2.0)),
            Some(r) if r <= 200.0 => (0.5, self.secs(5.0)),
            Some(_) => (0.5, self.secs(3.0)),
        }
    }

    fn lat_cell(&mut self, var: &Variant, size: usize, rate: Option<f64>) -> Res<Latency> {
        let r = self.lat_pair(var, size, rate);
        iox_cleanup(var);
        r
    }

    fn lat_pair(&mut self, var: &Variant, size: usize, rate: Option<f64>) -> Res<Latency> {
        let stack = var.stack.ok_or("not a vbus-perf variant")?;
        let (w, d) = self.lat_window(rate);
        let mut common: Vec<String> = var.args.clone();
        common.extend(["--lifetime".into(), (w + d + 120.0).to_string()]);
        let mut pong_args = common.clone();
        match stack {
            Stack::Udp => pong_args.extend(["--listen".into(), "udp/127.0.0.1:0".into()]),
            // No endpoint: its READY line names the run's service tag.
            Stack::Iceoryx2 => {}
            _ => pong_args.extend(["--listen".into(), "tcp/127.0.0.1:0".into()]),
        }
        let mut pong = self.role("pong", stack, size, &pong_args)?;
        let ep = pong.expect("READY ", Duration::from_secs(30))?;
        let mut ping_args = common;
        ping_args.extend([
            "--connect".into(),
            ep,
            "--warmup".into(),
            w.to_string(),
            "--duration".into(),
            d.to_string(),
        ]);
        if let Some(r) = rate {
            ping_args.extend(["--rate".into(), r.to_string()]);
        }
        let mut ping = self.role("ping", stack, size, &ping_args)?;
        let r = report(&ping.expect("RESULT ", Duration::from_secs_f64(w + d + 60.0))?)?;
        r.latency.filter(|l| l.n > 0).ok_or_else(|| "no round trip measured".into())
    }

    fn dds_lat(&mut self, size: usize, rate: Option<f64>) -> Res<Latency> {
        let (_, d) = self.lat_window(rate);
        let d = d.ceil() as u64 + 1; // the first second (discovery, warm-up) is dropped
        let mut pong = self.ddsperf("ddsperf-pong", &strs(&[&format!("-D{}", d + 3), "pong"]))?;
        std::thread::sleep(Duration::from_millis(300));
        let mut args = strs(&[&format!("-D{d}"), "-Qminmatch:1", "-Qinitwait:10", "ping"]);
        if let Some(r) = rate {
            args.push(format!("{r}Hz"));
        }
        args.extend(strs(&["size", &dds_size(size)]));
        let mut ping = self.ddsperf("ddsperf-ping", &args)?;
        let (lines, _) = ping.finish(Duration::from_secs(d + 30))?;
        drop(pong.finish(Duration::from_secs(10)));
        parse_ddsperf_latency(&lines)
    }

    // -----------------------------------------------------------------------------------------
    // Configuration study: why is zenoh's tail latency at low rates so much worse than
    // back-to-back, and which option fixes it.

    fn study(&mut self) {
        let zs = |k: &str| format!("--zset={k}");
        let nobatch = zs("transport/link/tx/queue/batching/enabled=false");
        let lowlat = [zs("transport/unicast/lowlatency=true"), zs("transport/unicast/qos/enabled=false")];
        let mut variants = vec![
            v("zenoh default", Stack::Zenoh, &[]),
            v("zenoh express", Stack::Zenoh, &["--express"]),
            v("zenoh prio RealTime", Stack::Zenoh, &["--priority", "real-time"]),
            v("zenoh express+RealTime", Stack::Zenoh, RT),
            v("zenoh batching off", Stack::Zenoh, &[]),
            v("zenoh lowlatency transport", Stack::Zenoh, &[]),
            v("vbus default", Stack::Vbus, &[]),
            v("vbus express+RealTime", Stack::Vbus, RT),
            v("vbus lowlatency transport", Stack::Vbus, &[]),
            v("udp", Stack::Udp, &[]),
        ];
        variants[4].args.push(nobatch);
        variants[5].args.extend(lowlat.clone());
        variants[8].args.extend(lowlat);
        let mut rates: Vec<Option<f64>> = self.a.rates.iter().map(|r| Some(*r)).collect();
        rates.insert(0, None);
        for rate in rates {
            let key = rate.map_or("back-to-back".to_string(), rate_label);
            let mut runs: BTreeMap<String, Vec<Latency>> = BTreeMap::new();
            for round in 0..self.r.rounds {
                let mut order: Vec<&Variant> = variants.iter().collect();
                if round % 2 == 1 {
                    order.reverse();
                }
                for var in order {
                    match self.lat_cell(var, 64, rate) {
                        Ok(l) => {
                            progress(&format!("study {key}"), 64, &var.label, &l);
                            runs.entry(var.label.clone()).or_default().push(l);
                        }
                        Err(e) => self.record_err(&format!("study {} {key}", var.label), e),
                    }
                }
            }
            let cell = self.r.study.entry(key).or_default();
            for (k, ls) in runs {
                cell.insert(k, median_latency(&ls));
            }
        }
    }
}

/// After a raw iceoryx2 cell (both sides gone): remove what a killed side (the pong always)
/// left in /dev/shm.
fn iox_cleanup(var: &Variant) {
    if var.stack == Some(Stack::Iceoryx2)
        && let Err(e) = vbus_perf::iox::cleanup_dead_nodes()
    {
        eprintln!("[suite] iceoryx2 cleanup: {e}");
    }
}

fn report(json: &str) -> Res<Report> {
    Report::parse(&format!("RESULT {json}")).ok_or_else(|| format!("unreadable RESULT: {json}"))
}

fn parse_ddsperf_latency(lines: &[String]) -> Res<Latency> {
    // "[pid] T.TTT  host:pid size S mean Mus min Xus 50% Aus 90% Bus 99% Cus max Dus cnt N"
    let mut secs = Vec::new();
    for l in lines {
        let f: Vec<&str> = l.split_whitespace().collect();
        let us = |name: &str| {
            f.iter()
                .position(|w| *w == name)
                .and_then(|i| f.get(i + 1))
                .and_then(|x| x.trim_end_matches("us").parse::<f64>().ok())
        };
        if let (Some(p50), Some(p99), Some(max), Some(mean), Some(cnt)) =
            (us("50%"), us("99%"), us("max"), us("mean"), us("cnt"))
        {
            secs.push((p50, p99, max, mean, cnt));
        }
    }
    if secs.len() > 1 {
        secs.remove(0); // discovery and warm-up
    }
    if secs.is_empty() {
        return Err(format!("ddsperf ping printed no statistics: {}", lines.join(" | ")));
    }
    // ddsperf prints per-second percentiles of RTT/2, not the samples: the p50 is the
    // count-weighted median of the per-second medians, the p99 the count-weighted mean of the
    // per-second p99s; no p99.9 (reported as the maximum).
    let n: f64 = secs.iter().map(|s| s.4).sum();
    let mut by_p50: Vec<_> = secs.iter().map(|s| (s.0, s.4)).collect();
    by_p50.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut acc = 0.0;
    let mut p50 = by_p50[0].0;
    for (v, c) in by_p50 {
        acc += c;
        p50 = v;
        if acc >= n / 2.0 {
            break;
        }
    }
    let p99 = secs.iter().map(|s| s.1 * s.4).sum::<f64>() / n;
    let max = secs.iter().map(|s| s.2).fold(0.0, f64::max);
    let mean = secs.iter().map(|s| s.3 * s.4).sum::<f64>() / n;
    Ok(Latency {
        n: n as u64,
        lost: 0,
        p50: p50 * 1e3,
        p99: p99 * 1e3,
        p999: max * 1e3,
        max: max * 1e3,
        mean: mean * 1e3,
    })
}

// ---------------------------------------------------------------------------------------------
// Rendering

fn render(r: &Results) -> String {
    let mut o = String::new();
    let label = if r.label.is_empty() { String::new() } else { format!(" [{}]", r.label) };
    let _ = writeln!(o, "\n## vbus-perf results{label}\n");
    let _ = writeln!(
        o,
        "date {} · commit {} · {} · scale {} · rounds {}\n",
        r.date, r.commit, r.machine, r.scale, r.rounds
    );
    if !r.thr.is_empty() {
        let _ = writeln!(
            o,
            "### Throughput (pub -> sub, two processes on one host, reliable, Block; vbus and iceoryx2 through shared memory, zenoh over TCP loopback)\n"
        );
        let _ = writeln!(
            o,
            "| payload | vbus msg/s | zenoh msg/s | **vbus/zenoh** | target | iceoryx2 msg/s | vbus/iceoryx2 | ddsperf msg/s | vbus/ddsperf | CPU µs/msg vbus | CPU µs/msg zenoh | CPU vbus/zenoh | CPU µs/msg iceoryx2 | CPU µs/msg ddsperf | peak RSS vbus | peak RSS zenoh | peak RSS iceoryx2 |"
        );
        let _ = writeln!(o, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        for (size, cell) in &r.thr {
            let (vb, zn, dd) = (cell.get("vbus"), cell.get("zenoh"), cell.get("ddsperf"));
            let ix = cell.get("iceoryx2");
            let ratio = both(vb, zn, |a, b| a.rate / b.rate);
            let (t, strict) = thr_target(*size);
            let verdict = match (ratio, t) {
                (Some(x), Some(t)) => format!(
                    "{}{t} {}",
                    if strict { ">" } else { ">=" },
                    met(if strict { x > t } else { x >= t })
                ),
                _ => "-".into(),
            };
            let _ = writeln!(
                o,
                "| {} | {} | {} | **{}** | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                size_label(*size),
                opt(vb.map(|t| fmt_rate(t.rate))),
                opt(zn.map(|t| fmt_rate(t.rate))),
                opt(ratio.map(fmt_ratio)),
                verdict,
                opt(ix.map(|t| fmt_rate(t.rate))),
                opt(both(vb, ix, |a, b| a.rate / b.rate).map(fmt_ratio)),
                opt(dd.map(|t| fmt_rate(t.rate))),
                opt(both(vb, dd, |a, b| a.rate / b.rate).map(fmt_ratio)),
                opt(vb.map(|t| fmt_cpu(t.cpu_ns))),
                opt(zn.map(|t| fmt_cpu(t.cpu_ns))),
                opt(both(vb, zn, |a, b| a.cpu_ns / b.cpu_ns).map(fmt_ratio)),
                opt(ix.map(|t| fmt_cpu(t.cpu_ns))),
                opt(dd.map(|t| fmt_cpu(t.cpu_ns))),
                opt(vb.map(|t| fmt_mib(t.rss_kib))),
                opt(zn.map(|t| fmt_mib(t.rss_kib))),
                opt(ix.map(|t| fmt_mib(t.rss_kib))),
            );
        }
        let _ = writeln!(
            o,
            "\nCPU/msg: user+system time of the publisher and subscriber processes in the window, per message. Peak RSS: the larger of the two processes. iceoryx2: raw iceoryx2 0.10 (a [u8] service, the publisher blocking while the subscriber's buffer is full, notifying the subscriber's listener), the floor of vbus's same-host path.\n"
        );
        let extra: Vec<(usize, &String, &Thr)> = r
            .thr
            .iter()
            .flat_map(|(size, cell)| {
                cell.iter()
                    .filter(|(k, _)| !["vbus", "zenoh", "iceoryx2", "ddsperf"].contains(&k.as_str()))
                    .map(move |(k, t)| (*size, k, t))
            })
            .collect();
        if !extra.is_empty() {
            let _ = writeln!(o, "#### More throughput variants\n");
            let _ =
                writeln!(o, "| payload | variant | msg/s | vs zenoh | vs vbus | CPU µs/msg | CPU vs zenoh |");
            let _ = writeln!(o, "|---|---|---|---|---|---|---|");
            for (size, k, t) in extra {
                let zn = r.thr[&size].get("zenoh");
                let vb = r.thr[&size].get("vbus");
                let _ = writeln!(
                    o,
                    "| {} | {k} | {} | {} | {} | {} | {} |",
                    size_label(size),
                    fmt_rate(t.rate),
                    opt(zn.map(|z| fmt_ratio(t.rate / z.rate))),
                    opt(vb.map(|v| fmt_ratio(t.rate / v.rate))),
                    fmt_cpu(t.cpu_ns),
                    opt(zn.map(|z| fmt_ratio(t.cpu_ns / z.cpu_ns))),
                );
            }
            let _ = writeln!(o);
        }
    }
    for (key, sizes) in &r.lat {
        let b2b = key == "back-to-back";
        let _ = writeln!(o, "### Latency, {key} (one-way = RTT/2, µs)\n");
        let _ = writeln!(
            o,
            "| payload | stat | vbus | vbus-tcp | zenoh | **vbus/zenoh** | iceoryx2 | vbus/iceoryx2 | vbus-rt | zenoh-rt | vbus-rt/zenoh-rt | UDP | ddsperf | target |"
        );
        let _ = writeln!(o, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        for (size, cell) in sizes {
            for (stat, get) in STATS {
                let val = |k: &str| cell.get(k).map(get);
                let (vb, zn, vr, zr, ud, dd) =
                    (val("vbus"), val("zenoh"), val("vbus-rt"), val("zenoh-rt"), val("udp"), val("ddsperf"));
                let (vt, ix) = (val("vbus-tcp"), val("iceoryx2"));
                let target = lat_target(b2b, stat, Lat { vb, vt, zn, vr, ud, dd });
                let _ = writeln!(
                    o,
                    "| {} | {stat} | {} | {} | {} | **{}** | {} | {} | {} | {} | {} | {} | {} | {} |",
                    size_label(*size),
                    opt(vb.map(fmt_us)),
                    opt(vt.map(fmt_us)),
                    opt(zn.map(fmt_us)),
                    opt(ratio(vb, zn)),
                    opt(ix.map(fmt_us)),
                    opt(ratio(vb, ix)),
                    opt(vr.map(fmt_us)),
                    opt(zr.map(fmt_us)),
                    opt(ratio(vr, zr)),
                    opt(ud.map(fmt_us)),
                    opt(dd.map(|d| if stat == "p99.9" { format!("(max {})", fmt_us(d)) } else { fmt_us(d) })),
                    target,
                );
            }
        }
        let _ = writeln!(
            o,
            "\n-rt: publishers with QoS express + priority RealTime (the real-time topic profile); others: default QoS (not express, Data). vbus: through shared memory (same host); vbus-tcp: vbus with its same-host path off (zenoh, TCP loopback); iceoryx2: raw iceoryx2 0.10, the pinging thread blocking in its listener (the floor of vbus's same-host path).\n"
        );
    }
    for (key, vars) in &r.study {
        let _ = writeln!(o, "### Latency configuration study, {key}, 64 B (one-way = RTT/2, µs)\n");
        let _ = writeln!(o, "| configuration | p50 | p99 | p99.9 | max | n |");
        let _ = writeln!(o, "|---|---|---|---|---|---|");
        for (k, l) in vars {
            let _ = writeln!(
                o,
                "| {k} | {} | {} | {} | {} | {} |",
                fmt_us(l.p50),
                fmt_us(l.p99),
                fmt_us(l.p999),
                fmt_us(l.max),
                l.n
            );
        }
        let _ = writeln!(o);
    }
    let _ = writeln!(o, "### Other targets\n");
    let _ = writeln!(o, "| target | where it is measured |");
    let _ = writeln!(o, "|---|---|");
    let _ = writeln!(
        o,
        "| zero heap allocations per message | `cargo test --release -p vbus-perf --test alloc -- --nocapture` (scripts/bench.sh prints it first) |"
    );
    let _ = writeln!(
        o,
        "| CAN decode >= 50x cantools | not by vbus-perf: `python3 scripts/bench_can.py` (vbus-dbc compiled plans vs cantools 45.1.0, the DBC engine's benchmark) |\n"
    );
    if !r.errors.is_empty() {
        let _ = writeln!(o, "### Errors\n");
        for e in &r.errors {
            let _ = writeln!(o, "- {e}");
        }
    }
    o
}

type StatFn = fn(&Latency) -> f64;
const STATS: [(&str, StatFn); 3] = [("p50", |l| l.p50), ("p99", |l| l.p99), ("p99.9", |l| l.p999)];

/// One latency row's values (ns), by variant.
struct Lat {
    vb: Option<f64>,
    vt: Option<f64>,
    zn: Option<f64>,
    vr: Option<f64>,
    ud: Option<f64>,
    dd: Option<f64>,
}

/// Issue 13's latency targets that apply to a row.
fn lat_target(b2b: bool, stat: &str, l: Lat) -> String {
    let mut out = Vec::new();
    match (b2b, stat) {
        (true, "p50") => {
            if let (Some(v), Some(d)) = (l.vb, l.dd) {
                out.push(format!("<= ddsperf {}", met(v <= d)));
            }
        }
        (false, "p50") => {
            if let (Some(v), Some(d)) = (l.vb, l.dd) {
                out.push(format!("<= 0.5x ddsperf {}", met(v <= 0.5 * d)));
            }
        }
        (false, "p99") => {
            if let (Some(v), Some(u)) = (l.vr, l.ud) {
                out.push(format!("rt <= 1.5x UDP {}", met(v <= 1.5 * u)));
            }
        }
        _ => {}
    }
    if stat == "p50"
        && let (Some(t), Some(z)) = (l.vt, l.zn)
    {
        out.push(format!("tcp <= zenoh+2µs {}", met(t <= z + 2000.0)));
    }
    if out.is_empty() { "-".into() } else { out.join("; ") }
}

fn met(ok: bool) -> &'static str {
    if ok { "met" } else { "**MISSED**" }
}

/// Issue 13's same-host throughput target at `size`: at least this many times raw zenoh (and
/// whether strictly more).
fn thr_target(size: usize) -> (Option<f64>, bool) {
    match size {
        0..=64 => (Some(3.0), false),
        1_048_576.. => (Some(5.0), false),
        _ => (None, false),
    }
}

fn both<T>(a: Option<&T>, b: Option<&T>, f: impl Fn(&T, &T) -> f64) -> Option<f64> {
    Some(f(a?, b?))
}

fn ratio(a: Option<f64>, b: Option<f64>) -> Option<String> {
    Some(fmt_ratio(a? / b?))
}

fn opt(s: Option<String>) -> String {
    s.unwrap_or_else(|| "-".into())
}

fn fmt_ratio(x: f64) -> String {
    format!("{x:.2}x")
}

fn fmt_rate(x: f64) -> String {
    if x >= 1e6 {
        format!("{:.2} M", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.1} k", x / 1e3)
    } else {
        format!("{x:.0}")
    }
}

fn fmt_us(ns: f64) -> String {
    let us = ns / 1e3;
    if us >= 100.0 { format!("{us:.0}") } else { format!("{us:.1}") }
}

/// CPU time per message in µs, two decimals below 10 µs.
fn fmt_cpu(ns: f64) -> String {
    let us = ns / 1e3;
    if us < 10.0 { format!("{us:.2}") } else { fmt_us(ns) }
}

fn fmt_mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn size_label(size: usize) -> String {
    match size {
        s if s >= 1 << 20 && s % (1 << 20) == 0 => format!("{} MiB", s >> 20),
        s if s >= 1 << 10 && s % (1 << 10) == 0 => format!("{} KiB", s >> 10),
        s => format!("{s} B"),
    }
}

fn rate_label(r: f64) -> String {
    if r >= 1000.0 && r % 1000.0 == 0.0 { format!("{} kHz", r / 1000.0) } else { format!("{r} Hz") }
}

fn progress(key: &str, size: usize, label: &str, l: &Latency) {
    eprintln!(
        "[lat {key} {}] {label:<26} p50 {:>7} p99 {:>7} p99.9 {:>7} max {:>7} us (n {})",
        size_label(size),
        fmt_us(l.p50),
        fmt_us(l.p99),
        fmt_us(l.p999),
        fmt_us(l.max),
        l.n
    );
}

/// ddsperf's KS topic has a 12-byte fixed part; smaller sizes mean "minimal" (12 B).
fn dds_size(size: usize) -> String {
    if size < 12 { "0".into() } else { size.to_string() }
}

fn strs(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

fn median(xs: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = xs.collect();
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 { v[m] } else { (v[m - 1] + v[m]) / 2.0 }
}

fn median_latency(ls: &[Latency]) -> Latency {
    Latency {
        n: ls.iter().map(|l| l.n).sum(),
        lost: ls.iter().map(|l| l.lost).sum(),
        p50: median(ls.iter().map(|l| l.p50)),
        p99: median(ls.iter().map(|l| l.p99)),
        p999: median(ls.iter().map(|l| l.p999)),
        max: ls.iter().map(|l| l.max).fold(0.0, f64::max),
        mean: median(ls.iter().map(|l| l.mean)),
    }
}

fn which(bin: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| Path::new(&d).join(bin).is_file()))
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{cpus} CPUs ({model}), Linux {}", kernel.trim())
}

/// Today's UTC date, YYYY-MM-DD (civil-from-days, no calendar crate needed).
fn today() -> String {
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() / 86_400)
        .unwrap_or(0) as i64;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddsperf_latency_lines_parse() {
        let lines: Vec<String> = [
            "[1] participant vm:1: new (self)",
            "[1] 1.000  vm:2 size 64 mean 60.0us min 9.0us 50% 50.0us 90% 120.0us 99% 900.0us max 900.0us cnt 99",
            "[1] 2.000  vm:2 size 64 mean 40.0us min 9.0us 50% 40.0us 90% 50.0us 99% 80.0us max 150.0us cnt 100",
            "[1] 3.000  vm:2 size 64 mean 42.0us min 9.0us 50% 42.0us 90% 52.0us 99% 100.0us max 200.0us cnt 300",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let l = parse_ddsperf_latency(&lines).unwrap();
        assert_eq!(l.n, 400);
        assert_eq!(l.p50, 42_000.0);
        assert_eq!(l.p99, 95_000.0);
        assert_eq!(l.max, 200_000.0);
        assert!(parse_ddsperf_latency(&lines[..1]).is_err());
    }

    #[test]
    fn labels_and_targets() {
        assert_eq!(size_label(8), "8 B");
        assert_eq!(size_label(1024), "1 KiB");
        assert_eq!(size_label(1 << 20), "1 MiB");
        assert_eq!(rate_label(1000.0), "1 kHz");
        assert_eq!(rate_label(100.0), "100 Hz");
        assert_eq!(thr_target(64), (Some(3.0), false));
        assert_eq!(thr_target(65536), (None, false));
        assert_eq!(thr_target(1 << 20), (Some(5.0), false));
        assert_eq!(dds_size(8), "0");
        assert_eq!(median([3.0, 1.0, 2.0].into_iter()), 2.0);
        assert!(today().starts_with("20"));
    }
}
