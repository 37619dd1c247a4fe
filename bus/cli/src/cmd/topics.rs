//! `vbus topics`: every announced topic with its type, measured rate, publishers and
//! subscribers; plus keys that carry data without being announced, and services found in
//! served schemas.

use std::{
    collections::{BTreeMap, BTreeSet},
    time::{Duration, Instant},
};

use clap::Args;
use serde_json::json;

use crate::{Result, ctx::Ctx, render};

#[derive(Args, Debug)]
pub struct TopicsArgs {
    /// Seconds to listen for measuring rates (0: do not measure).
    #[arg(long, default_value_t = 1.0, value_name = "SECS")]
    window: f64,
}

#[derive(Default)]
struct Row {
    types: BTreeSet<String>,
    publishers: BTreeSet<String>,
    subscribers: BTreeSet<String>,
    count: u64,
    first: Option<Instant>,
    last: Option<Instant>,
}

impl Row {
    /// Samples per second: over the span between first and last sample when there are
    /// enough, else over the window.
    fn rate(&self, window: f64) -> Option<f64> {
        if window <= 0.0 {
            return None;
        }
        match (self.first, self.last) {
            (Some(f), Some(l)) if self.count >= 3 && l > f => {
                Some((self.count - 1) as f64 / (l - f).as_secs_f64())
            }
            _ => Some(self.count as f64 / window),
        }
    }
}

pub async fn run(ctx: &Ctx, a: TopicsArgs) -> Result<()> {
    let mut rows: BTreeMap<String, Row> = BTreeMap::new();
    for t in ctx.topics().await? {
        let r = rows.entry(t.key.clone()).or_default();
        r.types.insert(t.type_name.clone());
        if t.publisher {
            r.publishers.insert(t.node.clone());
        } else {
            r.subscribers.insert(t.node.clone());
        }
    }
    if a.window > 0.0 {
        let sub = ctx.node.raw_subscriber("**").queue(65_536).create().await?;
        let end = Instant::now() + Duration::from_secs_f64(a.window);
        while let Ok(Ok(s)) = tokio::time::timeout_at(end.into(), sub.recv()).await {
            let r = rows.entry(s.key().to_owned()).or_default();
            if let Some(t) = s.type_name()
                && r.types.is_empty()
            {
                r.types.insert(t.to_owned());
            }
            r.count += 1;
            let now = Instant::now();
            r.first.get_or_insert(now);
            r.last = Some(now);
        }
    }
    let services = ctx.schemas.lock().await.services().await;
    let join = |s: &BTreeSet<String>| s.iter().cloned().collect::<Vec<_>>().join(", ");
    if ctx.json {
        let topics: Vec<_> = rows
            .iter()
            .map(|(k, r)| {
                json!({
                    "key": k,
                    "type": r.types.iter().next(),
                    "types": r.types,
                    "rate_hz": r.rate(a.window),
                    "publishers": r.publishers,
                    "subscribers": r.subscribers,
                    "announced": !(r.publishers.is_empty() && r.subscribers.is_empty()),
                })
            })
            .collect();
        let services: Vec<_> =
            services.iter().map(|(k, req, rep)| json!({"key": k, "request": req, "reply": rep})).collect();
        println!("{}", json!({"topics": topics, "services": services}));
        return Ok(());
    }
    if rows.is_empty() {
        println!("no topics in domain `{}`", ctx.node.domain());
    } else {
        let table: Vec<Vec<String>> = rows
            .iter()
            .map(|(k, r)| {
                let rate = match r.rate(a.window) {
                    Some(x) if r.count > 0 => format!("{x:.1} Hz"),
                    Some(_) => "-".into(),
                    None => "?".into(),
                };
                let publishers = if r.publishers.is_empty() && r.count > 0 {
                    "(not announced)".into()
                } else {
                    join(&r.publishers)
                };
                let types = if r.types.is_empty() { "?".into() } else { join(&r.types) };
                vec![k.clone(), types, rate, publishers, join(&r.subscribers)]
            })
            .collect();
        print!("{}", render::table(&["TOPIC", "TYPE", "RATE", "PUBLISHERS", "SUBSCRIBERS"], &table));
    }
    if !services.is_empty() {
        println!();
        let table: Vec<Vec<String>> = services
            .iter()
            .map(|(k, req, rep)| vec![k.clone(), req.clone(), rep.clone().unwrap_or_else(|| "?".into())])
            .collect();
        print!("{}", render::table(&["SERVICE (from schemas)", "REQUEST", "REPLY"], &table));
    }
    Ok(())
}
