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
        atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use iceoryx2::{
    port::{publisher::Publisher as IoxPublisher, subscriber::Subscriber as IoxSubscriber},
    prelude::*,
    service::port_factory::publish_subscribe::PortFactory as PubSubFactory,
};

use crate::wire;

/// The iceoryx2 service flavour: inter-process, ports usable from any thread (publishers and
/// samples move between tasks and threads). Its events are not used: see [`WakeTable`].
type Ipc = iceoryx2::service::ipc_threadsafe::Service;

/// The wake-up words of subscriber threads on this host: one shared file per host tag
/// (`/dev/shm/vbus-iceoryx2/wake-<host tag>`, [`WAKE_SLOTS`] words of one cache line each,
/// sparse: only the pages of words in use take memory), a topic's word chosen by the hash of
/// its service name. Two topics that share a word only wake each other's sleeping readers for
/// nothing. The file is never removed (a few pages; tmpfs starts empty at boot, and the host tag
/// changes with the boot id), so opening it has no race with a remover.
///
/// Why not iceoryx2's events: in 0.10 a notifier skips its wake-up while the listener's state says
/// "notified", and a listener that drained the wake-up before the notifier set that state goes
/// to sleep with the state stuck: every later notification is skipped, and a Block publisher
/// then waits for a subscriber that never wakes (seen here in 1 of 5 throughput runs).
///
/// The protocol (a Dekker pair on the word and the subscriber's queue, both with SeqCst fences):
/// a reader that found nothing stores 1 ("a sleeper"), looks at its queue again, and sleeps on
/// the futex only while the word is still 1. A publisher, after its sample is in the queues,
/// looks at the word: 0 costs nothing more (a load); 1 is swapped to 0 and every sleeper of
/// the word woken (one system call). Either the reader sees the sample or the publisher sees the
/// 1. A reader killed while sleeping leaves a 1 that the next sample clears.
pub(crate) struct WakeTable {
    base: std::ptr::NonNull<AtomicU32>,
}

/// Words in a host's wake-up table, one per [`WAKE_LINE`] bytes.
const WAKE_SLOTS: usize = 16384;
const WAKE_LINE: usize = 64;
const WAKE_LEN: usize = WAKE_SLOTS * WAKE_LINE;
/// Longest sleep of a reader thread without a wake-up: a bound that a correct protocol never
/// needs, kept so that a bug could only delay a topic, never stop it (and is logged).
const WAKE_BOUND: Duration = Duration::from_secs(1);

// SAFETY: the table is a shared mapping of atomics, only accessed through `&AtomicU32`.
unsafe impl Send for WakeTable {}
// SAFETY: see `Send`.
unsafe impl Sync for WakeTable {}

impl WakeTable {
    fn open(tag: u32) -> std::io::Result<Self> {
        use std::os::unix::{fs::OpenOptionsExt, io::AsRawFd};
        std::fs::create_dir_all(ROOT_PATH)?;
        let path = Self::path(tag);
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)?;
        // Every process grows it to the same length; growing zero-fills, so words already set by
        // another process stay as they are.
        if file.metadata()?.len() < WAKE_LEN as u64 {
            file.set_len(WAKE_LEN as u64)?;
        }
        // SAFETY: a fresh shared mapping of `WAKE_LEN` bytes of an open file of at least that
        // length; the mapping outlives the descriptor (closed when `file` drops).
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                WAKE_LEN,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(std::io::Error::other(format!("mmap {path}: {}", std::io::Error::last_os_error())));
        }
        let base = std::ptr::NonNull::new(base.cast::<AtomicU32>()).expect("mmap returned null");
        Ok(Self { base })
    }

    fn path(tag: u32) -> String {
        format!("{ROOT_PATH}wake-{tag:08x}")
    }

    fn slot(&self, service: &str) -> usize {
        wire::fnv1a32(service.bytes()) as usize % WAKE_SLOTS
    }

    fn word(&self, slot: usize) -> &AtomicU32 {
        // SAFETY: `slot < WAKE_SLOTS`, so the word lies inside the mapping, aligned (page-aligned
        // base, 64-byte stride); the mapping lives as long as `self`.
        unsafe { &*self.base.as_ptr().byte_add(slot % WAKE_SLOTS * WAKE_LINE) }
    }
}

