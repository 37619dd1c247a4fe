//! The same-host data path: samples between processes of one host go through shared memory
//! (iceoryx2), written once by the publisher and read in place by the subscriber, whose thread
//! is woken directly by the publisher's notification (one wake-up per hop).
//!
//! Nothing to configure: a node opens its iceoryx2 side at start (or says once why it cannot and
//! uses zenoh only). Which subscribers share the host is learnt from liveliness tokens: every
//! subscriber that reads a topic through shared memory declares
//! `vbus/<domain>/@local/<host tag>/<node>/<type>/<key>` next to its `@sub` token, and a publisher puts a
//! sample on zenoh only while some announced subscriber of its key lacks such a token on its own
//! host (or none is announced at all). A sample that went through shared memory carries
//! [`wire::FLAG_LOCAL`] and the host tag in its header, so a local subscriber that also receives
//! it from zenoh (because a remote subscriber needed the put) ignores that copy: every sample
//! arrives exactly once. Both paths then run the same receive code (`subscriber::Ingress`).

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use iceoryx2::{
    port::{
        listener::Listener, notifier::Notifier, publisher::Publisher as IoxPublisher,
        subscriber::Subscriber as IoxSubscriber,
    },
    prelude::*,
    service::port_factory::{
        event::PortFactory as EventFactory, publish_subscribe::PortFactory as PubSubFactory,
    },
};

use crate::wire;

/// The iceoryx2 service flavour: inter-process, ports usable from any thread (publishers and
/// samples move between tasks and threads).
type Ipc = iceoryx2::service::ipc_threadsafe::Service;

/// Service limits, the same for every vbus topic so that any node opens what another created.
const MAX_PUBLISHERS: usize = 8;
const MAX_SUBSCRIBERS: usize = 8;
/// Samples waiting per subscriber in shared memory; the subscriber's thread moves them to its
/// queue at once, so this only fills while that thread is not scheduled.
const BUFFER: usize = 32;
/// Samples a subscriber may hold in place at once (queued for or kept by the application);
/// beyond that, further samples are copied out of shared memory so the publisher's segment
/// never runs dry.
const BORROWED: usize = 4;
/// Chunks in a publisher's segment: every subscriber's buffer and borrowed samples, plus loans.
const CHUNKS: u64 = (MAX_SUBSCRIBERS * (BUFFER + BORROWED) + 2) as u64;
/// How long a Block publisher waits for one full subscriber before it gives that subscriber up
/// for this sample (zenoh closes a link blocked this long: `wait_before_close`). It also bounds
/// the wait on a subscriber that was killed and holds its buffer until cleaned up.
const BLOCK_LIMIT: Duration = Duration::from_secs(5);
/// Largest slice a publisher puts in shared memory; bigger samples go through zenoh.
const MAX_LOCAL_PAYLOAD: usize = 64 << 20;
/// Where iceoryx2 keeps its management files (tmpfs).
const ROOT_PATH: &str = "/dev/shm/vbus-iceoryx2/";
/// Free space `/dev/shm` must have for a node to use the same-host path.
pub(crate) const MIN_FREE_SHM: u64 = 256 << 20;
/// How long a subscriber thread keeps looking for the next sample of a burst before it sleeps.
const BURST_SPIN: Duration = Duration::from_micros(50);
/// How often an idle subscriber thread looks whether its subscriber is gone.
const IDLE_CHECK: Duration = Duration::from_millis(100);

/// The header a sample carries in shared memory: the wire attachment (header, E2E extension),
/// byte for byte as on zenoh, so both paths are checked by the same code.
#[derive(Debug, Clone, Copy, ZeroCopySend)]
#[repr(C)]
#[type_name("vbus.LocalHeaderV1")]
pub(crate) struct LocalHeader {
    attachment: [u8; wire::HEADER_LEN + wire::E2E_EXT_LEN],
    len: u32,
    /// Where the FlatBuffer starts in the slice.
    offset: u32,
}

impl Default for LocalHeader {
    fn default() -> Self {
        Self { attachment: [0; wire::HEADER_LEN + wire::E2E_EXT_LEN], len: 0, offset: 0 }
    }
}

