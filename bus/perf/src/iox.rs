//! Raw iceoryx2 (0.10), the floor of vbus's same-host path: one `[u8]` publish-subscribe service
//! per direction with a small fixed user header, and an event service per direction whose
//! listener the receiving thread blocks on (as iceoryx2's `publish_subscribe_with_event` example
//! does). The same service flavour as vbus (`ipc_threadsafe`), so that vbus next to this shows
//! what vbus's own code costs. (vbus wakes its readers through its own futex words instead of
//! these events, see `vbus/src/local.rs`; this anchor keeps what an iceoryx2 user writes.)
//!
//! Nothing here collides with vbus's own iceoryx2 files: another root path and prefix, and every
//! run has its own service names (`vperf/<tag>/...`). The listening role makes the tag and prints
//! it as its endpoint, `iceoryx2/<tag>`; the connecting role gets it as `--connect`.

use std::time::Duration;

use iceoryx2::{
    port::{
        BackpressureAction, BackpressureInfo, listener::Listener, notifier::Notifier, publisher::Publisher,
        subscriber::Subscriber,
    },
    prelude::*,
    service::port_factory::{
        event::PortFactory as EventFactory, publish_subscribe::PortFactory as PubSubFactory,
    },
};

/// The iceoryx2 service flavour vbus uses.
pub type Ipc = iceoryx2::service::ipc_threadsafe::Service;

/// Where iceoryx2 keeps its management files for vbus-perf (tmpfs; vbus uses `/dev/shm/vbus-iceoryx2/`).
pub const ROOT_PATH: &str = "/dev/shm/vbus-perf-iceoryx2/";
/// Prefix of vbus-perf's iceoryx2 files (vbus uses `vbus_`).
pub const PREFIX: &str = "vperf_";
/// Scheme of the pseudo endpoints that carry the service tag.
pub const SCHEME: &str = "iceoryx2/";

/// Service name parts of the benchmark topics.
pub const THR: &str = "thr";
pub const PING: &str = "ping";
pub const PONG: &str = "pong";

/// How long a blocking publisher waits for a full subscriber before it gives the sample up for
/// it: only reached when the subscriber's process is gone without closing its port (killed);
/// a closed port ends the wait at once.
pub const BLOCK_LIMIT: Duration = Duration::from_secs(2);

/// The user header of every sample (the payload is exactly the benchmark size).
#[derive(Debug, Default, Clone, Copy, ZeroCopySend)]
#[repr(C)]
#[type_name("vbus_perf.IoxHeaderV1")]
pub struct Header {
    /// Sequence number (ping number).
    pub seq: u64,
}

type Res<T> = Result<T, String>;

/// A new run tag: unique per process and start time.
pub fn new_tag() -> String {
    let ns = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("{}-{:x}", std::process::id(), ns as u64 & 0xffff_ffff)
}

/// The pseudo endpoint of a tag.
pub fn endpoint(tag: &str) -> String {
    format!("{SCHEME}{tag}")
}

/// The tag of an `iceoryx2/<tag>` endpoint.
pub fn tag_of(ep: &str) -> Res<&str> {
    ep.strip_prefix(SCHEME).filter(|t| !t.is_empty() && !t.contains('/')).ok_or_else(|| {
        format!("expected an `{SCHEME}<tag>` endpoint (the READY line of the other side), found `{ep}`")
    })
}

/// Samples a subscriber's buffer holds for a payload of `size` bytes: deep for small samples (the
/// depth of zenoh's default FIFO), at least 8, and about 16 MiB in flight for large ones.
pub fn buffer_for(size: usize) -> usize {
    ((16usize << 20) / size.max(1)).clamp(8, 256)
}

/// The iceoryx2 configuration of vbus-perf: its own root path and prefix.
pub fn config() -> Res<Config> {
    let mut cfg = Config::default();
    cfg.global.set_root_path(&Path::new(ROOT_PATH.as_bytes()).map_err(|e| format!("{ROOT_PATH}: {e:?}"))?);
    cfg.global.prefix = FileName::new(PREFIX.as_bytes()).map_err(|e| format!("prefix: {e:?}"))?;
    Ok(cfg)
}