impl Drop for WakeTable {
    fn drop(&mut self) {
        // SAFETY: unmaps the mapping made in `open`; no reference into it outlives `self`.
        unsafe { libc::munmap(self.base.as_ptr().cast(), WAKE_LEN) };
    }
}

/// One topic's wake-up word (see [`WakeTable`]).
#[derive(Clone)]
pub(crate) struct Wake {
    table: Arc<WakeTable>,
    slot: usize,
}

impl Wake {
    fn word(&self) -> &AtomicU32 {
        self.table.word(self.slot)
    }

    /// After a sample is in the subscribers' queues: wake the word's sleepers, if any.
    #[inline]
    pub(crate) fn notify(&self) {
        std::sync::atomic::fence(Ordering::SeqCst);
        let w = self.word();
        if w.load(Ordering::Relaxed) != 0 && w.swap(0, Ordering::SeqCst) != 0 {
            futex_wake(w);
        }
    }

    /// Wake every sleeper of the word, whatever it says.
    fn wake_all(&self) {
        std::sync::atomic::fence(Ordering::SeqCst);
        let w = self.word();
        w.store(0, Ordering::SeqCst);
        futex_wake(w);
    }

    /// Sleep until woken, unless `ready` (checked after announcing the sleep) says there is
    /// something to do. Returns whether the sleep ended by [`WAKE_BOUND`] rather than a wake-up.
    fn sleep(&self, ready: impl Fn() -> bool) -> bool {
        let w = self.word();
        w.store(1, Ordering::SeqCst);
        std::sync::atomic::fence(Ordering::SeqCst);
        if ready() {
            return false;
        }
        let t = libc::timespec { tv_sec: WAKE_BOUND.as_secs() as libc::time_t, tv_nsec: 0 };
        // SAFETY: FUTEX_WAIT on a valid, aligned word of a shared mapping, with a valid timeout;
        // the kernel reads both only during the call.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_futex,
                w.as_ptr(),
                libc::FUTEX_WAIT,
                1u32,
                &t as *const libc::timespec,
                0usize,
                0u32,
            )
        };
        rc != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ETIMEDOUT)
    }
}

fn futex_wake(w: &AtomicU32) {
    // SAFETY: FUTEX_WAKE on a valid, aligned word of a shared mapping (shared futex: no
    // FUTEX_PRIVATE_FLAG, so sleepers in other processes are woken).
    unsafe { libc::syscall(libc::SYS_futex, w.as_ptr(), libc::FUTEX_WAKE, i32::MAX, 0usize, 0usize, 0u32) };
}

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
    wire::fnv1a32([boot.trim(), &shm, &net].into_iter().flat_map(|part| part.bytes().chain([0]))).max(1)
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

    /// Whether some subscriber of this host announced (`@local`) that it reads `key` through
    /// shared memory.
    fn has_local(&self, key: &str) -> bool {
        let st = self.inner.lock().expect("directory lock");
        st.local.values().any(|(_, k)| k == key)
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
    wake: Arc<WakeTable>,
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
        let wake = Arc::new(WakeTable::open(tag).map_err(|e| format!("wake-up table: {e}"))?);
        Ok(Self { node: Arc::new(node), tag, domain: domain.to_owned(), dir, wake, _watch: [subs, locals] })
    }

    /// `<host tag>/<domain>/<key>`: shared memory is shared by every process that sees this
    /// `/dev/shm`, network namespaces or not; the tag keeps "another host" out.
    fn service_name(&self, key: &str) -> Result<ServiceName, String> {
        let name = self.service_name_text(key);
        ServiceName::new(&name).map_err(|e| format!("service name `{name}`: {e:?}"))
    }

    fn service_name_text(&self, key: &str) -> String {
        format!("{:08x}/{}/{}", self.tag, self.domain, key)
    }

    fn pubsub(&self, key: &str) -> Result<PubSubFactory<Ipc, [u8], LocalHeader>, String> {
        self.node
            .service_builder(&self.service_name(key)?)
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

    /// The wake-up word of `key`'s subscriber threads.
    fn wake(&self, key: &str) -> Wake {
        Wake { table: self.wake.clone(), slot: self.wake.slot(&self.service_name_text(key)) }
    }

    /// A publisher port for `key`; `block`: wait for a full subscriber (Block congestion)
    /// instead of discarding the sample for it.
    pub(crate) fn publisher(&self, key: &str, block: bool) -> Result<LocalPublisher, String> {
        let svc = self.pubsub(key)?;
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
        Ok(LocalPublisher {
            port,
            wake: self.wake(key),
            svc,
            tag: self.tag,
            key: key.to_owned(),
            dir: self.dir.clone(),
            seen: u64::MAX,
            zenoh_needed: true,
            warned: false,
            capacity: 256,
            node: self.node.clone(),
            waited: waited_out,
            block,
            missed: 0,
        })
    }

    /// A subscriber port for `key`, with the wake-up word its thread sleeps on.
    pub(crate) fn subscriber(&self, key: &str) -> Result<SubscriberPort, String> {
        let svc = self.pubsub(key)?;
        let port = svc
            .subscriber_builder()
            .buffer_size(BUFFER)
            .create()
            .map_err(|e| format!("shared-memory subscriber for `{key}`: {e:?}"))?;
        Ok(SubscriberPort { port, wake: self.wake(key), _svc: svc })
    }
}