/// Why a node runs without the same-host path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LocalPath {
    /// Samples to subscribers on this host go through shared memory.
    SharedMemory {
        /// This host's tag (see `WIRE.md`).
        host_tag: u32,
    },
    /// Turned off by configuration (`shared_memory: false`) or `VBUS_SHARED_MEMORY=off`.
    Disabled,
    /// Shared memory is missing or too small: every sample goes through zenoh.
    Unavailable {
        /// What failed.
        reason: String,
    },
}

impl std::fmt::Display for LocalPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::SharedMemory { host_tag } => write!(f, "shared memory (host tag {host_tag:08x})"),
            Self::Disabled => f.write_str("zenoh only (shared memory turned off by configuration)"),
            Self::Unavailable { reason } => write!(f, "zenoh only (shared memory unavailable: {reason})"),
        }
    }
}

/// A tag for "processes that share shared memory and a network view": the boot, the `/dev/shm`
/// they see (device and inode: a container with its own tmpfs sees another one; the mount
/// namespaces `ip netns exec` makes see the same) and the network namespace. Processes in another
/// network namespace count as another host, which is what they are to zenoh.
pub(crate) fn host_tag() -> u32 {
    use std::os::unix::fs::MetadataExt;
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default();
    let shm = std::fs::metadata("/dev/shm").map(|m| format!("{}:{}", m.dev(), m.ino())).unwrap_or_default();
    let net = std::fs::read_link("/proc/self/ns/net").map(|p| p.display().to_string()).unwrap_or_default();
    let mut h = 0x811c_9dc5u32;
    for part in [boot.trim(), &shm, &net] {
        for b in part.bytes().chain([0]) {
            h = (h ^ b as u32).wrapping_mul(0x0100_0193);
        }
    }
    h.max(1)
}

