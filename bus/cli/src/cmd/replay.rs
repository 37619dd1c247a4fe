//! `vbus replay FILE`: publish the messages of an MCAP recording again, with the original
//! timing (scaled by `--rate`), optionally looping and filtered by topic.
//!
//! Each channel is published as its topic key with the recorded type name and type hash (from
//! the channel metadata `vbus record` writes, else recomputed from the embedded schema), so
//! typed subscribers accept the samples. A recording cut short (recorder killed) plays up to
//! where it is readable.

use std::{
    collections::HashMap,
    path::PathBuf,
    time::{Duration, Instant},
};

use clap::Args;
use mcap::MessageStream;
use serde_json::json;
use vbus::{RawPublisher, zenoh::key_expr::KeyExpr};

use crate::{
    Failure, Result,
    ctx::{self, Ctx},
};

#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// MCAP file, e.g. one written by `vbus record`.
    file: PathBuf,
    /// Speed factor: 2 plays twice as fast, 0.5 half as fast.
    #[arg(long, default_value_t = 1.0, value_name = "FACTOR")]
    rate: f64,
    /// Start again from the beginning at the end, until Ctrl-C.
    #[arg(long = "loop")]
    looping: bool,
    /// Only topics matching this key expression (repeatable).
    #[arg(long = "topic", value_name = "KEYEXPR")]
    topics: Vec<String>,
    /// Send each sample with its recorded source time (default: the time it is replayed, so
    /// that lifespans and deadlines behave as live).
    #[arg(long)]
    keep_source_time: bool,
    /// Seconds to wait for a subscriber before starting.
    #[arg(long, default_value_t = 2.0, value_name = "SECS")]
    wait: f64,
}

struct Channel {
    publisher: RawPublisher,
}

/// The topic key of an MCAP channel (recordings by other tools may use `/a/b`).
fn key_of(topic: &str) -> &str {
    topic.trim_start_matches('/')
}

pub async fn run(ctx: &Ctx, a: ReplayArgs) -> Result<()> {
    let stop = ctx::stop_signal();
    tokio::pin!(stop);
    if !(a.rate > 0.0 && a.rate.is_finite()) {
        return Err(Failure::new(format!("--rate must be a positive factor, not {}", a.rate)));
    }
    let domain = ctx.node.domain().to_owned();
    let filters: Vec<KeyExpr<'static>> = a
        .topics
        .iter()
        .map(|t| {
            ctx::check_key_expr(&domain, t)?;
            Ok(KeyExpr::try_from(vbus::wire::data_key(&domain, t)).expect("checked"))
        })
        .collect::<Result<_>>()?;
    let bytes =
        std::fs::read(&a.file).map_err(|e| Failure::new(format!("cannot read {}: {e}", a.file.display())))?;
    let stream = || MessageStream::new_with_options(&bytes, mcap::read::Options::IgnoreEndMagic.into());
    let first =
        stream().map_err(|e| Failure::new(format!("{} is not an MCAP file: {e}", a.file.display())))?;

    // First pass: channels, the time span, and how much is readable.
    let mut channels: HashMap<u16, Option<Channel>> = HashMap::new();
    let (mut t0, mut t1, mut total, mut readable) = (u64::MAX, 0u64, 0u64, true);
    for m in first {
        let m = match m {
            Ok(m) => m,
            Err(e) => {
                eprintln!(
                    "warning: {} is cut short after {total} messages ({e}); replaying what is readable",
                    a.file.display()
                );
                readable = false;
                break;
            }
        };
        if let std::collections::hash_map::Entry::Vacant(v) = channels.entry(m.channel.id) {
            v.insert(open_channel(ctx, &domain, &filters, &m.channel).await?);
        }
        if channels[&m.channel.id].is_some() {
            total += 1;
            t0 = t0.min(m.log_time);
            t1 = t1.max(m.log_time);
        }
    }
    // A recorder killed between two chunks leaves whole records and no summary: as cut short
    // as one killed mid-chunk, though every record reads.
    if readable && !bytes.ends_with(mcap::MAGIC) {
        eprintln!(
            "warning: {} is cut short after {total} messages (no summary and end magic: the recorder did not finish); replaying what is readable",
            a.file.display()
        );
    }
    let topics = channels.values().filter(|c| c.is_some()).count();
    if total == 0 {
        return Err(Failure::new(format!(
            "nothing to replay: {} has no messages{}",
            a.file.display(),
            if filters.is_empty() { String::new() } else { " on the selected topics".into() }
        )));
    }
    let span = t1.saturating_sub(t0) as f64 / 1e9;
    if !ctx.json {
        eprintln!(
            "replaying {total} messages on {topics} topic{} ({span:.1} s recorded, rate {}){}",
            if topics == 1 { "" } else { "s" },
            a.rate,
            if a.looping { ", looping" } else { "" }
        );
    }
    // Samples published before a subscriber matches are lost: give the routes time to form.
    let wait_until = Instant::now() + Duration::from_secs_f64(a.wait.max(0.0));
    while Instant::now() < wait_until && !channels.values().flatten().any(|c| c.publisher.has_subscribers()) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let mut published = 0u64;
    let mut loops = 0u64;
    'outer: loop {
        loops += 1;
        let start = tokio::time::Instant::now();
        for m in stream()? {
            let Ok(m) = m else { break };
            let Some(Some(ch)) = channels.get_mut(&m.channel.id) else { continue };
            let at = Duration::from_secs_f64(m.log_time.saturating_sub(t0) as f64 / 1e9 / a.rate);
            tokio::select! {
                _ = &mut stop => break 'outer,
                _ = tokio::time::sleep_until(start + at) => {}
            }
            if a.keep_source_time {
                ch.publisher.publish_at(&m.data, m.publish_time)?;
            } else {
                ch.publisher.publish(&m.data)?;
            }
            published += 1;
        }
        if !a.looping {
            break;
        }
    }
    // Let the transport hand the last samples over before the session closes.
    tokio::time::sleep(Duration::from_millis(300)).await;
    if ctx.json {
        println!(
            "{}",
            json!({"file": a.file, "published": published, "topics": topics, "loops": loops, "complete_file": readable})
        );
    } else {
        eprintln!("replayed {published} messages on {topics} topic{}", if topics == 1 { "" } else { "s" });
    }
    Ok(())
}

