//! Measurement helpers: process CPU time and peak RSS (getrusage), latency percentiles, and the
//! result record every role prints.

use serde::{Deserialize, Serialize};

/// User + system CPU time of this process (all threads), ns.
pub fn cpu_ns() -> u64 {
    let u = rusage(libc::RUSAGE_SELF);
    tv_ns(u.ru_utime) + tv_ns(u.ru_stime)
}

/// Peak resident set size of this process, KiB.
pub fn max_rss_kib() -> u64 {
    rusage(libc::RUSAGE_SELF).ru_maxrss.max(0) as u64
}

fn rusage(who: libc::c_int) -> libc::rusage {
    // SAFETY: getrusage writes a plain C struct; an all-zero rusage is a valid value.
    unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(who, &mut u);
        u
    }
}

/// ns of a `timeval`.
pub fn tv_ns(t: libc::timeval) -> u64 {
    t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1000
}

/// Latency summary; every value is one-way latency estimated as round-trip / 2, in ns.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct Latency {
    /// Round trips measured.
    pub n: u64,
    /// Round trips that got no answer in time (counted, not in the percentiles).
    pub lost: u64,
    pub p50: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub mean: f64,
}

impl Latency {
    /// Summarise round-trip times (ns); reports half of each.
    pub fn from_rtts(rtts: &mut [u64], lost: u64) -> Self {
        if rtts.is_empty() {
            return Self { lost, ..Self::default() };
        }
        rtts.sort_unstable();
        let q = |p: f64| {
            // Nearest rank: the smallest value with at least p of the samples at or below it.
            let rank = ((p * rtts.len() as f64).ceil() as usize).clamp(1, rtts.len());
            rtts[rank - 1] as f64 / 2.0
        };
        let sum: u128 = rtts.iter().map(|&r| r as u128).sum();
        Self {
            n: rtts.len() as u64,
            lost,
            p50: q(0.50),
            p99: q(0.99),
            p999: q(0.999),
            max: *rtts.last().expect("non-empty") as f64 / 2.0,
            mean: sum as f64 / rtts.len() as f64 / 2.0,
        }
    }
}

/// What a benchmark role reports, as one `RESULT {json}` line on stdout.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Report {
    /// `pub-thr`, `sub-thr`, `ping`, `pong`.
    pub role: String,
    /// `vbus`, `zenoh`, `udp`, `ddsperf`.
    pub stack: String,
    /// Application payload bytes per message.
    pub size: usize,
    /// Messages counted in the measurement window (sent by a publisher, received by a subscriber,
    /// round trips for ping).
    pub msgs: u64,
    /// Length of the measurement window, s.
    pub secs: f64,
    /// msgs / secs.
    pub rate: f64,
    /// Process CPU time (user + system, all threads) in the window per message, ns.
    pub cpu_ns_per_msg: f64,
    /// Peak RSS of the process at the end, KiB.
    pub max_rss_kib: u64,
    /// Latency (ping only).
    pub latency: Option<Latency>,
}

impl Report {
    /// The line a role prints.
    pub fn line(&self) -> String {
        format!("RESULT {}", serde_json::to_string(self).expect("report serialises"))
    }

    /// Parse a `RESULT ...` line.
    pub fn parse(line: &str) -> Option<Self> {
        serde_json::from_str(line.strip_prefix("RESULT ")?).ok()
    }
}

/// A snapshot of (time, CPU, counter) to measure a window between two of them.
#[derive(Clone, Copy, Debug)]
pub struct Mark {
    pub at: std::time::Instant,
    pub cpu_ns: u64,
    pub count: u64,
}

impl Mark {
    /// Now, with `count` messages so far.
    pub fn now(count: u64) -> Self {
        Self { at: std::time::Instant::now(), cpu_ns: cpu_ns(), count }
    }

    /// A report of the window from `self` to `end`.
    pub fn report(&self, end: &Mark, role: &str, stack: &str, size: usize) -> Report {
        let msgs = end.count.saturating_sub(self.count);
        let secs = (end.at - self.at).as_secs_f64();
        Report {
            role: role.into(),
            stack: stack.into(),
            size,
            msgs,
            secs,
            rate: if secs > 0.0 { msgs as f64 / secs } else { 0.0 },
            cpu_ns_per_msg: if msgs > 0 { (end.cpu_ns - self.cpu_ns) as f64 / msgs as f64 } else { 0.0 },
            max_rss_kib: max_rss_kib(),
            latency: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank_on_half_rtt() {
        let mut r: Vec<u64> = (1..=1000).map(|i| i * 2).collect();
        let l = Latency::from_rtts(&mut r, 3);
        assert_eq!((l.n, l.lost), (1000, 3));
        assert_eq!(l.p50, 500.0);
        assert_eq!(l.p99, 990.0);
        assert_eq!(l.p999, 999.0);
        assert_eq!(l.max, 1000.0);
        assert_eq!(Latency::from_rtts(&mut [], 1).n, 0);
    }

    #[test]
    fn report_round_trips_through_its_line() {
        let r = Report { role: "ping".into(), stack: "udp".into(), size: 64, ..Report::default() };
        let back = Report::parse(&r.line()).unwrap();
        assert_eq!((back.role.as_str(), back.size), ("ping", 64));
        assert!(Report::parse("READY x").is_none());
    }
}
