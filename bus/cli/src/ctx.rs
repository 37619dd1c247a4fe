//! Joining the bus, and what every command needs: the node, the schema cache, topic lookups
//! with "did you mean" errors, key-expression checks and the stop signal.

use std::time::Duration;

use tokio::sync::Mutex;
use vbus::{Mode, Node, NodeConfig, TopicInfo, zenoh::key_expr::KeyExpr};
use vbus_reflect::did_you_mean;

use crate::{
    Failure, Global, Result,
    schemas::{Local, Schemas},
};

/// The `.bfbs` files given with `--schema`.
pub fn local_schemas(g: &Global) -> Result<Vec<Local>> {
    g.schemas
        .iter()
        .map(|p| {
            let bfbs = std::fs::read(p).map_err(|e| Failure::new(format!("{}: {e}", p.display())))?;
            let schema = vbus_reflect::Schema::from_bfbs(&bfbs).map_err(|e| {
                Failure::new(format!("{}: {e}", p.display()))
                    .hint("--schema takes a binary schema: flatc -b --schema x.fbs")
            })?;
            Ok(Local { bfbs, schema })
        })
        .collect()
}

/// The node the tool runs as, and shared state.
pub struct Ctx {
    pub node: Node,
    pub json: bool,
    pub schemas: Mutex<Schemas>,
}

/// The configuration the tool runs with, from the global options.
pub fn config(g: &Global) -> Result<(NodeConfig, String)> {
    let (mut cfg, source) = match &g.config {
        Some(path) => {
            (NodeConfig::from_file(path).map_err(vbus::Error::from)?, format!("{}", path.display()))
        }
        None => {
            // A tool routes through the router rather than joining the peer mesh.
            let c = NodeConfig { mode: Mode::Client, listen: Some(Vec::new()), ..NodeConfig::default() };
            (c, "built-in defaults".to_owned())
        }
    };
    if cfg.mode == Mode::Router {
        // A router's configuration: be a client of that router.
        let endpoints: Vec<String> =
            cfg.effective_listen().into_iter().map(|e| e.replace("0.0.0.0", "127.0.0.1")).collect();
        cfg.mode = Mode::Client;
        cfg.connect = Some(endpoints);
        cfg.listen = Some(Vec::new());
    }
    cfg.name = format!("vbus-cli-{}", std::process::id());
    if let Some(d) = &g.domain {
        cfg.domain = d.clone();
    }
    if !g.connect.is_empty() {
        cfg.connect = Some(g.connect.clone());
    }
    cfg.validate().map_err(|e| {
        Failure::new(e.to_string()).hint("endpoints look like tcp/127.0.0.1:7447; domains are one key chunk")
    })?;
    Ok((cfg, source))
}

impl Ctx {
    /// Open the tool's node; errors say what to check.
    pub async fn open(g: &Global) -> Result<Self> {
        let (cfg, _) = config(g)?;
        local_schemas(g)?; // refuse bad files before joining
        let connect = cfg.effective_connect();
        let node = Node::open(cfg).await.map_err(|e| {
            Failure::new(format!("cannot join the bus: {e}"))
                .hint(format!("is a vbus router running at {}? (`vbus doctor` checks)", connect.join(", ")))
                .hint("use --connect ENDPOINT or --config FILE to reach another one")
        })?;
        let locals = local_schemas(g)?;
        Ok(Self { schemas: Mutex::new(Schemas::new(node.clone(), locals)), node, json: g.json })
    }