/// Remove what killed vbus-perf processes left of their iceoryx2 nodes (a pong is stopped with
/// SIGKILL): node, port and service files, segments. Returns how many dead nodes were removed.
pub fn cleanup_dead_nodes() -> Res<u64> {
    let mut cfg = config()?;
    // Only the explicit cleanup below, to count it (by default a new node cleans up first).
    cfg.global.node.cleanup_dead_nodes_on_creation = false;
    set_log_level(LogLevel::Error);
    let node = NodeBuilder::new()
        .name(&NodeName::new("vperf-cleanup").map_err(|e| format!("node name: {e:?}"))?)
        .config(&cfg)
        .signal_handling_mode(SignalHandlingMode::Disabled)
        .create::<Ipc>()
        .map_err(|e| format!("cannot create the iceoryx2 node: {e:?}"))?;
    Ok(node.try_cleanup_dead_nodes().cleanups)
}

/// An iceoryx2 node of one run (`tag`).
pub struct Iox {
    node: Node<Ipc>,
    tag: String,
}

impl Iox {
    /// A node named `name`, quiet (errors only), without signal handlers.
    pub fn open(name: &str, tag: &str) -> Res<Self> {
        set_log_level(LogLevel::Error);
        let node = NodeBuilder::new()
            .name(&NodeName::new(name).map_err(|e| format!("node name `{name}`: {e:?}"))?)
            .config(&config()?)
            .signal_handling_mode(SignalHandlingMode::Disabled)
            .create::<Ipc>()
            .map_err(|e| format!("cannot create the iceoryx2 node: {e:?}"))?;
        Ok(Self { node, tag: tag.to_owned() })
    }

    fn name(&self, topic: &str, suffix: &str) -> Res<ServiceName> {
        let name = format!("vperf/{}/{topic}{suffix}", self.tag);
        ServiceName::new(&name).map_err(|e| format!("service name `{name}`: {e:?}"))
    }

    /// The data service of `topic`: created (or opened) with a subscriber buffer of `buffer`
    /// samples, or with `None`, opened as it is (its creator chose the buffer).
    fn pubsub(&self, topic: &str, buffer: Option<usize>) -> Res<PubSubFactory<Ipc, [u8], Header>> {
        let b = self
            .node
            .service_builder(&self.name(topic, "")?)
            .publish_subscribe::<[u8]>()
            .user_header::<Header>();
        let what = |e: &dyn std::fmt::Debug| format!("iceoryx2 service `{topic}`: {e:?}");
        match buffer {
            Some(n) => b
                .max_publishers(1)
                .max_subscribers(1)
                .subscriber_max_buffer_size(n)
                .subscriber_max_borrowed_samples(2)
                .history_size(0)
                // Full buffers hold the publisher back (backpressure) instead of overwriting.
                .enable_safe_overflow(false)
                .open_or_create()
                .map_err(|e| what(&e)),
            None => b.open().map_err(|e| what(&e)),
        }
    }

    fn event(&self, topic: &str) -> Res<EventFactory<Ipc>> {
        self.node
            .service_builder(&self.name(topic, "/ev")?)
            .event()
            .open_or_create()
            .map_err(|e| format!("iceoryx2 event service `{topic}`: {e:?}"))
    }

    /// A publisher of `size`-byte samples on `topic` and the notifier that wakes its subscriber.
    /// `buffer`: as [`Iox::receiver`] (`None`: open the service the subscriber created).
    /// Backpressure: wait until the subscriber has room (`RetryUntilDelivered`, bounded by
    /// [`BLOCK_LIMIT`] for a subscriber that died).
    pub fn sender(&self, topic: &str, size: usize, buffer: Option<usize>) -> Res<Sender> {
        let svc = self.pubsub(topic, buffer)?;
        let ev = self.event(topic)?;
        let port = svc
            .publisher_builder()
            .initial_max_slice_len(size.max(1))
            // A fixed size in the benchmarks; grows if a pong gets larger pings than its --size.
            .allocation_strategy(AllocationStrategy::PowerOfTwo)
            .max_loaned_samples(1)
            .backpressure_strategy(BackpressureStrategy::RetryUntilDelivered)
            .set_backpressure_handler(|info: &BackpressureInfo| {
                if info.elapsed_time < BLOCK_LIMIT {
                    BackpressureAction::Retry
                } else {
                    BackpressureAction::DiscardData
                }
            })
            .create()
            .map_err(|e| format!("iceoryx2 publisher `{topic}`: {e:?}"))?;
        let notifier =
            ev.notifier_builder().create().map_err(|e| format!("iceoryx2 notifier `{topic}`: {e:?}"))?;
        Ok(Sender { port, notifier, svc, ev })
    }

