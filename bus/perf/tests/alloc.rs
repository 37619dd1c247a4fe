//! Heap allocations per message on the publish and delivery paths, vbus next to raw zenoh and
//! raw iceoryx2.
//!
//! A counting `#[global_allocator]` counts every allocation (and reallocation) of the process,
//! and per thread. Two sessions in this process talk over TCP loopback, or, for vbus's same-host
//! path and raw iceoryx2, through shared memory; messages go one at a time (publish, wait until
//! delivered), so:
//! - publish path = allocations on the publishing thread inside the publish call;
//! - rest of the path = every other allocation in the window (zenoh's tx task, rx task, vbus's
//!   receive path, the subscriber's delivery), per message.
//!
//! The baselines are the transports vbus runs on, used raw at the same versions: zenoh
//! (`z_pub_thr`-style: one payload cloned for every put) for vbus over zenoh, iceoryx2 (loan,
//! write, send, notify; a thread waiting on the listener receives) for vbus's same-host path.
//! What vbus adds on top of them is what vbus controls, and that is what the bounds below hold.
//! Run `cargo test --release -p vbus-perf --test alloc -- --nocapture` to see the table.

use std::{
    alloc::{GlobalAlloc, Layout, System},
    cell::Cell,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering::Relaxed},
    },
    time::{Duration, Instant},
};

use vbus::zenoh::{self, Wait, bytes::ZBytes};
use vbus_perf::{
    config::Net,
    iox::{self, Iox},
    payload::{self, THR_KEY, zenoh_key},
};

struct Counting;

static TOTAL: AtomicU64 = AtomicU64::new(0);
/// With `VBUS_PERF_ALLOC_TRACE=N`: print where the first N allocations of each measured window
/// come from (a development aid; off in normal runs).
static TRACE_LEFT: AtomicU64 = AtomicU64::new(0);
thread_local! {
    static MINE: Cell<u64> = const { Cell::new(0) };
    static IN_TRACE: Cell<bool> = const { Cell::new(false) };
}

fn count() {
    TOTAL.fetch_add(1, Relaxed);
    let _ = MINE.try_with(|c| c.set(c.get() + 1));
    if TRACE_LEFT.load(Relaxed) > 0 && IN_TRACE.try_with(|t| !t.replace(true)).unwrap_or(false) {
        if TRACE_LEFT.fetch_sub(1, Relaxed) > 0 {
            trace_here();
        }
        IN_TRACE.with(|t| t.set(false));
    }
}

fn trace_here() {
    let bt = std::backtrace::Backtrace::force_capture().to_string();
    let frames: Vec<&str> = bt
        .lines()
        .map(str::trim)
        .filter(|l| l.contains(": ") && !l.starts_with("at "))
        .map(|l| l.split_once(": ").map_or(l, |(_, f)| f))
        .filter(|f| !f.contains("backtrace") && !f.contains("alloc::count") && !f.contains("GlobalAlloc"))
        .take(14)
        .collect();
    eprintln!("alloc on {:?}:\n    {}", std::thread::current().name(), frames.join("\n    "));
}

