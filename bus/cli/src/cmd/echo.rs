//! `vbus echo KEY`: samples decoded to JSON through the schema their publisher serves.

use std::time::{Duration, Instant};

use clap::Args;
use serde_json::{Value, json};
use vbus::RawSample;

use crate::{
    Failure, Result,
    ctx::{self, Ctx},
    render,
};

#[derive(Args, Debug)]
pub struct EchoArgs {
    /// Topic key or key expression (`chassis/speed`, `chassis/*`, `**`), or a bridge's health
    /// key (`@bridge/cloud/stats`, `@bridge/can/*/stats`, `@bridge/**`: JSON, shown as is).
    key: String,
    /// Stop after this many samples.
    #[arg(long, short = 'n', value_name = "N")]
    count: Option<u64>,
    /// Stop after this many seconds (an error if no sample came).
    #[arg(long, value_name = "SECS")]
    duration: Option<f64>,
    /// Print only the decoded data (with --json: one JSON document per line).
    #[arg(long)]
    data_only: bool,
}

/// A sample as decoded for display.
pub struct Decoded {
    pub data: Option<Value>,
    pub note: Option<String>,
}

/// Decode `s` through the schema of its type, saying why not when it cannot.
pub async fn decode(ctx: &Ctx, s: &RawSample) -> Decoded {
    let Some(type_name) = s.type_name() else {
        // Bridges' health and counters (`@bridge/...`) are JSON documents.
        if let Ok(v) = serde_json::from_slice::<Value>(s.payload()) {
            return Decoded { data: Some(v), note: None };
        }
        return Decoded { data: None, note: Some("the sample's encoding names no type".into()) };
    };
    let entry = ctx.schemas.lock().await.get(type_name).await;
    let Some(entry) = entry else {
        return Decoded { data: None, note: Some(format!("no node serves the schema of {type_name}")) };
    };
    let mut note = None;
    if let Ok(h) = s.header()
        && h.type_hash != entry.type_hash
    {
        note = Some(format!(
            "type hash {:#018x} differs from the served schema's {:#018x} (schema mismatch)",
            h.type_hash, entry.type_hash
        ));
    }
    match vbus_reflect::decode_to_json(&entry.schema, type_name, s.payload()) {
        Ok(v) => Decoded { data: Some(v), note },
        Err(e) => Decoded { data: None, note: Some(e.to_string()) },
    }
}

/// The JSON line of a sample.
pub fn json_line(s: &RawSample, d: &Decoded) -> Value {
    let mut v = json!({
        "key": s.key(),
        "type": s.type_name(),
        "received_ns": s.received_ns(),
        "data": d.data,
    });
    match s.header() {
        Ok(h) => {
            v["seq"] = json!(h.seq);
            v["source_time_ns"] = json!(h.source_time_ns);
            v["publisher_id"] = json!(format!("{:016x}", h.publisher_id));
            v["type_hash"] = json!(format!("{:016x}", h.type_hash));
        }
        Err(e) => v["header_error"] = json!(e.to_string()),
    }
    if let Some(n) = &d.note {
        v["error"] = json!(n);
    }
    if d.data.is_none() {
        v["payload_hex"] = json!(s.payload().iter().map(|b| format!("{b:02x}")).collect::<String>());
    }
    v
}

pub async fn run(ctx: &Ctx, a: EchoArgs) -> Result<()> {
    match a.key.strip_prefix("@bridge/") {
        // Bridge health keys: `@bridge` is the one reserved chunk a user may read.
        Some(rest) => ctx::check_key_expr(ctx.node.domain(), rest)?,
        None => {
            ctx::check_key_expr(ctx.node.domain(), &a.key)?;
            ctx.warn_if_unknown(&a.key).await;
        }
    }
    let sub = ctx.node.raw_subscriber(&a.key).queue(4096).create().await?;
    let mut received = 0u64;
    let mut last_retry = Instant::now();
    let stop = ctx::stop_signal();
    let deadline = ctx::deadline(a.duration);
    tokio::pin!(stop, deadline);
    while a.count.is_none_or(|n| received < n) {
        let s = tokio::select! {
            _ = &mut stop => break,
            _ = &mut deadline => break,
            s = sub.recv() => match s { Ok(s) => s, Err(_) => break },
        };
        received += 1;
        if last_retry.elapsed() > Duration::from_secs(5) {
            ctx.schemas.lock().await.forget_misses();
            last_retry = Instant::now();
        }
        let d = decode(ctx, &s).await;
        print_sample(ctx.json, a.data_only, &s, &d);
    }
    if received == 0 && (a.duration.is_some() || a.count.is_some()) {
        let topics = ctx.topics().await.unwrap_or_default();
        let mut f = Failure::new(format!(
            "no sample on `{}`{}",
            a.key,
            a.duration.map(|d| format!(" within {d} s")).unwrap_or_default()
        ));
        if !topics.iter().any(|t| t.key == a.key) && !a.key.contains('*') {
            f.hints = ctx::unknown_topic(&a.key, &topics).hints;
        }
        return Err(f);
    }
    Ok(())
}

fn print_sample(json: bool, data_only: bool, s: &RawSample, d: &Decoded) {
    if json {
        let line = if data_only { d.data.clone().unwrap_or(Value::Null) } else { json_line(s, d) };
        println!("{line}");
        return;
    }
    if !data_only {
        let mut head = format!("--- {}", s.key());
        match s.header() {
            Ok(h) => head.push_str(&format!(
                "  #{}  {}  from {:016x}",
                h.seq,
                render::utc(h.source_time_ns),
                h.publisher_id
            )),
            // JSON health documents of bridges carry no vbus header.
            Err(_) if s.type_name().is_none() && d.data.is_some() => {}
            Err(e) => head.push_str(&format!("  (no valid vbus header: {e})")),
        }
        if let Some(t) = s.type_name() {
            head.push_str(&format!("  {t}"));
        }
        println!("{head}");
    }
    if let Some(v) = &d.data {
        print!("{}", render::tree(v, if data_only { 0 } else { 2 }));
    }
    if let Some(n) = &d.note {
        println!("  ({n})");
    }
    if d.data.is_none() {
        println!("  {} bytes: {}", s.payload().len(), render::hex(s.payload()));
    }
}