    /// A subscriber of `topic` and the listener its thread blocks on; `buffer`: its depth
    /// (`None`: open the service as its creator made it).
    pub fn receiver(&self, topic: &str, buffer: Option<usize>) -> Res<Receiver> {
        let svc = self.pubsub(topic, buffer)?;
        let ev = self.event(topic)?;
        let depth = svc.static_config().subscriber_max_buffer_size();
        let port = svc
            .subscriber_builder()
            .buffer_size(depth)
            .create()
            .map_err(|e| format!("iceoryx2 subscriber `{topic}`: {e:?}"))?;
        let listener =
            ev.listener_builder().create().map_err(|e| format!("iceoryx2 listener `{topic}`: {e:?}"))?;
        Ok(Receiver { port, listener, _svc: svc, _ev: ev })
    }
}

/// The sending side of a topic.
pub struct Sender {
    pub port: Publisher<Ipc, [u8], Header>,
    pub notifier: Notifier<Ipc>,
    svc: PubSubFactory<Ipc, [u8], Header>,
    ev: EventFactory<Ipc>,
}

impl Sender {
    /// Whether the other side's subscriber and listener exist.
    pub fn connected(&self) -> bool {
        self.svc.dynamic_config().number_of_subscribers() > 0
            && self.ev.dynamic_config().number_of_listeners() > 0
    }

    /// Loan a sample, write the header and `payload` into it and send it (without notifying).
    #[inline]
    pub fn write(&self, seq: u64, payload: &[u8]) -> Res<()> {
        let mut s = self.port.loan_slice_uninit(payload.len()).map_err(|e| format!("loan: {e:?}"))?;
        s.user_header_mut().seq = seq;
        s.write_from_slice(payload).send().map(drop).map_err(|e| format!("send: {e:?}"))
    }

    /// Wake the subscriber. iceoryx2 folds a notification into one still pending (an atomic
    /// operation, no system call), so only the first after the listener woke costs a syscall.
    #[inline]
    pub fn notify(&self) -> Res<()> {
        self.notifier.notify().map(drop).map_err(|e| format!("notify: {e:?}"))
    }

    /// [`Sender::write`] then [`Sender::notify`].
    pub fn send(&self, seq: u64, payload: &[u8]) -> Res<()> {
        self.write(seq, payload)?;
        self.notify()
    }
}

/// The receiving side of a topic.
pub struct Receiver {
    pub port: Subscriber<Ipc, [u8], Header>,
    pub listener: Listener<Ipc>,
    _svc: PubSubFactory<Ipc, [u8], Header>,
    _ev: EventFactory<Ipc>,
}

impl Receiver {
    /// Block until notified or `timeout`. Returning says nothing about samples (a stale
    /// notification wakes it too): drain `port.receive()` before and after.
    pub fn wait(&self, timeout: Duration) -> Res<()> {
        self.listener.timed_wait(|_| {}, timeout).map(drop).map_err(|e| format!("wait: {e:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_travel_as_endpoints() {
        let tag = new_tag();
        assert_eq!(tag_of(&endpoint(&tag)).unwrap(), tag);
        assert!(tag_of("tcp/127.0.0.1:7447").is_err());
        assert!(tag_of("iceoryx2/").is_err());
        assert!(tag_of("iceoryx2/a/b").is_err());
    }

    #[test]
    fn buffers_hold_about_16_mib_within_8_to_256_samples() {
        assert_eq!(buffer_for(64), 256);
        assert_eq!(buffer_for(65536), 256);
        assert_eq!(buffer_for(1 << 20), 16);
        assert_eq!(buffer_for(64 << 20), 8);
        assert_eq!(buffer_for(0), 256);
    }
}