// SAFETY: every method forwards to the system allocator unchanged; counting has no effect on
// the memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as ours.
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as ours.
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        count();
        // SAFETY: same contract as ours.
        unsafe { System.realloc(p, l, n) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn mine() -> u64 {
    MINE.with(Cell::get)
}

const SIZE: usize = 64;
const WARMUP: u64 = 2_000;
const MEASURED: u64 = 3_000;

/// Allocations per message.
#[derive(Clone, Copy, Debug)]
struct PerMsg {
    publish: f64,
    rest: f64,
}

/// Send `WARMUP` then `MEASURED` messages one at a time; `publish(seq)` sends one, `delivered()`
/// says how many arrived so far (and may pull from a queue).
fn lockstep(mut publish: impl FnMut(u64), mut delivered: impl FnMut() -> u64) -> PerMsg {
    let mut one = |seq: u64, pub_allocs: &mut u64| {
        let before = mine();
        publish(seq);
        *pub_allocs += mine() - before;
        let end = Instant::now() + Duration::from_secs(10);
        while delivered() < seq + 1 {
            assert!(Instant::now() < end, "message {seq} not delivered within 10 s");
            std::hint::spin_loop();
        }
    };
    let mut ignored = 0;
    for seq in 0..WARMUP {
        one(seq, &mut ignored);
    }
    let trace = std::env::var("VBUS_PERF_ALLOC_TRACE").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
    TRACE_LEFT.store(trace, Relaxed);
    let (total0, mut pub_allocs) = (TOTAL.load(Relaxed), 0);
    for seq in WARMUP..WARMUP + MEASURED {
        one(seq, &mut pub_allocs);
    }
    let total = TOTAL.load(Relaxed) - total0;
    TRACE_LEFT.store(0, Relaxed);
    PerMsg {
        publish: pub_allocs as f64 / MEASURED as f64,
        rest: (total - pub_allocs) as f64 / MEASURED as f64,
    }
}

fn nets() -> (Net, Net) {
    (Net { listen: Some("tcp/127.0.0.1:0".into()), ..Net::default() }, Net::default())
}

fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(20);
    while !ok() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Raw zenoh, as z_pub_thr / z_sub_thr use it; optionally with a 40-byte attachment like vbus's
/// header (one attachment cloned for every put); delivery by callback or by zenoh's default FIFO
/// channel read with `try_recv`.
fn raw_zenoh(attachment: bool, delivery: Delivery) -> PerMsg {
    let (ln, mut cn) = nets();
    let a = zenoh::open(ln.zenoh().unwrap()).wait().unwrap();
    cn.connect = Some(a.info().locators().wait()[0].to_string());
    let b = zenoh::open(cn.zenoh().unwrap()).wait().unwrap();
    let got = Arc::new(AtomicU64::new(0));
    let g = got.clone();
    let (cb, fifo) = match delivery {
        Delivery::Callback => (
            Some(
                b.declare_subscriber(zenoh_key(THR_KEY))
                    .callback(move |_s| {
                        g.fetch_add(1, Relaxed);
                    })
                    .wait()
                    .unwrap(),
            ),
            None,
        ),
        Delivery::Queue => (None, Some(b.declare_subscriber(zenoh_key(THR_KEY)).wait().unwrap())),
    };
    let publ = a
        .declare_publisher(zenoh_key(THR_KEY))
        .congestion_control(zenoh::qos::CongestionControl::Block)
        .wait()
        .unwrap();
    wait_until("a matching subscriber", || publ.matching_status().wait().unwrap().matching());
    let data = ZBytes::from(vec![0xa5u8; SIZE]);
    let att = ZBytes::from(vec![0u8; vbus::wire::HEADER_LEN]);
    let r = lockstep(
        |_| {
            let put = publ.put(data.clone());
            if attachment { put.attachment(att.clone()).wait() } else { put.wait() }.unwrap();
        },
        || {
            if let Some(f) = &fifo {
                while let Ok(Some(_s)) = f.try_recv() {
                    got.fetch_add(1, Relaxed);
                }
            }
            got.load(Relaxed)
        },
    );
    drop((cb, fifo, publ));
    a.close().wait().unwrap();
    b.close().wait().unwrap();
    r
}

/// Raw iceoryx2 (0.10, the service flavour vbus's same-host path uses, two nodes in this
/// process): the test thread loans a slice, writes the payload, sends and notifies; a receiver
/// thread waits on the listener and takes every sample with `receive()`.
fn raw_iceoryx2() -> PerMsg {
    let tag = iox::new_tag();
    let a = Iox::open("alloc-pub", &tag).unwrap();
    let b = Iox::open("alloc-sub", &tag).unwrap();
    let rx = b.receiver(iox::THR, Some(8)).unwrap();
    let tx = a.sender(iox::THR, SIZE, None).unwrap();
    wait_until("a matching subscriber", || tx.connected());
    let (got, stop) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicBool::new(false)));
    let (g, st) = (got.clone(), stop.clone());
    let reader = std::thread::spawn(move || {
        while !st.load(Relaxed) {
            // A wake-up may be stale (nothing new): always drain before waiting again.
            while let Some(s) = rx.port.receive().unwrap() {
                assert_eq!(s.payload().len(), SIZE);
                drop(s);
                g.fetch_add(1, Relaxed);
            }
            rx.wait(Duration::from_millis(100)).unwrap();
        }
    });
    let data = [0xa5u8; SIZE];
    let r = lockstep(|seq| tx.send(seq, &data).unwrap(), || got.load(Relaxed));
    stop.store(true, Relaxed);
    reader.join().unwrap();
    drop((tx, a, b));
    r
}

#[derive(Clone, Copy, PartialEq)]
enum Delivery {
    Callback,
    Queue,
}

/// vbus typed topic: `publish_with` building the payload in place; callback or queue delivery.
fn vbus(delivery: Delivery, zenoh_only: bool) -> PerMsg {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let (mut ln, mut cn) = nets();
    ln.zenoh_only = zenoh_only;
    cn.zenoh_only = zenoh_only;
    let a = rt.block_on(vbus::Node::open(ln.vbus("alloc-pub").unwrap())).unwrap();
    cn.connect = Some(a.locators()[0].clone());
    let b = rt.block_on(vbus::Node::open(cn.vbus("alloc-sub").unwrap())).unwrap();
    let qos = vbus::QoS::new().congestion(vbus::Congestion::Block).queue(256);
    let topic = payload::topic(THR_KEY, qos);
    let got = Arc::new(AtomicU64::new(0));
    let g = got.clone();
    let (cb, queue) = match delivery {
        Delivery::Callback => (
            Some(
                rt.block_on(
                    b.subscriber(topic)
                        .callback(move |s| {
                            assert_eq!(s.view().data().map(|d| d.len()), Some(SIZE));
                            g.fetch_add(1, Relaxed);
                        })
                        .create(),
                )
                .unwrap(),
            ),
            None,
        ),
        Delivery::Queue => (None, Some(rt.block_on(b.subscriber(topic).create()).unwrap())),
    };
    let mut publ = rt.block_on(a.publisher(topic).create()).unwrap();
    wait_until("a matching subscriber", || publ.has_subscribers());
    let data = [0xa5u8; SIZE];
    let r = lockstep(
        |seq| publ.publish_with(|fbb| payload::build(fbb, seq, 0, &data)).unwrap(),
        || {
            if let Some(q) = &queue {
                while let Some(s) = q.try_recv() {
                    assert_eq!(s.view().data().map(|d| d.len()), Some(SIZE));
                    got.fetch_add(1, Relaxed);
                }
            }
            got.load(Relaxed)
        },
    );
    drop((cb, queue, publ));
    rt.block_on(async {
        a.close().await.unwrap();
        b.close().await.unwrap();
    });
    r
}