fn free_shm() -> Result<u64, String> {
    let path = std::ffi::CString::new("/dev/shm").expect("no NUL");
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `path` is a valid C string and `st` a writable statvfs buffer.
    let rc = unsafe { libc::statvfs(path.as_ptr(), st.as_mut_ptr()) };
    if rc != 0 {
        return Err(format!("/dev/shm: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: statvfs succeeded and filled the buffer.
    let st = unsafe { st.assume_init() };
    Ok(st.f_bavail.saturating_mul(st.f_frsize))
}

/// Which announced subscribers read through shared memory on this host; kept current from
/// liveliness tokens, read by publishers through a generation number.
#[derive(Default)]
pub(crate) struct Directory {
    inner: Mutex<DirState>,
    generation: AtomicU64,
}

#[derive(Default)]
struct DirState {
    /// `@sub` token key -> (`<node>/<type>`, key expression).
    subs: HashMap<String, (String, String)>,
    /// `@local` token key -> (`<node>/<type>`, key) of subscribers reading through shared memory
    /// on this host.
    local: HashMap<String, (String, String)>,
}

/// Follow the liveliness tokens `<prefix><node>/<type>/<key>` into the directory (`local`: the
/// `@local` table, else the `@sub` one).
async fn watch(
    session: &zenoh::Session,
    prefix: String,
    dir: Arc<Directory>,
    local: bool,
) -> Result<zenoh::pubsub::Subscriber<()>, String> {
    let expr = format!("{prefix}**");
    session
        .liveliness()
        .declare_subscriber(&expr)
        .history(true)
        .callback(move |s| {
            let token = s.key_expr().as_str();
            let Some(rest) = token.strip_prefix(&prefix) else { return };
            let mut parts = rest.splitn(3, '/');
            let (Some(node), Some(type_name), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
                return;
            };
            let mut st = dir.inner.lock().expect("directory lock");
            let table = if local { &mut st.local } else { &mut st.subs };
            match s.kind() {
                zenoh::sample::SampleKind::Put => {
                    table.insert(token.to_owned(), (format!("{node}/{type_name}"), key.to_owned()));
                }
                zenoh::sample::SampleKind::Delete => {
                    table.remove(token);
                }
            }
            drop(st);
            dir.changed();
        })
        .await
        .map_err(|e| format!("cannot watch the tokens {expr}: {e}"))
}

impl Directory {
    fn changed(&self) {
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// Whether a sample of `key` must also go on zenoh: some announced subscriber of it does not
    /// read it through shared memory on this host, or no subscriber is announced (then zenoh's
    /// own matching decides, which also serves subscribers that declare no token).
    fn needs_zenoh(&self, key: &str) -> bool {
        let st = self.inner.lock().expect("directory lock");
        let Ok(k) = zenoh::key_expr::KeyExpr::try_from(key) else { return true };
        let mut announced = false;
        for (node, expr) in st.subs.values() {
            let matches = expr == key
                || zenoh::key_expr::KeyExpr::try_from(expr.as_str()).is_ok_and(|e| e.intersects(&k));
            if matches {
                announced = true;
                if !st.local.values().any(|(n, k)| n == node && k == key) {
                    return true;
                }
            }
        }
        !announced
    }
}

/// A node's same-host side: its iceoryx2 node and the directory of local subscribers.
pub(crate) struct LocalHost {
    node: Arc<iceoryx2::node::Node<Ipc>>,
    pub(crate) tag: u32,
    domain: String,
    pub(crate) dir: Arc<Directory>,
    _watch: [zenoh::pubsub::Subscriber<()>; 2],
}

impl LocalHost {
    /// Open the iceoryx2 side of a node and start following the domain's subscriber tokens.
    pub(crate) async fn open(session: &zenoh::Session, domain: &str, name: &str) -> Result<Self, String> {
        let free = free_shm()?;
        if free < MIN_FREE_SHM {
            return Err(format!(
                "/dev/shm has {} MiB free, the same-host path needs at least {} MiB",
                free >> 20,
                MIN_FREE_SHM >> 20
            ));
        }
        set_log_level(LogLevel::Error);
        let node_name = NodeName::new(name).map_err(|e| format!("node name `{name}`: {e:?}"))?;
        // iceoryx2's own files (node and service descriptions, event sockets) live on tmpfs
        // next to the segments: on a disk, each is fsynced (2-13 ms per service here).
        let mut cfg = Config::default();
        cfg.global
            .set_root_path(&Path::new(ROOT_PATH.as_bytes()).map_err(|e| format!("{ROOT_PATH}: {e:?}"))?);
        cfg.global.prefix = FileName::new(b"vbus_").map_err(|e| format!("prefix: {e:?}"))?;
        // Resources of crashed nodes (kill -9) are removed when a node is created and when a
        // service is opened (iceoryx2's defaults), so a restart finds a clean state.
        let node = NodeBuilder::new()
            .name(&node_name)
            .config(&cfg)
            .signal_handling_mode(SignalHandlingMode::Disabled)
            .create::<Ipc>()
            .map_err(|e| format!("cannot create the iceoryx2 node: {e:?}"))?;
        let tag = host_tag();
        let dir = Arc::new(Directory::default());
        let subs = watch(session, format!("{}/{domain}/@sub/", wire::KEY_PREFIX), dir.clone(), false).await?;
        let locals = watch(session, wire::local_token_prefix(domain, tag), dir.clone(), true).await?;
        Ok(Self { node: Arc::new(node), tag, domain: domain.to_owned(), dir, _watch: [subs, locals] })
    }

    /// `<host tag>/<domain>/<key>`: shared memory is shared by every process that sees this
    /// `/dev/shm`, network namespaces or not; the tag keeps "another host" out.
    fn service_name(&self, key: &str, suffix: &str) -> Result<ServiceName, String> {
        let name = format!("{:08x}/{}/{}{suffix}", self.tag, self.domain, key);
        ServiceName::new(&name).map_err(|e| format!("service name `{name}`: {e:?}"))
    }

    fn pubsub(&self, key: &str) -> Result<PubSubFactory<Ipc, [u8], LocalHeader>, String> {
        self.node
            .service_builder(&self.service_name(key, "")?)
            .publish_subscribe::<[u8]>()
            .user_header::<LocalHeader>()
            .max_publishers(MAX_PUBLISHERS)
            .max_subscribers(MAX_SUBSCRIBERS)
            .subscriber_max_buffer_size(BUFFER)
            .subscriber_max_borrowed_samples(BORROWED)
            .history_size(0)
            .enable_safe_overflow(false)
            .open_or_create()
            .map_err(|e| format!("shared-memory service for `{key}`: {e:?}"))
    }

    fn event(&self, key: &str) -> Result<EventFactory<Ipc>, String> {
        self.node
            .service_builder(&self.service_name(key, "/@ev")?)
            .event()
            .open_or_create()
            .map_err(|e| format!("shared-memory event service for `{key}`: {e:?}"))
    }

    /// A publisher port for `key`; `block`: wait for a full subscriber (Block congestion)
    /// instead of discarding the sample for it.
    pub(crate) fn publisher(&self, key: &str, block: bool) -> Result<LocalPublisher, String> {
        let svc = self.pubsub(key)?;
        let ev = self.event(key)?;
        let waited = Arc::new(AtomicU64::new(0));
        let waited_out = waited.clone();
        let port = svc
            .publisher_builder()
            .initial_max_slice_len(256)
            .allocation_strategy(AllocationStrategy::PowerOfTwo)
            .backpressure_strategy(if block {
                BackpressureStrategy::RetryUntilDelivered
            } else {
                BackpressureStrategy::DiscardData
            })
            .set_backpressure_handler(move |info: &iceoryx2::port::BackpressureInfo| {
                waited.fetch_max(info.elapsed_time.as_nanos() as u64, Ordering::Relaxed);
                if block && info.elapsed_time < BLOCK_LIMIT {
                    iceoryx2::port::BackpressureAction::Retry
                } else {
                    iceoryx2::port::BackpressureAction::DiscardData
                }
            })
            .create()
            .map_err(|e| format!("shared-memory publisher for `{key}`: {e:?}"))?;
        let notifier = ev
            .notifier_builder()
            .create()
            .map_err(|e| format!("shared-memory notifier for `{key}`: {e:?}"))?;
        Ok(LocalPublisher {
            port,
            notifier,
            svc,
            _ev: ev,
            tag: self.tag,
            key: key.to_owned(),
            dir: self.dir.clone(),
            seen: u64::MAX,
            zenoh_needed: true,
            warned: false,
            capacity: 256,
            node: self.node.clone(),
            waited: waited_out,
        })
    }

    /// A subscriber port for `key`, with the listener its thread waits on.
    pub(crate) fn subscriber(&self, key: &str) -> Result<SubscriberPort, String> {
        let svc = self.pubsub(key)?;
        let ev = self.event(key)?;
        let port = svc
            .subscriber_builder()
            .buffer_size(BUFFER)
            .create()
            .map_err(|e| format!("shared-memory subscriber for `{key}`: {e:?}"))?;
        let listener = ev
            .listener_builder()
            .create()
            .map_err(|e| format!("shared-memory listener for `{key}`: {e:?}"))?;
        Ok((port, listener, Keep { _svc: svc, _ev: ev }))
    }
}

/// A subscriber's port, the listener its thread waits on, and the services they belong to.
pub(crate) type SubscriberPort = (IoxSubscriber<Ipc, [u8], LocalHeader>, Listener<Ipc>, Keep);

/// Service handles a subscriber keeps open.
pub(crate) struct Keep {
    _svc: PubSubFactory<Ipc, [u8], LocalHeader>,
    _ev: EventFactory<Ipc>,
}

/// A publisher's shared-memory port.
pub(crate) struct LocalPublisher {
    port: IoxPublisher<Ipc, [u8], LocalHeader>,
    notifier: Notifier<Ipc>,
    svc: PubSubFactory<Ipc, [u8], LocalHeader>,
    _ev: EventFactory<Ipc>,
    pub(crate) tag: u32,
    key: String,
    dir: Arc<Directory>,
    /// Directory generation `zenoh_needed` was computed at.
    seen: u64,
    zenoh_needed: bool,
    warned: bool,
    /// Largest slice the segment holds now; it grows by powers of two.
    capacity: usize,
    node: Arc<iceoryx2::node::Node<Ipc>>,
    /// Longest wait for a full subscriber during the current send (set by the back-pressure
    /// handler, which iceoryx2 calls only when a subscriber is full: no clock read otherwise).
    waited: Arc<AtomicU64>,
}

impl LocalPublisher {
    /// How long the last send waited for a full subscriber (zero if none was full).
    pub(crate) fn last_wait(&self) -> Duration {
        Duration::from_nanos(self.waited.load(Ordering::Relaxed))
    }

    /// Whether some subscriber of this host reads the topic through shared memory now.
    pub(crate) fn has_subscribers(&self) -> bool {
        self.svc.dynamic_config().number_of_subscribers() > 0
    }

    /// Whether the sample must also be put on zenoh (see the module documentation).
    pub(crate) fn zenoh_needed(&mut self) -> bool {
        let g = self.dir.generation.load(Ordering::Acquire);
        if g != self.seen {
            self.seen = g;
            self.zenoh_needed = self.dir.needs_zenoh(&self.key);
        }
        self.zenoh_needed
    }

    /// Write `attachment` and `payload` into shared memory and wake the subscribers. Returns
    /// whether every subscriber connected here took it; if not (a subscriber whose connection
    /// is not set up yet, a dead one, a failure, logged once), the sample also goes through
    /// zenoh unflagged, and those that got both drop the second as a duplicate.
    pub(crate) fn deliver(&mut self, attachment: &[u8], payload: &[u8]) -> bool {
        let connected = self.svc.dynamic_config().number_of_subscribers();
        self.waited.store(0, Ordering::Relaxed);
        if payload.len() > self.capacity {
            // The segment grows: make sure /dev/shm has room for it, or a write into it would
            // fault (SIGBUS: tmpfs backs pages when they are first touched).
            let grown = payload.len().next_power_of_two();
            let needed = CHUNKS * grown as u64;
            let room = free_shm().unwrap_or(0);
            if grown > MAX_LOCAL_PAYLOAD || room < needed {
                if !self.warned {
                    self.warned = true;
                    tracing::warn!(key = %self.key, size = payload.len(), needed_mib = needed >> 20, free_mib = room >> 20, "sample too large for /dev/shm; samples this large go through zenoh");
                }
                return false;
            }
            self.capacity = grown;
        }
        let r = write_and_send(&self.port, attachment, payload);
        if self.last_wait() >= BLOCK_LIMIT {
            // A subscriber did not take a sample for that long: if its process died, its
            // resources go now, so that the next sample does not wait for it again.
            let st = self.node.try_cleanup_dead_nodes();
            tracing::warn!(key = %self.key, cleaned = st.cleanups, "a same-host subscriber blocked this publisher for {BLOCK_LIMIT:?}; its sample was given up for it");
        }
        match r {
            Ok(took) => {
                if took > 0
                    && let Err(e) = notify(&self.notifier)
                {
                    tracing::debug!(key = %self.key, error = ?e, "shared-memory notify failed");
                }
                took >= connected
            }
            Err(e) => {
                if !self.warned {
                    self.warned = true;
                    tracing::warn!(key = %self.key, error = %e, "shared-memory send failed; this topic's samples go through zenoh while it fails");
                }
                false
            }
        }
    }
}

#[inline(never)]
fn write_and_send(
    port: &IoxPublisher<Ipc, [u8], LocalHeader>,
    attachment: &[u8],
    payload: &[u8],
) -> Result<usize, String> {
    let mut s = port.loan_slice_uninit(payload.len()).map_err(|e| format!("{e:?}"))?;
    let h = s.user_header_mut();
    h.attachment[..attachment.len()].copy_from_slice(attachment);
    h.len = attachment.len() as u32;
    h.offset = 0;
    let s = s.write_from_slice(payload);
    s.send().map_err(|e| format!("{e:?}"))
}

#[inline(never)]
fn notify(n: &Notifier<Ipc>) -> Result<usize, iceoryx2::port::notifier::NotifierNotifyError> {
    n.notify()
}

/// A sample read in place from shared memory. Released back to the publisher when dropped.
pub(crate) struct LocalSample {
    sample: iceoryx2::sample::Sample<Ipc, [u8], LocalHeader>,
    held: Arc<AtomicUsize>,
}

// SAFETY: a `LocalSample` only reads its chunk: once sent, iceoryx2 never writes a chunk while
// a subscriber holds it, and the segment stays mapped while the sample holds the subscriber's
// shared state. That state is the thread-safe flavour (`ipc_threadsafe`: `Arc` + mutex), so
// returning the chunk on drop from any thread is sound. The raw chunk pointers inside are what
// keep the compiler from deriving these.
unsafe impl Send for LocalSample {}
// SAFETY: see `Send`; `&LocalSample` gives read-only access to immutable bytes.
unsafe impl Sync for LocalSample {}

impl LocalSample {
    pub(crate) fn bytes(&self) -> &[u8] {
        let off = self.sample.user_header().offset as usize;
        self.sample.payload().get(off..).unwrap_or(&[])
    }
}

impl Drop for LocalSample {
    fn drop(&mut self) {
        self.held.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Real-time topics (`Priority::RealTime`): the reader thread is woken ahead of ordinary work
/// (`SCHED_FIFO`, priority [`RT_PRIORITY`]). Needs `CAP_SYS_NICE` (or root); without it the
/// thread keeps the normal policy, said once per topic at debug level.
fn set_realtime(key: &str) {
    let param = libc::sched_param { sched_priority: RT_PRIORITY };
    // SAFETY: plain syscall on the calling thread (pid 0) with a valid parameter block.
    let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) };
    if rc != 0 {
        tracing::debug!(key, error = %std::io::Error::last_os_error(), "real-time topic: reader thread keeps the normal scheduling policy");
    }
}

/// `SCHED_FIFO` priority of real-time readers: above ordinary threads, below the kernel's own
/// (threaded IRQs run at 50).
const RT_PRIORITY: i32 = 10;

/// Run a subscriber's shared-memory reader on its own thread: wait for the publisher's
/// notification, hand every sample to `on_sample` (attachment, payload), until `stop` is set.
/// `spin`: poll for that long before blocking (topics that trade a core for latency).
pub(crate) fn spawn_reader(
    key: &str,
    (port, listener, keep): SubscriberPort,
    spin: Duration,
    realtime: bool,
    stop: Arc<AtomicBool>,
    on_sample: impl Fn(&[u8], crate::sample::Payload) + Send + 'static,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let name = format!("vbus-rx {key}");
    let key = key.to_owned();
    std::thread::Builder::new().name(name.chars().take(15).collect()).spawn(move || {
        let _keep = keep;
        if realtime {
            set_realtime(&key);
        }
        let held = Arc::new(AtomicUsize::new(0));
        let mut reported = false;
        while !stop.load(Ordering::Relaxed) {
            let mut got = 0usize;
            loop {
                match port.receive() {
                    Ok(Some(sample)) => {
                        got += 1;
                        let h = *sample.user_header();
                        let att = &h.attachment[..(h.len as usize).min(h.attachment.len())];
                        // Keep samples in place while few are held; copy out beyond that, so a
                        // slow application never starves the publisher's segment.
                        let payload = if held.fetch_add(1, Ordering::Relaxed) + 1 < BORROWED {
                            crate::sample::Payload::Local(LocalSample { sample, held: held.clone() })
                        } else {
                            let s = LocalSample { sample, held: held.clone() };
                            crate::sample::Payload::local_copy_of(s.bytes())
                        };
                        on_sample(att, payload);
                    }
                    Ok(None) => break,
                    Err(e) => {
                        if !reported {
                            reported = true;
                            tracing::warn!(key = %key, error = ?e, "shared-memory receive failed");
                        }
                        break;
                    }
                }
            }
            // Samples in a burst (more than one was waiting): the publisher is streaming, and the
            // next one is near; looking again for a moment saves a sleep and a wake-up per
            // sample (and the publisher's notifications stay cheap while one is pending). A
            // topic's QoS spin does the same after every sample.
            let look = if !spin.is_zero() && got > 0 {
                spin
            } else if got > 1 {
                BURST_SPIN
            } else {
                Duration::ZERO
            };
            if !look.is_zero() {
                let until = std::time::Instant::now() + look;
                let mut polls = 0u32;
                while !port.has_samples().unwrap_or(true) && std::time::Instant::now() < until {
                    // Spin at first (the next sample is usually microseconds away), then let
                    // other threads run.
                    polls += 1;
                    if polls < 64 {
                        std::hint::spin_loop();
                    } else {
                        std::thread::yield_now();
                    }
                }
                continue;
            }
            if let Err(e) = listener.timed_wait(|_| {}, IDLE_CHECK) {
                tracing::warn!(key = %key, error = ?e, "shared-memory wait failed; reader stops");
                return;
            }
        }
    })
}