/// A publisher for an MCAP channel, or `None` when the topic filter leaves it out.
async fn open_channel(
    ctx: &Ctx,
    domain: &str,
    filters: &[KeyExpr<'static>],
    c: &mcap::Channel<'_>,
) -> Result<Option<Channel>> {
    let key = key_of(&c.topic);
    if ctx::check_key(domain, key).is_err() {
        eprintln!("warning: skipping channel `{}`: not a vbus topic key", c.topic);
        return Ok(None);
    }
    if !filters.is_empty() {
        let k = KeyExpr::try_from(vbus::wire::data_key(domain, key)).expect("checked");
        if !filters.iter().any(|f| f.intersects(&k)) {
            return Ok(None);
        }
    }
    let type_name = c
        .metadata
        .get("vbus.type")
        .cloned()
        .or_else(|| c.schema.as_ref().map(|s| s.name.clone()))
        .ok_or_else(|| {
            Failure::new(format!("channel `{}` names no type (no schema, no vbus.type)", c.topic))
        })?;
    let recorded = c.metadata.get("vbus.type_hash").and_then(|h| u64::from_str_radix(h, 16).ok());
    let type_hash = match recorded {
        Some(h) => h,
        None => c
            .schema
            .as_ref()
            .filter(|s| s.encoding == "flatbuffer")
            .and_then(|s| vbus_reflect::Schema::from_bfbs(&s.data).ok())
            .and_then(|s| s.type_hash(&type_name))
            .ok_or_else(|| {
                Failure::new(format!(
                    "channel `{}`: no vbus type hash recorded and no FlatBuffers schema of {type_name} to compute it from",
                    c.topic
                ))
            })?,
    };
    let publisher = ctx.node.raw_publisher(key, &type_name, type_hash).create().await?;
    // The recording holds the schema: serve it, as the original publisher did, so that tools
    // decode the replayed samples with nothing compiled.
    if let Some(s) = c.schema.as_ref().filter(|s| s.encoding == "flatbuffer") {
        match vbus_reflect::subset_bfbs(&s.data, &type_name) {
            Ok(subset) => ctx.node.serve_schema_bytes(&type_name, type_hash, subset.into())?,
            Err(e) => eprintln!("warning: channel `{}`: its schema is not served: {e}", c.topic),
        }
    }
    Ok(Some(Channel { publisher }))
}