/// What vbus may allocate per message on top of the transport it uses, each used raw at the same
/// version: nothing.
/// - over zenoh, on top of raw zenoh (with an attachment, as vbus always sends its header):
///   publish: the header and payload go to zenoh as two slices of one pooled buffer (`tx.rs`);
///   rest of the path: the receive path reads the header and payload in place;
/// - on the same-host path, on top of raw iceoryx2 (loan + write + send + notify, a listener
///   thread receiving), which itself allocates once per loan (iceoryx2 0.10:
///   `SampleMutUninit::new` / `ChunkMutSharedState::new`, not vbus code): publish: vbus writes
///   its header and payload straight into the loaned sample (`local.rs`); rest of the path: the
///   subscriber's thread reads the sample in place and hands it over without a copy.
const VBUS_PUBLISH_BOUND: f64 = 0.0;
const VBUS_REST_BOUND: f64 = 0.0;
/// Slack for the background work of two idle sessions (keep-alives, timers) and for zenoh's rx
/// buffer reuse, which depends on thread timing: on a loaded machine the callback path was seen
/// 0.38 allocations/message apart between the raw-zenoh and the vbus runs. A systematic vbus
/// allocation per message (>= 1) still fails.
const NOISE: f64 = 0.5;
/// With queue delivery, zenoh allocates a fresh rx buffer whenever queued (zero-copy) samples
/// still hold the previous ones; how often depends on thread timing (~0.5 per message here, for
/// raw zenoh's FIFO channel and vbus's queue alike), so the two runs may differ by that much.
const QUEUE_TIMING: f64 = 0.6;

#[test]
fn allocations_per_message() {
    // One test, sequential: the global counter sees every thread of the process. Raw iceoryx2
    // first: a closed vbus node's shared-memory reader threads finish (and free their iceoryx2
    // ports, which allocates) up to 100 ms later, inside whatever window runs next.
    let raw_iox = raw_iceoryx2();
    let raw = raw_zenoh(false, Delivery::Callback);
    let raw_att = raw_zenoh(true, Delivery::Callback);
    let raw_q = raw_zenoh(true, Delivery::Queue);
    let cb = vbus(Delivery::Callback, true);
    let q = vbus(Delivery::Queue, true);
    let local_cb = vbus(Delivery::Callback, false);
    let local_q = vbus(Delivery::Queue, false);
    println!("\nheap allocations per message ({SIZE} B, one message in flight, {MEASURED} measured)");
    println!("| path | publish | rest (tx, rx, delivery) | total |");
    println!("|---|---|---|---|");
    for (name, m) in [
        ("raw zenoh put (z_pub_thr style)", raw),
        ("raw zenoh put + 40 B attachment", raw_att),
        ("raw zenoh put + attachment -> FIFO try_recv", raw_q),
        ("vbus publish_with -> CallbackSubscriber", cb),
        ("vbus publish_with -> Subscriber::try_recv", q),
        ("raw iceoryx2 loan + send + notify -> listener thread receive", raw_iox),
        ("vbus same-host (shared memory) -> CallbackSubscriber", local_cb),
        ("vbus same-host (shared memory) -> Subscriber::try_recv", local_q),
    ] {
        println!("| {name} | {:.2} | {:.2} | {:.2} |", m.publish, m.rest, m.publish + m.rest);
    }
    // The same-host path has no zenoh under it: its baseline is raw iceoryx2.
    for (name, m, base, base_name, slack) in [
        ("callback", cb, raw_att, "raw zenoh (same delivery)", NOISE),
        ("queue", q, raw_q, "raw zenoh (same delivery)", QUEUE_TIMING),
        ("same-host callback", local_cb, raw_iox, "raw iceoryx2", NOISE),
        ("same-host queue", local_q, raw_iox, "raw iceoryx2", NOISE),
    ] {
        let publish = m.publish - base.publish;
        let rest = m.rest - base.rest;
        println!("vbus ({name}) on top of {base_name}: publish {publish:+.2}, rest {rest:+.2}");
        assert!(
            publish <= VBUS_PUBLISH_BOUND + NOISE,
            "vbus publish path ({name}): {publish:.2} allocations/message on top of {base_name}, expected at most {VBUS_PUBLISH_BOUND}"
        );
        assert!(
            rest <= VBUS_REST_BOUND + slack,
            "vbus delivery path ({name}): {rest:.2} allocations/message on top of {base_name}, expected at most {VBUS_REST_BOUND}"
        );
    }
}
