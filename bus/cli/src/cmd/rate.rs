//! `vbus hz` / `vbus bw`: rate and bandwidth of topics over a sliding window of samples.

use std::{
    collections::{BTreeMap, VecDeque},
    time::{Duration, Instant},
};

use clap::Args;
use serde_json::json;

use crate::{
    Failure, Result,
    ctx::{self, Ctx},
    render,
};

#[derive(Args, Debug)]
pub struct RateArgs {
    /// Topic key or key expression; every matching key is measured on its own.
    key: String,
    /// Number of most recent samples the statistics cover.
    #[arg(long, default_value_t = 100, value_name = "N")]
    window: usize,
    /// Seconds between reports.
    #[arg(long, default_value_t = 1.0, value_name = "SECS")]
    every: f64,
    /// Stop after this many seconds (an error if no sample came).
    #[arg(long, value_name = "SECS")]
    duration: Option<f64>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    Hz,
    Bw,
}

#[derive(Default)]
struct Window {
    samples: VecDeque<(Instant, usize)>,
    fresh: bool,
}

fn stats(xs: impl Iterator<Item = f64> + Clone) -> (f64, f64, f64, f64) {
    let n = xs.clone().count().max(1) as f64;
    let mean = xs.clone().sum::<f64>() / n;
    let min = xs.clone().fold(f64::INFINITY, f64::min);
    let max = xs.clone().fold(f64::NEG_INFINITY, f64::max);
    let var = xs.map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    (mean, min, max, var.sqrt())
}

pub async fn run(ctx: &Ctx, a: RateArgs, what: Measure) -> Result<()> {
    ctx::check_key_expr(ctx.node.domain(), &a.key)?;
    ctx.warn_if_unknown(&a.key).await;
    let sub = ctx.node.raw_subscriber(&a.key).queue(65_536).create().await?;
    let window = a.window.max(2);
    let mut keys: BTreeMap<String, Window> = BTreeMap::new();
    let mut report = tokio::time::interval(Duration::from_secs_f64(a.every.max(0.05)));
    report.tick().await;
    let stop = ctx::stop_signal();
    let deadline = ctx::deadline(a.duration);
    tokio::pin!(stop, deadline);
    let mut total = 0u64;
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = &mut deadline => break,
            _ = report.tick() => print_report(ctx.json, what, &mut keys),
            s = sub.recv() => {
                let Ok(s) = s else { break };
                total += 1;
                let w = keys.entry(s.key().to_owned()).or_default();
                w.samples.push_back((Instant::now(), s.payload().len()));
                while w.samples.len() > window {
                    w.samples.pop_front();
                }
                w.fresh = true;
            }
        }
    }
    print_report(ctx.json, what, &mut keys);
    if total == 0 && a.duration.is_some() {
        return Err(Failure::new(format!("no sample on `{}` within {} s", a.key, a.duration.unwrap_or(0.0))));
    }
    Ok(())
}

fn print_report(json: bool, what: Measure, keys: &mut BTreeMap<String, Window>) {
    for (key, w) in keys.iter_mut() {
        if !w.fresh || w.samples.len() < 2 {
            continue;
        }
        w.fresh = false;
        let n = w.samples.len();
        let span = (w.samples[n - 1].0 - w.samples[0].0).as_secs_f64().max(1e-9);
        let intervals =
            w.samples.iter().zip(w.samples.iter().skip(1)).map(|(a, b)| (b.0 - a.0).as_secs_f64());
        let (mean_dt, min_dt, max_dt, std_dt) = stats(intervals);
        match what {
            Measure::Hz => {
                let rate = 1.0 / mean_dt.max(1e-9);
                if json {
                    println!(
                        "{}",
                        json!({"key": key, "rate_hz": rate, "min_s": min_dt, "max_s": max_dt, "std_s": std_dt, "window": n})
                    );
                } else {
                    println!(
                        "{key}: {rate:.2} Hz  (min {}, max {}, std dev {}, window {n})",
                        render::secs(min_dt),
                        render::secs(max_dt),
                        render::secs(std_dt)
                    );
                }
            }
            Measure::Bw => {
                let sizes = w.samples.iter().map(|s| s.1 as f64);
                let (mean, min, max, _) = stats(sizes);
                // Bytes that arrived after the first sample of the window, over its span.
                let bytes: usize = w.samples.iter().skip(1).map(|s| s.1).sum();
                let bps = bytes as f64 / span;
                let rate = (n - 1) as f64 / span;
                if json {
                    println!(
                        "{}",
                        json!({"key": key, "bytes_per_s": bps, "mean_bytes": mean, "min_bytes": min,
                               "max_bytes": max, "rate_hz": rate, "window": n})
                    );
                } else {
                    println!(
                        "{key}: {}/s  (mean {}, min {}, max {} per sample, {rate:.1} Hz, window {n})",
                        render::bytes(bps),
                        render::bytes(mean),
                        render::bytes(min),
                        render::bytes(max)
                    );
                }
            }
        }
    }
}
