//! `vbus doctor`: checks the configuration, reachability of routers and peers, the nodes of
//! the domain, then listens for a while and checks schemas, clocks and delivery. Each finding
//! is a sentence that says what is wrong and what to do; the exit code is 1 when something is.

use std::{
    collections::{BTreeMap, BTreeSet},
    time::{Duration, Instant},
};

use clap::Args;
use serde_json::json;
use vbus::{Mode, Node, wire};

use crate::{Failure, Global, Result, ctx, render, schemas};

#[derive(Args, Debug)]
pub struct DoctorArgs {
    /// Seconds to listen to the traffic of the domain.
    #[arg(long, default_value_t = 2.0, value_name = "SECS")]
    duration: f64,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Status {
    Ok,
    Info,
    Warn,
    Fail,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Info => "info",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        }
    }
}

struct Report {
    json: bool,
    checks: Vec<(Status, &'static str, String)>,
}

impl Report {
    fn add(&mut self, status: Status, area: &'static str, message: impl Into<String>) {
        let message = message.into();
        if !self.json {
            println!("{:<5} {area}: {message}", status.label());
        }
        self.checks.push((status, area, message));
    }

    fn finish(self, domain: &str) -> Result<()> {
        let count = |s| self.checks.iter().filter(|c| c.0 == s).count();
        let (fails, warns) = (count(Status::Fail), count(Status::Warn));
        if self.json {
            let checks: Vec<_> = self
                .checks
                .iter()
                .map(|(s, a, m)| json!({"status": s.label().to_lowercase(), "check": a, "message": m}))
                .collect();
            println!("{}", json!({"domain": domain, "problems": fails, "warnings": warns, "checks": checks}));
        } else {
            let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
            if fails == 0 && warns == 0 {
                println!("all good: no problem found in domain `{domain}`");
            } else {
                println!("{}, {} in domain `{domain}`", plural(fails, "problem"), plural(warns, "warning"));
            }
        }
        if fails > 0 { Err(Failure::exit(1)) } else { Ok(()) }
    }
}

/// What was seen on one key while listening.
#[derive(Default)]
struct KeyStats {
    count: u64,
    bad_header: u64,
    header_error: Option<String>,
    types: BTreeSet<String>,
    /// type hash -> publisher ids that sent it
    hashes: BTreeMap<u64, BTreeSet<u64>>,
    /// publisher id -> (last seq, lost, min of receive time minus source time in ns)
    publishers: BTreeMap<u64, (u64, u64, i128)>,
    first: Option<Instant>,
    last: Option<Instant>,
    payload: Option<Vec<u8>>,
}

pub async fn run(g: &Global, a: DoctorArgs) -> Result<()> {
    let mut r = Report { json: g.json, checks: Vec::new() };
    // 1. Configuration.
    let (cfg, source) = match ctx::config(g) {
        Ok(c) => c,
        Err(f) => {
            r.add(Status::Fail, "config", format!("{} ({})", f.message, f.hints.join("; ")));
            return r.finish(g.domain.as_deref().unwrap_or("?"));
        }
    };
    let domain = cfg.domain.clone();
    if !r.json {
        println!("vbus doctor: domain `{domain}`");
    }
    let connect = cfg.effective_connect();
    r.add(
        Status::Ok,
        "config",
        format!(
            "{source}: {} of domain `{domain}`, connecting to {}",
            cfg.mode,
            if connect.is_empty() { "nothing".into() } else { connect.join(", ") }
        ),
    );
    if connect.is_empty() && cfg.mode == Mode::Client {
        r.add(
            Status::Fail,
            "config",
            "a client with no endpoint to connect to reaches nobody: add one with --connect",
        );
        return r.finish(&domain);
    }
    // 2. Reachability of each endpoint.
    let mut reachable = 0;
    for ep in &connect {
        let Some(addr) = ep.strip_prefix("tcp/") else {
            r.add(Status::Info, "network", format!("{ep}: only tcp endpoints are checked"));
            reachable += 1;
            continue;
        };
        let addr = addr.split('#').next().unwrap_or(addr);
        let t = Instant::now();
        match tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect(addr)).await {
            Ok(Ok(_)) => {
                reachable += 1;
                r.add(Status::Ok, "network", format!("{ep} accepts connections ({})", render::secs(t.elapsed().as_secs_f64())));
            }
            Ok(Err(e)) => r.add(
                Status::Fail,
                "network",
                format!("nothing accepts connections at {ep} ({e}): is the vbus router running there? (a node with mode `router`, e.g. the one `vbus-demo` starts)"),
            ),
            Err(_) => r.add(Status::Fail, "network", format!("{ep} does not answer within 2 s: a firewall, or a wrong address?")),
        }
    }
    if reachable == 0 && cfg.mode == Mode::Client {
        return r.finish(&domain);
    }
    // 3. The session.
    let node = match Node::open(cfg).await {
        Ok(n) => n,
        Err(e) => {
            r.add(Status::Fail, "session", format!("cannot join the bus: {e}"));
            return r.finish(&domain);
        }
    };
    let result = diagnose(&mut r, &node, &domain, a.duration).await;
    let _ = tokio::time::timeout(Duration::from_secs(2), node.close()).await;
    result?;
    r.finish(&domain)
}

