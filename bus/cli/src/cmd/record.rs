//! `vbus record -o FILE KEYEXPR...`: samples to MCAP, with each type's FlatBuffers binary
//! schema embedded (schema encoding `flatbuffer`, message encoding `flatbuffer`), so Foxglove
//! Studio and any MCAP reader decode them.
//!
//! Chunks are zstd-compressed and closed every second: if the recorder dies without finishing
//! (kill -9, power loss), everything up to the last second is readable by streaming readers.
//! Ctrl-C or SIGTERM finish the file properly (summary, indexes).

use std::{
    collections::{BTreeMap, HashMap, HashSet, VecDeque},
    fs::File,
    io::{BufWriter, IsTerminal, Write},
    path::PathBuf,
    time::{Duration, Instant},
};

use clap::Args;
use mcap::records::{MessageHeader, Metadata};
use serde_json::json;
use vbus::RawSample;

use crate::{
    Failure, Result,
    ctx::{self, Ctx},
    render,
};

#[derive(Args, Debug)]
pub struct RecordArgs {
    /// Output file.
    #[arg(short = 'o', long, value_name = "FILE")]
    output: PathBuf,
    /// Key expressions to record (default `**`: every topic of the domain).
    #[arg(value_name = "KEYEXPR")]
    keys: Vec<String>,
    /// Stop after this many seconds.
    #[arg(long, value_name = "SECS")]
    duration: Option<f64>,
    /// Stop after this many messages.
    #[arg(long, short = 'n', value_name = "N")]
    count: Option<u64>,
    /// Overwrite FILE if it exists.
    #[arg(long)]
    force: bool,
}

type McapWriter = mcap::Writer<BufWriter<File>>;

struct Recorder {
    writer: McapWriter,
    /// Type name -> MCAP schema id (0: no schema available).
    schema_ids: HashMap<String, u16>,
    /// (key, type name, type hash) -> channel id.
    channels: HashMap<(String, String, u64), u16>,
    /// Recently seen sequence numbers per (key, publisher), to drop the copies that
    /// overlapping key expressions deliver twice.
    seen: HashMap<(String, u64), VecDeque<u64>>,
    messages: u64,
    bytes: u64,
    skipped: u64,
    missing_schema: HashSet<String>,
}