    /// Withdraw from the bus.
    pub async fn close(self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.node.close()).await;
    }

    /// Endpoints announced in the domain (other tools excluded).
    pub async fn topics(&self) -> Result<Vec<TopicInfo>> {
        let mut t = self.node.topics().await?;
        t.retain(|i| !i.node.starts_with("vbus-cli-"));
        Ok(t)
    }

    /// The type of topic `key`, from the endpoints that announce it.
    pub async fn topic_type(&self, key: &str) -> Result<String> {
        let topics = self.topics().await?;
        let mut types: Vec<(&str, &str)> =
            topics.iter().filter(|t| t.key == key).map(|t| (t.type_name.as_str(), t.node.as_str())).collect();
        types.sort();
        types.dedup_by(|a, b| a.0 == b.0);
        match types.as_slice() {
            [(t, _)] => Ok((*t).to_owned()),
            [] => Err(unknown_topic(key, &topics).hint("or give the type with --type TYPE")),
            many => Err(Failure::new(format!(
                "nodes disagree on the type of `{key}`: {}",
                many.iter().map(|(t, n)| format!("{t} (node {n})")).collect::<Vec<_>>().join(", ")
            ))
            .hint("pick one with --type TYPE")),
        }
    }

    /// Warn (on stderr) when no announced topic matches `expr`, suggesting a close key.
    pub async fn warn_if_unknown(&self, expr: &str) {
        let Ok(topics) = self.topics().await else { return };
        let Ok(ke) = KeyExpr::try_from(vbus::wire::data_key(self.node.domain(), expr)) else { return };
        let known = topics.iter().any(|t| {
            KeyExpr::try_from(vbus::wire::data_key(self.node.domain(), &t.key))
                .is_ok_and(|k| ke.intersects(&k))
        });
        if !known {
            let f = unknown_topic(expr, &topics);
            eprintln!("warning: {}; waiting for samples anyway", f.message);
            for h in f.hints {
                eprintln!("  hint: {h}");
            }
        }
    }
}

/// "No node announces `key`", with the closest announced key.
pub fn unknown_topic(key: &str, topics: &[TopicInfo]) -> Failure {
    let mut keys: Vec<&str> = topics.iter().map(|t| t.key.as_str()).collect();
    keys.sort();
    keys.dedup();
    let mut f = Failure::new(format!("no node announces topic `{key}`"));
    if let Some(s) = did_you_mean(key, keys.iter().copied()) {
        f = f.hint(format!("did you mean `{s}`?"));
    } else if !keys.is_empty() {
        let shown: Vec<&str> = keys.iter().copied().take(8).collect();
        f = f.hint(format!(
            "known topics: {}{}",
            shown.join(", "),
            if keys.len() > 8 { ", ..." } else { "" }
        ));
    } else {
        f = f.hint("no topic is announced at all: wrong --domain, or no publisher running? (`vbus doctor`)");
    }
    f
}

/// Check a key expression relative to the domain, with an explanation when it is not one.
pub fn check_key_expr(domain: &str, expr: &str) -> Result<()> {
    let explain = "key expressions are `/`-separated chunks relative to the domain; `*` matches one chunk, \
                   `**` any number (e.g. `chassis/speed`, `chassis/*`, `**`)";
    if let Some(rest) = expr.strip_prefix(&format!("vbus/{domain}/")) {
        return Err(Failure::new(format!("`{expr}` includes the domain prefix"))
            .hint(format!("keys are relative to the domain: use `{rest}`")));
    }
    if expr.starts_with('/') || expr.ends_with('/') || expr.contains("//") {
        return Err(
            Failure::new(format!("`{expr}` is not a valid key expression: empty chunk")).hint(explain)
        );
    }
    if expr.split('/').any(|c| c.starts_with('@')) {
        return Err(Failure::new(format!("`{expr}`: chunks starting with `@` are reserved for vbus itself"))
            .hint(explain));
    }
    KeyExpr::try_from(vbus::wire::data_key(domain, expr))
        .map_err(|e| Failure::new(format!("`{expr}` is not a valid key expression: {e}")).hint(explain))?;
    Ok(())
}

/// A topic key (no wildcards) for publishing.
pub fn check_key(domain: &str, key: &str) -> Result<()> {
    check_key_expr(domain, key)?;
    if key.split('/').any(|c| c.contains('*') || c.contains('$')) {
        return Err(Failure::new(format!("`{key}` has wildcards; publishing needs one topic key"))
            .hint("e.g. `chassis/speed`"));
    }
    Ok(())
}

/// Resolves when the user asks to stop: Ctrl-C (SIGINT) or SIGTERM. The handlers are installed
/// when this is called (not when first polled), so a signal that comes early is not lost.
pub fn stop_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let int = signal(SignalKind::interrupt());
        let term = signal(SignalKind::terminate());
        async move {
            match (int, term) {
                (Ok(mut int), Ok(mut term)) => {
                    tokio::select! {
                        _ = int.recv() => {}
                        _ = term.recv() => {}
                    }
                }
                _ => std::future::pending().await,
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Resolves after `secs` seconds, or never.
pub async fn deadline(secs: Option<f64>) {
    match secs {
        Some(s) => tokio::time::sleep(Duration::from_secs_f64(s.max(0.0))).await,
        None => std::future::pending().await,
    }
}