async fn diagnose(r: &mut Report, node: &Node, domain: &str, duration: f64) -> Result<()> {
    let info = node.session().info();
    let routers = info.routers_zid().await.count();
    let peers = info.peers_zid().await.count();
    if routers + peers == 0 {
        r.add(Status::Fail, "session", "the session is open but connected to no router or peer");
    } else {
        r.add(
            Status::Ok,
            "session",
            format!("connected to {routers} router(s) and {peers} peer(s) (zid {})", node.session().zid()),
        );
    }
    // The same-host path (shared memory), as this machine offers it to nodes.
    match node.local_path() {
        vbus::LocalPath::SharedMemory { .. } => r.add(
            Status::Ok,
            "data path",
            format!("samples between processes of this host go through {}", node.local_path()),
        ),
        vbus::LocalPath::Disabled => r.add(Status::Info, "data path", node.local_path().to_string()),
        vbus::LocalPath::Unavailable { reason } => r.add(
            Status::Warn,
            "data path",
            format!(
                "shared memory unavailable ({reason}): samples between processes of this host go through zenoh, \
                 with more latency and CPU (give the host a larger /dev/shm)"
            ),
        ),
    }
    // 4. Nodes of the domain, and of other domains when this one is empty.
    let me = node.name().to_owned();
    let nodes: Vec<String> =
        node.alive_nodes().await?.into_iter().filter(|n| *n != me && !n.starts_with("vbus-cli-")).collect();
    if nodes.is_empty() {
        let mut others = BTreeSet::new();
        if let Ok(replies) = node.session().liveliness().get(format!("{}/*/@node/*", wire::KEY_PREFIX)).await
        {
            while let Ok(reply) = replies.recv_async().await {
                if let Ok(s) = reply.into_result()
                    && let Some(d) = s.key_expr().as_str().split('/').nth(1)
                    && d != domain
                {
                    others.insert(d.to_owned());
                }
            }
        }
        let hint = if others.is_empty() {
            "no node runs anywhere this router knows".to_owned()
        } else {
            format!(
                "nodes are alive in domain(s) {}: pass --domain",
                others.into_iter().collect::<Vec<_>>().join(", ")
            )
        };
        r.add(Status::Warn, "nodes", format!("no node is alive in domain `{domain}`; {hint}"));
    } else {
        r.add(Status::Ok, "nodes", format!("{} alive: {}", nodes.len(), nodes.join(", ")));
    }
    let topics: Vec<vbus::TopicInfo> =
        node.topics().await?.into_iter().filter(|t| !t.node.starts_with("vbus-cli-")).collect();

    // 5. Listen.
    let sub = node.raw_subscriber("**").queue(65_536).create().await?;
    let mut keys: BTreeMap<String, KeyStats> = BTreeMap::new();
    let end = Instant::now() + Duration::from_secs_f64(duration.max(0.1));
    while let Ok(Ok(s)) = tokio::time::timeout_at(end.into(), sub.recv()).await {
        let k = keys.entry(s.key().to_owned()).or_default();
        let now = Instant::now();
        k.count += 1;
        k.first.get_or_insert(now);
        k.last = Some(now);
        if let Some(t) = s.type_name() {
            k.types.insert(t.to_owned());
        }
        match s.header() {
            Ok(h) => {
                k.hashes.entry(h.type_hash).or_default().insert(h.publisher_id);
                let offset = i128::from(s.received_ns()) - i128::from(h.source_time_ns);
                let p = k.publishers.entry(h.publisher_id).or_insert((h.seq.saturating_sub(1), 0, offset));
                if h.seq > p.0 + 1 {
                    p.1 += h.seq - p.0 - 1;
                }
                p.0 = p.0.max(h.seq);
                p.2 = p.2.min(offset);
                if k.payload.is_none() {
                    k.payload = Some(s.payload().to_vec());
                }
            }
            Err(e) => {
                k.bad_header += 1;
                k.header_error.get_or_insert(e.to_string());
            }
        }
    }
    let dropped = sub.stats().dropped;
    let with_data = keys.values().filter(|k| k.count > 0).count();
    r.add(
        Status::Ok,
        "traffic",
        format!(
            "{} samples on {with_data} key{} in {duration} s",
            keys.values().map(|k| k.count).sum::<u64>(),
            if with_data == 1 { "" } else { "s" }
        ),
    );

    // 6. Schemas served: one version per type.
    let served = schemas::scan(node).await;
    let mut by_type: BTreeMap<&str, BTreeMap<u64, BTreeSet<String>>> = BTreeMap::new();
    for s in &served {
        by_type
            .entry(&s.type_name)
            .or_default()
            .entry(s.type_hash)
            .or_default()
            .insert(s.served_by.clone().unwrap_or_else(|| "?".into()));
    }
    let mut conflicts = 0;
    for (t, hashes) in &by_type {
        if hashes.len() > 1 {
            conflicts += 1;
            let versions: Vec<String> = hashes
                .iter()
                .map(|(h, z)| format!("{h:#018x} (zid {})", z.iter().cloned().collect::<Vec<_>>().join(", ")))
                .collect();
            r.add(
                Status::Fail,
                "schemas",
                format!(
                    "nodes serve {} different versions of {t}: {}; rebuild them from the same schema",
                    hashes.len(),
                    versions.join(", ")
                ),
            );
        }
    }
    if conflicts == 0 {
        r.add(
            Status::Ok,
            "schemas",
            format!(
                "{} type{} served, one version each",
                by_type.len(),
                if by_type.len() == 1 { "" } else { "s" }
            ),
        );
    }
    let served_hash =
        |t: &str| by_type.get(t).and_then(|h| (h.len() == 1).then(|| *h.keys().next().expect("one")));

    // 7. What endpoints announce: one type per key.
    let mut announced: BTreeMap<&str, BTreeMap<&str, Vec<String>>> = BTreeMap::new();
    for t in &topics {
        announced.entry(&t.key).or_default().entry(&t.type_name).or_default().push(format!(
            "{} {}",
            if t.publisher { "publisher" } else { "subscriber" },
            t.node
        ));
    }
    for (key, types) in &announced {
        if types.len() > 1 {
            let who: Vec<String> = types.iter().map(|(t, w)| format!("{} use {t}", w.join(", "))).collect();
            r.add(
                Status::Fail,
                "types",
                format!("`{key}`: endpoints disagree on its type: {}", who.join("; ")),
            );
        }
    }
    let publishers_of = |key: &str| -> String {
        let names: BTreeSet<&str> =
            topics.iter().filter(|t| t.publisher && t.key == key).map(|t| t.node.as_str()).collect();
        if names.is_empty() {
            "an unannounced publisher".into()
        } else {
            names.into_iter().collect::<Vec<_>>().join(", ")
        }
    };

    // 8. Per key: headers, hashes, payloads, losses, clocks, rates.
    let mut findings = 0;
    let mut clock_ok = 0;
    for (key, k) in &keys {
        let who = publishers_of(key);
        if k.bad_header > 0 {
            findings += 1;
            r.add(Status::Fail, "delivery", format!(
                "`{key}`: {} of {} samples have no valid vbus header ({}); vbus subscribers reject them: is a plain zenoh publisher writing there?",
                k.bad_header, k.count, k.header_error.as_deref().unwrap_or("?")));
        }
        if k.hashes.len() > 1 {
            findings += 1;
            let versions: Vec<String> = k
                .hashes
                .iter()
                .map(|(h, p)| {
                    format!("{h:#018x} from {} publisher{}", p.len(), if p.len() == 1 { "" } else { "s" })
                })
                .collect();
            r.add(Status::Fail, "schemas", format!(
                "`{key}`: publishers send different type hashes ({}): one was built from another version of the schema, and subscribers drop its samples as mismatched",
                versions.join(", ")));
        }
        if let Some(t) = k.types.iter().next() {
            if let Some(served) = served_hash(t) {
                for h in k.hashes.keys().filter(|h| **h != served) {
                    findings += 1;
                    r.add(Status::Fail, "schemas", format!(
                        "`{key}`: samples carry type hash {h:#018x}, but the schema served for {t} has {served:#018x}: the publisher ({who}) and the schema's owner disagree on {t}"));
                }
            }
            if let Some(p) = &k.payload
                && let Some(bfbs) = served.iter().find(|s| s.type_name == *t).map(|s| &s.bfbs)
                && let Ok(schema) = vbus_reflect::Schema::from_bfbs(bfbs)
            {
                if let Err(e) = vbus_reflect::verify(&schema, t, p) {
                    findings += 1;
                    r.add(
                        Status::Fail,
                        "schemas",
                        format!("`{key}`: a sample does not verify against the schema of {t}: {e}"),
                    );
                }
                // 9. Rate against the schema's declared period.
                if let Some(period) = schema
                    .object(t)
                    .and_then(|o| o.attr("vbus_period_ms"))
                    .and_then(|p| p.parse::<f64>().ok())
                    && period > 0.0
                {
                    let expected = 1000.0 / period;
                    let measured = match (k.first, k.last) {
                        (Some(f), Some(l)) if k.count >= 3 && l > f => {
                            (k.count - 1) as f64 / (l - f).as_secs_f64()
                        }
                        _ => k.count as f64 / duration,
                    };
                    if measured < 0.5 * expected {
                        findings += 1;
                        r.add(Status::Warn, "rates", format!(
                            "`{key}`: its schema says every {period} ms ({expected:.1} Hz), measured {measured:.1} Hz from {who}"));
                    }
                }
            }
        }
        let lost: u64 = k.publishers.values().map(|p| p.1).sum();
        if lost > 0 {
            findings += 1;
            r.add(
                Status::Warn,
                "delivery",
                format!(
                    "`{key}`: {lost} samples lost (gaps in sequence numbers) while {} arrived, from {who}",
                    k.count
                ),
            );
        }
        for (pid, (_, _, offset)) in &k.publishers {
            let secs = *offset as f64 / 1e9;
            if secs < -0.05 {
                findings += 1;
                let status = if secs < -1.0 { Status::Fail } else { Status::Warn };
                r.add(status, "clock", format!(
                    "the clock of {who} (publishing `{key}`, publisher {pid:016x}) is {} ahead of this host: samples arrive before they were sent; synchronize clocks (PTP/NTP), or lifespans and latencies are wrong",
                    render::secs(-secs)));
            } else if secs > 1.0 {
                findings += 1;
                r.add(Status::Warn, "clock", format!(
                    "samples on `{key}` from {who} arrive {} after their source time: that publisher's clock is behind this host's, or the network is slow",
                    render::secs(secs)));
            } else {
                clock_ok += 1;
            }
        }
    }
    // Announced periodic topics that stayed silent.
    for (key, types) in &announced {
        if keys.contains_key(*key) || !topics.iter().any(|t| t.publisher && t.key == *key) {
            continue;
        }
        for t in types.keys() {
            let period = served
                .iter()
                .find(|s| s.type_name == *t)
                .and_then(|s| vbus_reflect::Schema::from_bfbs(&s.bfbs).ok())
                .and_then(|s| s.object(t).and_then(|o| o.attr("vbus_period_ms")).map(str::to_owned));
            if let Some(p) = period {
                findings += 1;
                r.add(Status::Warn, "rates", format!(
                    "`{key}`: announced by {} with a period of {p} ms, but no sample came in {duration} s", publishers_of(key)));
            }
        }
    }
    if clock_ok > 0 && !r.checks.iter().any(|c| c.1 == "clock") {
        r.add(
            Status::Ok,
            "clock",
            format!(
                "{clock_ok} publisher clock{} agree with this host's",
                if clock_ok == 1 { "" } else { "s" }
            ),
        );
    }
    if findings == 0 && !keys.is_empty() {
        r.add(Status::Ok, "delivery", "no lost, malformed or mismatched samples");
    }
    if dropped > 0 {
        r.add(
            Status::Warn,
            "doctor",
            format!("this tool dropped {dropped} samples (queue full); the numbers above are partial"),
        );
    }
    Ok(())
}
