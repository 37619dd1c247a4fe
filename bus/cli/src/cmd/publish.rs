//! `vbus pub KEY JSON`: encode JSON through the topic's schema and publish it.

use std::{io::Read, time::Duration};

use clap::Args;
use serde_json::{Value, json};
use vbus_reflect::Schema;

use crate::{
    Failure, Result,
    ctx::{self, Ctx},
    render,
};

#[derive(Args, Debug)]
pub struct PubArgs {
    /// Topic key, e.g. `chassis/speed`.
    key: String,
    /// The sample as JSON or JSON5, e.g. '{kph: 50}'; `-` reads it from stdin.
    #[arg(value_name = "JSON")]
    sample: String,
    /// Type of the topic (default: the type its publishers and subscribers announce).
    #[arg(long = "type", value_name = "TYPE")]
    type_name: Option<String>,
    /// Publish repeatedly at this rate (Hz) until Ctrl-C or --count.
    #[arg(long, value_name = "HZ")]
    rate: Option<f64>,
    /// Number of samples to publish (default 1, or unlimited with --rate).
    #[arg(long, short = 'n', value_name = "N")]
    count: Option<u64>,
    /// Seconds to wait for a subscriber before publishing (samples sent before any subscriber
    /// matches are lost).
    #[arg(long, default_value_t = 2.0, value_name = "SECS")]
    wait: f64,
}

/// Parse a sample given on the command line: JSON, else JSON5.
pub fn parse_json(text: &str) -> Result<Value> {
    let text = if text == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| Failure::new(format!("cannot read stdin: {e}")))?;
        s
    } else {
        text.to_owned()
    };
    serde_json::from_str(&text).or_else(|e| {
        json5::from_str::<Value>(&text).map_err(|_| {
            Failure::new(format!("the sample is not valid JSON (or JSON5): {e}"))
                .hint("quote it for the shell, e.g. '{\"kph\": 50}' or '{kph: 50}'")
        })
    })
}

/// Encode `v` as `type_name`, explaining a mismatch.
pub fn encode(schema: &Schema, type_name: &str, v: &Value) -> Result<Vec<u8>> {
    vbus_reflect::encode_from_json(schema, type_name, v).map_err(|e| match e {
        vbus_reflect::Error::Json { .. } => Failure::new(format!("the JSON does not match {type_name}: {e}"))
            .hint(format!("`vbus schema {type_name}` shows its fields")),
        other => Failure::new(other.to_string()),
    })
}

pub async fn run(ctx: &Ctx, a: PubArgs) -> Result<()> {
    ctx::check_key(ctx.node.domain(), &a.key)?;
    let value = parse_json(&a.sample)?;
    let type_name = match &a.type_name {
        Some(t) => t.clone(),
        None => ctx.topic_type(&a.key).await?,
    };
    let entry = ctx.schemas.lock().await.get(&type_name).await.ok_or_else(|| {
        Failure::new(format!("no node serves a schema containing {type_name}"))
            .hint("publishers serve the schemas of their types; give one with --schema FILE.bfbs")
    })?;
    let (schema, type_hash) = (entry.schema.clone(), entry.type_hash);
    schema.table(&type_name)?;
    let payload = encode(&schema, &type_name, &value)?;
    let mut publisher = ctx.node.raw_publisher(&a.key, &type_name, type_hash).create().await?;
    // Serve the type's schema like any publisher, so that subscribers with nothing compiled
    // (`vbus echo`, the cloud rules, the live view) read these samples even when the schema came
    // from a file.
    let subset = vbus_reflect::subset_bfbs(&entry.bfbs, &type_name)?;
    ctx.node.serve_schema_bytes(&type_name, type_hash, subset.into())?;
    let matched = publisher.wait_for_subscribers(Duration::from_secs_f64(a.wait.max(0.0))).await;
    if !matched && !ctx.json {
        eprintln!("note: no subscriber of `{}` matched within {} s; publishing anyway", a.key, a.wait);
    }
    let count = a.count.unwrap_or(if a.rate.is_some() { u64::MAX } else { 1 });
    let period = a.rate.filter(|r| *r > 0.0).map(|r| Duration::from_secs_f64(1.0 / r));
    let mut sent = 0u64;
    let stop = ctx::stop_signal();
    tokio::pin!(stop);
    let mut tick = period.map(tokio::time::interval);
    while sent < count {
        if let Some(t) = &mut tick {
            tokio::select! {
                _ = &mut stop => break,
                _ = t.tick() => {}
            }
        }
        publisher.publish(&payload)?;
        sent += 1;
    }
    // Let the transport hand the last samples over before the session closes.
    tokio::time::sleep(Duration::from_millis(300)).await;
    if ctx.json {
        println!(
            "{}",
            json!({"key": a.key, "type": type_name, "type_hash": format!("{type_hash:016x}"),
                   "published": sent, "bytes": payload.len(), "subscribers_matched": matched})
        );
    } else {
        println!(
            "published {sent} sample{} of {type_name} on {} ({})",
            if sent == 1 { "" } else { "s" },
            a.key,
            render::bytes(payload.len() as f64)
        );
    }
    Ok(())
}
