//! Quality of service: what a topic promises and how the bus maps it onto zenoh.

use std::time::Duration;

/// Delivery guarantee of a topic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reliability {
    /// Retransmitted by the transport; gaps only on congestion drops (see [`Congestion`]).
    Reliable,
    /// Sent once; may be lost. For high-rate sensor data where the next sample supersedes.
    BestEffort,
}

/// Transport priority, mapped one to one onto zenoh's seven priority queues.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Priority {
    /// Control loops and safety signals.
    RealTime,
    /// Interactive, high.
    InteractiveHigh,
    /// Interactive, low.
    InteractiveLow,
    /// Data, high.
    DataHigh,
    /// Default.
    Data,
    /// Data, low.
    DataLow,
    /// Bulk transfers, logs.
    Background,
}

/// The schema spelling (`realtime`, `interactive_high`, ..., `background`), with `-` taken as
/// `_` (`real-time`, `data-high`), as command lines write it.
impl std::str::FromStr for Priority {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::parse(&s.replace('-', "_")).ok_or_else(|| {
            format!(
                "priority `{s}`: expected one of realtime, interactive_high, interactive_low, data_high, data, data_low, background"
            )
        })
    }
}

impl Priority {
    /// Parse the schema spelling (`realtime`, `interactive_high`, ..., `background`).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "realtime" | "real_time" => Self::RealTime,
            "interactive_high" => Self::InteractiveHigh,
            "interactive_low" => Self::InteractiveLow,
            "data_high" => Self::DataHigh,
            "data" => Self::Data,
            "data_low" => Self::DataLow,
            "background" => Self::Background,
            _ => return None,
        })
    }

    /// The zenoh priority queue this maps onto.
    pub fn to_zenoh(self) -> zenoh::qos::Priority {
        use zenoh::qos::Priority as Z;
        match self {
            Self::RealTime => Z::RealTime,
            Self::InteractiveHigh => Z::InteractiveHigh,
            Self::InteractiveLow => Z::InteractiveLow,
            Self::DataHigh => Z::DataHigh,
            Self::Data => Z::Data,
            Self::DataLow => Z::DataLow,
            Self::Background => Z::Background,
        }
    }
}

/// What happens when a queue on the path is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Congestion {
    /// Drop: the publisher never waits. Subscriber queues drop their oldest sample (latest value
    /// wins); every drop is counted ([`crate::TopicStats::dropped`]) and, for drops on the way, the
    /// subscriber sees a sequence gap ([`crate::TopicStats::lost`]).
    Drop,
    /// Block: nothing is dropped; a full subscriber queue stalls delivery and the publisher waits
    /// (back-pressure, counted in [`crate::TopicStats::backpressure_waits`]).
    Block,
}

/// The quality of service of a topic, normally declared in the schema and emitted by codegen.
///
/// All setters are `const` so descriptors can be constants:
/// ```
/// use vbus::{QoS, Priority};
/// use std::time::Duration;
/// const SPEED_QOS: QoS = QoS::new()
///     .priority(Priority::RealTime)
///     .express(true)
///     .deadline(Duration::from_millis(30));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct QoS {
    /// Delivery guarantee.
    pub reliability: Reliability,
    /// Transport priority.
    pub priority: Priority,
    /// Send at once instead of batching with other messages (lower latency, more packets).
    pub express: bool,
    /// Queue-full policy.
    pub congestion: Congestion,
    /// Samples each publisher keeps for late-joining subscribers (0: none).
    pub history: u16,
    /// Subscriber-side queue depth between the transport and the application.
    pub queue: u16,
    /// Expected maximum silence between samples; a subscriber reports a missed deadline beyond it.
    pub deadline: Option<Duration>,
    /// Maximum age of a sample (source time to delivery); older samples are dropped as expired.
    pub lifespan: Option<Duration>,
    /// End-to-end protection (CRC + counter + data id, see `WIRE.md`) for safety-relevant
    /// topics: corruption, repetition, loss and delay are detected and reported.
    pub e2e: bool,
    /// On the same-host path, how long a subscriber's thread keeps polling after a sample
    /// before it blocks (trades a core for the wake-up latency of topics that ask for it).
    pub spin: Option<Duration>,
}

impl Default for QoS {
    fn default() -> Self {
        Self::new()
    }
}