pub async fn run(ctx: &Ctx, a: RecordArgs) -> Result<()> {
    // From here on Ctrl-C finishes the file instead of killing the process.
    let stop = ctx::stop_signal();
    let keys = if a.keys.is_empty() { vec!["**".to_owned()] } else { a.keys.clone() };
    for k in &keys {
        ctx::check_key_expr(ctx.node.domain(), k)?;
    }
    for k in &keys {
        ctx.warn_if_unknown(k).await;
    }
    let file = File::options()
        .write(true)
        .create(true)
        .create_new(!a.force)
        .truncate(true)
        .open(&a.output)
        .map_err(|e| {
        let f = Failure::new(format!("cannot create {}: {e}", a.output.display()));
        if e.kind() == std::io::ErrorKind::AlreadyExists { f.hint("use --force to overwrite it") } else { f }
    })?;
    let mut writer = mcap::WriteOptions::new()
        .compression(Some(mcap::Compression::Zstd))
        .profile("")
        .library(concat!("vbus-cli ", env!("CARGO_PKG_VERSION")))
        .create(BufWriter::new(file))?;
    let started_ns = vbus::wire::now_ns();
    writer.write_metadata(&Metadata {
        name: "vbus".into(),
        metadata: BTreeMap::from([
            ("domain".to_owned(), ctx.node.domain().to_owned()),
            ("key_expressions".to_owned(), keys.join(" ")),
            ("started_utc".to_owned(), render::utc(started_ns)),
        ]),
    })?;
    let mut rec = Recorder {
        writer,
        schema_ids: HashMap::new(),
        channels: HashMap::new(),
        seen: HashMap::new(),
        messages: 0,
        bytes: 0,
        skipped: 0,
        missing_schema: HashSet::new(),
    };
    // Fetch the schemas of announced topics before the first sample needs them.
    for t in ctx.topics().await.unwrap_or_default() {
        if t.publisher && !rec.schema_ids.contains_key(&t.type_name) {
            rec.schema_id(ctx, &t.type_name).await?;
        }
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<RawSample>();
    let mut forwarders = Vec::new();
    for k in &keys {
        let sub = ctx.node.raw_subscriber(k).queue(16_384).create().await?;
        let tx = tx.clone();
        forwarders.push(tokio::spawn(async move {
            while let Ok(s) = sub.recv().await {
                if tx.send(s).is_err() {
                    break;
                }
            }
        }));
    }
    drop(tx);
    let tty = std::io::stderr().is_terminal();
    let started = Instant::now();
    let progress = |rec: &Recorder, end: &str| {
        let line = format!(
            "recording {}: {} messages, {} on {} topic{}, {:.1} s",
            a.output.display(),
            rec.messages,
            render::bytes(rec.bytes as f64),
            rec.channels.len(),
            if rec.channels.len() == 1 { "" } else { "s" },
            started.elapsed().as_secs_f64()
        );
        if tty {
            eprint!("\r{line}\x1b[K{end}");
        } else {
            eprintln!("{line}");
        }
    };
    let mut progress_tick = tokio::time::interval(Duration::from_millis(if tty { 250 } else { 2000 }));
    let mut flush_tick = tokio::time::interval(Duration::from_secs(1));
    progress_tick.tick().await;
    flush_tick.tick().await;
    let deadline = ctx::deadline(a.duration);
    tokio::pin!(stop, deadline);
    while a.count.is_none_or(|n| rec.messages < n) {
        tokio::select! {
            _ = &mut stop => break,
            _ = &mut deadline => break,
            _ = progress_tick.tick() => if !ctx.json { progress(&rec, "") },
            _ = flush_tick.tick() => rec.writer.flush()?,
            s = rx.recv() => match s {
                Some(s) => rec.write(ctx, &s).await?,
                None => break,
            },
        }
    }
    for f in forwarders {
        f.abort();
    }
    rec.writer.finish()?;
    rec.writer.into_inner().flush()?;
    let size = std::fs::metadata(&a.output).map(|m| m.len()).unwrap_or(0);
    if ctx.json {
        println!(
            "{}",
            json!({"file": a.output, "messages": rec.messages, "bytes": rec.bytes, "file_bytes": size,
                   "channels": rec.channels.len(), "skipped": rec.skipped,
                   "duration_s": started.elapsed().as_secs_f64(),
                   "missing_schemas": rec.missing_schema.iter().collect::<Vec<_>>()})
        );
    } else {
        if tty {
            eprintln!();
        }
        eprintln!(
            "recorded {} messages ({} of payload) on {} channel{} to {} ({} on disk){}",
            rec.messages,
            render::bytes(rec.bytes as f64),
            rec.channels.len(),
            if rec.channels.len() == 1 { "" } else { "s" },
            a.output.display(),
            render::bytes(size as f64),
            if rec.skipped > 0 {
                format!("; skipped {} samples without a vbus header or type", rec.skipped)
            } else {
                String::new()
            }
        );
    }
    Ok(())
}

impl Recorder {
    /// The MCAP schema id of `type_name`, fetching its `.bfbs` from the bus the first time.
    async fn schema_id(&mut self, ctx: &Ctx, type_name: &str) -> Result<u16> {
        if let Some(id) = self.schema_ids.get(type_name) {
            return Ok(*id);
        }
        let entry = ctx.schemas.lock().await.get(type_name).await;
        let id = match entry {
            Some(e) => self.writer.add_schema(type_name, "flatbuffer", &e.bfbs)?,
            None => {
                if self.missing_schema.insert(type_name.to_owned()) {
                    eprintln!(
                        "warning: no schema served for {type_name}; its messages are recorded without one"
                    );
                }
                0
            }
        };
        self.schema_ids.insert(type_name.to_owned(), id);
        Ok(id)
    }

    async fn write(&mut self, ctx: &Ctx, s: &RawSample) -> Result<()> {
        let (Ok(h), Some(type_name)) = (s.header(), s.type_name()) else {
            self.skipped += 1;
            return Ok(());
        };
        let recent = self.seen.entry((s.key().to_owned(), h.publisher_id)).or_default();
        if recent.contains(&h.seq) {
            return Ok(());
        }
        recent.push_back(h.seq);
        if recent.len() > 256 {
            recent.pop_front();
        }
        let id = (s.key().to_owned(), type_name.to_owned(), h.type_hash);
        let channel = match self.channels.get(&id) {
            Some(c) => *c,
            None => {
                let schema_id = self.schema_id(ctx, type_name).await?;
                let metadata = BTreeMap::from([
                    ("vbus.type".to_owned(), type_name.to_owned()),
                    ("vbus.type_hash".to_owned(), format!("{:016x}", h.type_hash)),
                    ("vbus.domain".to_owned(), ctx.node.domain().to_owned()),
                ]);
                let c = self.writer.add_channel(schema_id, s.key(), "flatbuffer", &metadata)?;
                self.channels.insert(id, c);
                c
            }
        };
        self.writer.write_to_known_channel(
            &MessageHeader {
                channel_id: channel,
                sequence: h.seq as u32,
                log_time: s.received_ns(),
                publish_time: h.source_time_ns,
            },
            s.payload(),
        )?;
        self.messages += 1;
        self.bytes += s.payload().len() as u64;
        Ok(())
    }
}