/// A subscriber's port, the wake-up word its thread sleeps on, and the service they belong to.
pub(crate) struct SubscriberPort {
    port: IoxSubscriber<Ipc, [u8], LocalHeader>,
    wake: Wake,
    _svc: PubSubFactory<Ipc, [u8], LocalHeader>,
}

/// A running reader thread (see [`spawn_reader`]); dropping it stops the thread, which then
/// releases the port.
pub(crate) struct Reader {
    stop: Arc<AtomicBool>,
    wake: Wake,
    _thread: std::thread::JoinHandle<()>,
}

impl Drop for Reader {
    fn drop(&mut self) {
        // The thread checks `stop` after announcing its sleep (see `Wake::sleep`): set it
        // first, then wake every sleeper of the word (the others find nothing and sleep again).
        self.stop.store(true, Ordering::SeqCst);
        self.wake.wake_all();
    }
}

/// A publisher's shared-memory port.
pub(crate) struct LocalPublisher {
    port: IoxPublisher<Ipc, [u8], LocalHeader>,
    wake: Wake,
    svc: PubSubFactory<Ipc, [u8], LocalHeader>,
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
    /// Block congestion: iceoryx2 waits for a full subscriber (up to `BLOCK_LIMIT`); otherwise
    /// a full subscriber does not take the sample.
    block: bool,
    /// Samples full subscribers did not take (Drop topics), not yet counted by the publisher.
    missed: u64,
}

impl LocalPublisher {
    /// How long the last send waited for a full subscriber (zero if none was full).
    /// Deliveries refused by full same-host subscriber queues since the last call (Drop topics).
    pub(crate) fn take_missed(&mut self) -> u64 {
        std::mem::take(&mut self.missed)
    }

    pub(crate) fn last_wait(&self) -> Duration {
        Duration::from_nanos(self.waited.load(Ordering::Relaxed))
    }

    /// How many subscribers of this host read the topic through shared memory now.
    pub(crate) fn subscribers(&self) -> usize {
        self.svc.dynamic_config().number_of_subscribers()
    }