impl QoS {
    /// Reliable, `Data` priority, not express, `Drop`, no history, queue of 64, no deadline, no
    /// lifespan.
    pub const fn new() -> Self {
        Self {
            reliability: Reliability::Reliable,
            priority: Priority::Data,
            express: false,
            congestion: Congestion::Drop,
            history: 0,
            queue: 64,
            deadline: None,
            lifespan: None,
            e2e: false,
            spin: None,
        }
    }
    /// Set [`QoS::reliability`].
    pub const fn reliability(mut self, r: Reliability) -> Self {
        self.reliability = r;
        self
    }
    /// Set [`QoS::priority`].
    pub const fn priority(mut self, p: Priority) -> Self {
        self.priority = p;
        self
    }
    /// Set [`QoS::express`].
    pub const fn express(mut self, e: bool) -> Self {
        self.express = e;
        self
    }
    /// Set [`QoS::congestion`].
    pub const fn congestion(mut self, c: Congestion) -> Self {
        self.congestion = c;
        self
    }
    /// Set [`QoS::history`].
    pub const fn history(mut self, depth: u16) -> Self {
        self.history = depth;
        self
    }
    /// Set [`QoS::queue`] (at least 1).
    pub const fn queue(mut self, depth: u16) -> Self {
        self.queue = if depth == 0 { 1 } else { depth };
        self
    }
    /// Set [`QoS::deadline`].
    pub const fn deadline(mut self, d: Duration) -> Self {
        self.deadline = Some(d);
        self
    }
    /// Set [`QoS::lifespan`].
    pub const fn lifespan(mut self, d: Duration) -> Self {
        self.lifespan = Some(d);
        self
    }

    /// Set [`QoS::spin`].
    pub const fn spin(mut self, d: Duration) -> Self {
        self.spin = Some(d);
        self
    }

    /// Set [`QoS::e2e`].
    pub const fn e2e(mut self, on: bool) -> Self {
        self.e2e = on;
        self
    }

    /// Periods of silence that make a deadline miss when a schema gives only `vbus_period_ms`
    /// (vbus-codegen's rule, so generated topics and run-time readers of a schema agree).
    pub const DEADLINE_PERIODS: u64 = 3;

    /// The QoS a schema table declares with its `vbus_*` attributes (`attr` looks one up by
    /// name), as vbus-codegen derives a generated topic's: for tools and bindings that know a
    /// topic only from its served `.bfbs`. Unset attributes keep [`QoS::new`]'s defaults.
    pub fn from_attributes<'a>(attr: impl Fn(&str) -> Option<&'a str>) -> Result<Self, String> {
        let number = |k: &str| -> Result<Option<u64>, String> {
            attr(k)
                .map(|v| v.trim().parse::<u64>().map_err(|_| format!("`{k}: {v}`: expected a number")))
                .transpose()
        };
        let mut q = Self::new();
        match attr("vbus_reliability") {
            None | Some("reliable") => {}
            Some("best_effort") => q = q.reliability(Reliability::BestEffort),
            Some(v) => return Err(format!("`vbus_reliability: {v}`: expected reliable or best_effort")),
        }
        if let Some(p) = attr("vbus_priority") {
            q = q.priority(p.parse()?);
        }
        // A flag: present (flatc stores it as "0" or empty) unless spelled false.
        if attr("vbus_express").is_some_and(|v| v != "false") {
            q = q.express(true);
        }
        match attr("vbus_congestion") {
            None | Some("drop") => {}
            Some("block") => q = q.congestion(Congestion::Block),
            Some(v) => return Err(format!("`vbus_congestion: {v}`: expected drop or block")),
        }
        let small =
            |k: &str, n: u64| u16::try_from(n).map_err(|_| format!("`{k}: {n}`: expected at most 65535"));
        if let Some(h) = number("vbus_history")? {
            q = q.history(small("vbus_history", h)?);
        }
        if let Some(n) = number("vbus_queue")? {
            q = q.queue(small("vbus_queue", n)?);
        }
        let deadline =
            number("vbus_deadline_ms")?.or(number("vbus_period_ms")?.map(|p| p * Self::DEADLINE_PERIODS));
        if let Some(ms) = deadline {
            q = q.deadline(Duration::from_millis(ms));
        }
        if let Some(ms) = number("vbus_lifespan_ms")? {
            q = q.lifespan(Duration::from_millis(ms));
        }
        Ok(q)
    }

    pub(crate) fn zenoh_reliability(&self) -> zenoh::qos::Reliability {
        match self.reliability {
            Reliability::Reliable => zenoh::qos::Reliability::Reliable,
            Reliability::BestEffort => zenoh::qos::Reliability::BestEffort,
        }
    }

    pub(crate) fn zenoh_congestion(&self) -> zenoh::qos::CongestionControl {
        match self.congestion {
            Congestion::Drop => zenoh::qos::CongestionControl::Drop,
            Congestion::Block => zenoh::qos::CongestionControl::Block,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Priority;

    #[test]
    fn priorities_parse_from_schema_and_command_line_spellings() {
        assert_eq!("realtime".parse::<Priority>(), Ok(Priority::RealTime));
        assert_eq!("real-time".parse::<Priority>(), Ok(Priority::RealTime));
        assert_eq!("interactive-high".parse::<Priority>(), Ok(Priority::InteractiveHigh));
        assert_eq!("data_low".parse::<Priority>(), Ok(Priority::DataLow));
        let e = "urgent".parse::<Priority>().unwrap_err();
        assert!(e.contains("`urgent`") && e.contains("background"), "{e}");
    }
}