    /// Whether some subscriber's `@local` token for this topic has reached this node.
    pub(crate) fn announced(&self) -> bool {
        self.dir.has_local(&self.key)
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
    /// whether all `connected` subscribers (as [`LocalPublisher::subscribers`] said just before)
    /// took it, or, on a Drop topic, were sent it (a connected subscriber that is full loses it:
    /// its next sequence number shows the gap, counted as lost; sending it on zenoh instead would
    /// deliver it ahead of the older samples still in the subscriber's buffer, which would then
    /// arrive late). If not (a Block topic's subscriber given up after `BLOCK_LIMIT`, a failure,
    /// logged once), the sample also goes through zenoh unflagged, and those that got both drop
    /// the second as a duplicate.
    pub(crate) fn deliver(&mut self, connected: usize, attachment: &[u8], payload: &[u8]) -> bool {
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
                if took > 0 {
                    self.wake.notify();
                }
                if took < connected && !self.block {
                    // A Drop topic: the subscribers whose queue was full miss this sample.
                    self.missed += (connected - took) as u64;
                }
                took >= connected || !self.block
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
/// notification, hand every sample to `on_sample` (attachment, payload), until the returned
/// [`Reader`] is dropped. `spin`: poll for that long before blocking (topics that trade a core
/// for latency).
pub(crate) fn spawn_reader(
    key: &str,
    SubscriberPort { port, wake, _svc }: SubscriberPort,
    spin: Duration,
    realtime: bool,
    on_sample: impl Fn(&[u8], crate::sample::Payload) + Send + 'static,
) -> std::io::Result<Reader> {
    let name = format!("vbus-rx {key}");
    let key = key.to_owned();
    let stop = Arc::new(AtomicBool::new(false));
    let (thread_stop, sleeper) = (stop.clone(), wake.clone());
    let thread = std::thread::Builder::new().name(name.chars().take(15).collect()).spawn(move || {
        let (_keep, stop) = (_svc, thread_stop);
        if realtime {
            set_realtime(&key);
        }
        let held = Arc::new(AtomicUsize::new(0));
        let mut reported = false;
        let mut warned_missed = false;
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
            // Sleep in the kernel until a publisher's wake-up or the `Reader`'s stop.
            let missed = sleeper.sleep(|| stop.load(Ordering::SeqCst) || port.has_samples().unwrap_or(true));
            if missed && port.has_samples().unwrap_or(false) && !warned_missed {
                // Cannot happen by the protocol (see `Wake`); said once if it does, and the
                // sleep's bound keeps the topic going.
                warned_missed = true;
                tracing::warn!(key = %key, "shared-memory reader slept {WAKE_BOUND:?} with samples waiting (missed wake-up)");
            }
        }
    })?;
    Ok(Reader { stop, wake, _thread: thread })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two mappings of one table, as two processes have them.
    fn pair(tag: u32) -> (Wake, Wake) {
        // A tag of its own per test and process (a host tag is a hash: a clash is unlikely).
        let tag = tag << 24 | std::process::id() & 0xff_ffff;
        let a = Arc::new(WakeTable::open(tag).unwrap());
        let b = Arc::new(WakeTable::open(tag).unwrap());
        // The mappings stay; the file goes, so tests leave nothing in /dev/shm.
        std::fs::remove_file(WakeTable::path(tag)).unwrap();
        let slot = a.slot("t");
        (Wake { table: a, slot }, Wake { table: b, slot })
    }

    #[test]
    fn a_sleeper_is_woken_through_another_mapping_every_time() {
        let (sleeper, publisher) = pair(0xa1);
        let pending = Arc::new(AtomicU64::new(0));
        let seen = pending.clone();
        let rounds = 2_000u64;
        let t = std::thread::spawn(move || {
            let mut taken = 0;
            let mut missed = 0;
            while taken < rounds {
                if seen.load(Ordering::SeqCst) > taken {
                    taken += 1;
                    continue;
                }
                if sleeper.sleep(|| seen.load(Ordering::SeqCst) > taken) {
                    missed += 1;
                }
            }
            missed
        });
        for _ in 0..rounds {
            // The "sample" is in the queue before the wake-up, as a publisher's send is.
            pending.fetch_add(1, Ordering::SeqCst);
            publisher.notify();
            if pending.load(Ordering::SeqCst).is_multiple_of(7) {
                std::thread::yield_now();
            }
        }
        // A lost wake-up shows as a sleep that ran into its bound.
        assert_eq!(t.join().unwrap(), 0, "sleeps that ended by the bound, not by a wake-up");
    }

    #[test]
    fn a_stale_sleeper_mark_costs_one_wake_then_clears() {
        let (sleeper, publisher) = pair(0xa2);
        // A reader marked its sleep, found work and left (or was killed asleep).
        assert!(!sleeper.sleep(|| true));
        assert_eq!(publisher.word().load(Ordering::SeqCst), 1);
        publisher.notify();
        assert_eq!(publisher.word().load(Ordering::SeqCst), 0);
    }
}
