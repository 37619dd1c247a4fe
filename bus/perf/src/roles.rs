//! The benchmark roles. Each runs in its own OS process, started by the suite (or by hand):
//! `sub-thr` / `pong` listen and print `READY <endpoint>`; `pub-thr` / `ping` connect to it. Every
//! measuring role prints one `RESULT {json}` line and exits. Raw iceoryx2 has no endpoints: its
//! `READY` line names the run's service tag (`iceoryx2/<tag>`), which the other side gets as
//! `--connect`.

use std::{
    io::Write,
    net::UdpSocket,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering::Relaxed},
    },
    time::{Duration, Instant},
};

use vbus::zenoh::{self, Wait, bytes::ZBytes};
use vbus_perf::{
    config::Net,
    iox::{self, Iox},
    measure::{Latency, Mark, Report},
    payload::{self, PING_KEY, PONG_KEY, THR_KEY, zenoh_key},
};

/// Which implementation a role exercises.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Stack {
    /// vbus typed topics (`Publisher::publish_with`, `CallbackSubscriber` / `Subscriber`).
    Vbus,
    /// Raw zenoh at the same version, as `z_pub_thr` / `z_sub_thr` / `z_ping` / `z_pong` use it.
    Zenoh,
    /// Plain UDP sockets over loopback (ping-pong only): the floor.
    Udp,
    /// Raw iceoryx2 (same host only), as its own examples use it: a `[u8]` publish-subscribe
    /// service and an event service per direction, the receiving thread blocking in the listener
    /// and draining with `receive()`. The floor of vbus's same-host path. Always reliable and
    /// blocking (the publisher waits for room in the subscriber's buffer); the zenoh QoS options
    /// do not apply.
    Iceoryx2,
}

impl Stack {
    pub fn name(self) -> &'static str {
        match self {
            Stack::Vbus => "vbus",
            Stack::Zenoh => "zenoh",
            Stack::Udp => "udp",
            Stack::Iceoryx2 => "iceoryx2",
        }
    }
}

/// Everything a role needs to know.
#[derive(Clone, Debug)]
pub struct Opts {
    pub stack: Stack,
    pub net: Net,
    /// Application payload bytes.
    pub size: usize,
    pub express: bool,
    pub priority: vbus::Priority,
    /// Congestion control `Block` (else `Drop`).
    pub block: bool,
    pub best_effort: bool,
    pub warmup: Duration,
    pub duration: Duration,
    /// Ping rate in Hz; `None`: back-to-back.
    pub rate: Option<f64>,
    /// Subscribers deliver through a queue read by an application thread instead of a callback.
    pub queue: bool,
    /// The process exits after this long whatever happens (orphan guard).
    pub lifetime: Duration,
    /// Raw zenoh only: use the zenoh features vbus uses (the vbus encoding string on the
    /// publisher, a 40-byte attachment on every put; the caller adds timestamping), so that
    /// vbus vs this isolates vbus's own code.
    pub mimic: bool,
    /// Raw zenoh only: the 40-byte attachment alone (part of `mimic`).
    pub attach: bool,
    /// Raw zenoh only: the vbus encoding string alone (part of `mimic`).
    pub encoding: bool,
}

impl Opts {
    fn qos(&self) -> vbus::QoS {
        vbus::QoS::new()
            .priority(self.priority)
            .express(self.express)
            .congestion(if self.block { vbus::Congestion::Block } else { vbus::Congestion::Drop })
            .reliability(if self.best_effort {
                vbus::Reliability::BestEffort
            } else {
                vbus::Reliability::Reliable
            })
            // The same depth as zenoh's default FIFO channel handler.
            .queue(256)
    }

    fn zpub(&self, session: &zenoh::Session, key: &str) -> Result<zenoh::pubsub::Publisher<'static>, String> {
        session
            .declare_publisher(zenoh_key(key))
            .congestion_control(if self.block {
                zenoh::qos::CongestionControl::Block
            } else {
                zenoh::qos::CongestionControl::Drop
            })
            .priority(self.priority.to_zenoh())
            .express(self.express)
            .reliability(if self.best_effort {
                zenoh::qos::Reliability::BestEffort
            } else {
                zenoh::qos::Reliability::Reliable
            })
            .encoding(if self.mimic || self.encoding {
                zenoh::bytes::Encoding::from(vbus::wire::encoding(
                    <payload::PayloadMsg as vbus::Message>::TYPE_NAME,
                ))
            } else {
                zenoh::bytes::Encoding::default()
            })
            .wait()
            .map_err(|e| format!("declare publisher: {e}"))
    }

    /// Put `payload` (plus, when mimicking vbus, a 40-byte attachment).
    fn zput(&self, p: &zenoh::pubsub::Publisher<'_>, payload: ZBytes, att: &ZBytes) -> Res<()> {
        let put = p.put(payload);
        if self.mimic || self.attach { put.attachment(att.clone()).wait() } else { put.wait() }.map_err(err)
    }
}

fn attachment() -> ZBytes {
    ZBytes::from(vec![0u8; vbus::wire::HEADER_LEN])
}

type Res<T> = Result<T, String>;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Make this process die with its parent (the suite) and after `lifetime` at the latest.
pub fn guard(lifetime: Duration) {
    // SAFETY: prctl(PR_SET_PDEATHSIG) only sets a flag of this process.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
    }
    std::thread::spawn(move || {
        std::thread::sleep(lifetime);
        eprintln!("vbus-perf: lifetime of {lifetime:?} reached, exiting");
        std::process::exit(3);
    });
}

fn runtime() -> Res<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().map_err(err)
}

fn ready(endpoint: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "READY {endpoint}");
    let _ = out.flush();
}

fn finish(report: Report) -> ! {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", report.line());
    let _ = out.flush();
    // Do not wait for sessions to close: the peer may be gone already.
    std::process::exit(0)
}

fn wait_for(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) -> Res<()> {
    let end = Instant::now() + timeout;
    while !ok() {
        if Instant::now() > end {
            return Err(format!("timed out after {timeout:?} waiting for {what}"));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(())
}

fn open_zenoh(net: &Net) -> Res<zenoh::Session> {
    zenoh::open(net.zenoh()?).wait().map_err(|e| format!("open zenoh session: {e}"))
}

fn zenoh_locator(s: &zenoh::Session) -> Res<String> {
    s.info().locators().wait().first().map(|l| l.to_string()).ok_or_else(|| "session has no locator".into())
}

fn open_vbus(rt: &tokio::runtime::Runtime, net: &Net, name: &str) -> Res<vbus::Node> {
    let cfg = net.vbus(name)?;
    rt.block_on(vbus::Node::open(cfg)).map_err(|e| format!("open vbus node: {e}"))
}

fn vbus_locator(n: &vbus::Node) -> Res<String> {
    n.locators().into_iter().next().ok_or_else(|| "node has no locator".into())
}

/// The service tag of a listening iceoryx2 role: from `--listen iceoryx2/<tag>`, else a new one
/// (other endpoints, such as the suite's TCP ones, do not apply and are ignored).
fn iox_listen_tag(net: &Net) -> Res<String> {
    match net.listen.as_deref() {
        Some(ep) if ep.starts_with(iox::SCHEME) => iox::tag_of(ep).map(str::to_owned),
        _ => Ok(iox::new_tag()),
    }
}

/// The service tag a connecting iceoryx2 role joins: `--connect iceoryx2/<tag>`.
fn iox_connect_tag(net: &Net) -> Res<&str> {
    iox::tag_of(net.connect.as_deref().ok_or("needs --connect iceoryx2/<tag> (the other side's READY line)")?)
}

/// Samples waiting in a ping's or pong's buffer: one is in flight (more only after a timeout).
const IOX_PING_BUFFER: usize = 8;

/// A raw iceoryx2 subscriber's thread, stopped (and its port closed) on drop.
struct IoxReader {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<Res<()>>>,
    _node: Iox,
}

impl Drop for IoxReader {
    fn drop(&mut self) {
        self.stop.store(true, Relaxed);
        if let Some(Err(e)) = self.thread.take().map(|t| t.join().unwrap_or_else(|_| Err("panicked".into())))
        {
            eprintln!("vbus-perf: iceoryx2 reader: {e}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Throughput

/// Count messages, then measure the rate over `duration` after `warmup` from the first one.
pub fn sub_thr(o: &Opts) -> Res<()> {
    let count = Arc::new(AtomicU64::new(0));
    let rt = runtime()?;
    // Keep whatever must stay alive until the end of the measurement.
    let keep: Box<dyn std::any::Any> = match o.stack {
        Stack::Vbus => {
            let node = open_vbus(&rt, &o.net, "sub")?;
            let topic = payload::topic(THR_KEY, o.qos());
            let c = count.clone();
            let keep: Box<dyn std::any::Any> = if o.queue {
                let sub = rt.block_on(node.subscriber(topic).create()).map_err(err)?;
                let h = rt.handle().clone();
                std::thread::spawn(move || {
                    h.block_on(async {
                        while sub.recv().await.is_ok() {
                            c.fetch_add(1, Relaxed);
                        }
                    })
                });
                Box::new(())
            } else {
                let sub = rt
                    .block_on(
                        node.subscriber(topic)
                            .callback(move |_s| {
                                c.fetch_add(1, Relaxed);
                            })
                            .create(),
                    )
                    .map_err(err)?;
                Box::new(sub)
            };
            ready(&vbus_locator(&node)?);
            Box::new((node, keep))
        }
        Stack::Zenoh => {
            let session = open_zenoh(&o.net)?;
            let c = count.clone();
            let keep: Box<dyn std::any::Any> = if o.queue {
                let sub = session.declare_subscriber(zenoh_key(THR_KEY)).wait().map_err(err)?;
                std::thread::spawn(move || {
                    while sub.recv().is_ok() {
                        c.fetch_add(1, Relaxed);
                    }
                });
                Box::new(())
            } else {
                let sub = session
                    .declare_subscriber(zenoh_key(THR_KEY))
                    .callback(move |_s| {
                        c.fetch_add(1, Relaxed);
                    })
                    .wait()
                    .map_err(err)?;
                Box::new(sub)
            };
            ready(&zenoh_locator(&session)?);
            Box::new((session, keep))
        }
        Stack::Iceoryx2 => {
            let tag = iox_listen_tag(&o.net)?;
            let node = Iox::open("vperf-sub-thr", &tag)?;
            let rx = node.receiver(iox::THR, Some(iox::buffer_for(o.size)))?;
            let (c, stop) = (count.clone(), Arc::new(AtomicBool::new(false)));
            let s = stop.clone();
            let thread = std::thread::spawn(move || -> Res<()> {
                while !s.load(Relaxed) {
                    // Everything there is, then sleep until the publisher's next notification.
                    while let Some(sample) = rx.port.receive().map_err(|e| format!("receive: {e:?}"))? {
                        drop(sample);
                        c.fetch_add(1, Relaxed);
                    }
                    rx.wait(Duration::from_millis(100))?;
                }
                Ok(())
            });
            ready(&iox::endpoint(&tag));
            Box::new(IoxReader { stop, thread: Some(thread), _node: node })
        }
        Stack::Udp => return Err("throughput over UDP is not measured (no flow control)".into()),
    };
    wait_for("the first message", Duration::from_secs(60), || count.load(Relaxed) > 0)?;
    std::thread::sleep(o.warmup);
    let m0 = Mark::now(count.load(Relaxed));
    std::thread::sleep(o.duration);
    let m1 = Mark::now(count.load(Relaxed));
    let report = m0.report(&m1, "sub-thr", o.stack.name(), o.size);
    if o.stack == Stack::Iceoryx2 {
        // Close the subscriber port: the publisher, which may be blocked on this subscriber's
        // full buffer, sees it gone and stops waiting; and no files are left in /dev/shm.
        drop(keep);
    }
    finish(report)
}

/// Publish as fast as the stack accepts for warmup + duration (+ a tail so that the subscriber's
/// window, which starts a little later, is covered), measuring over the middle window.
fn pub_loop(o: &Opts, mut send: impl FnMut(u64) -> Res<()>) -> Res<Report> {
    let every = if o.size >= 4096 { 1 } else { 64 };
    let tail = Duration::from_millis(500);
    let t0 = Instant::now();
    let (mut m0, mut m1) = (None, None);
    let mut n = 0u64;
    loop {
        send(n)?;
        n += 1;
        if n.is_multiple_of(every) {
            let el = t0.elapsed();
            if m0.is_none() {
                if el >= o.warmup {
                    m0 = Some(Mark::now(n));
                }
            } else if m1.is_none() {
                if el >= o.warmup + o.duration {
                    m1 = Some(Mark::now(n));
                }
            } else if el >= o.warmup + o.duration + tail {
                break;
            }
        }
    }
    let (m0, m1) = (m0.expect("window start"), m1.expect("window end"));
    Ok(m0.report(&m1, "pub-thr", o.stack.name(), o.size))
}

pub fn pub_thr(o: &Opts) -> Res<()> {
    let data = vec![0xa5u8; o.size];
    let rt = runtime()?;
    let report = match o.stack {
        Stack::Vbus => {
            let node = open_vbus(&rt, &o.net, "pub")?;
            let mut p =
                rt.block_on(node.publisher(payload::topic(THR_KEY, o.qos())).create()).map_err(err)?;
            wait_for("a matching subscriber", Duration::from_secs(30), || p.has_subscribers())?;
            pub_loop(o, |seq| p.publish_with(|fbb| payload::build(fbb, seq, 0, &data)).map_err(err))?
        }
        Stack::Zenoh => {
            let session = open_zenoh(&o.net)?;
            let p = o.zpub(&session, THR_KEY)?;
            wait_for("a matching subscriber", Duration::from_secs(30), || {
                p.matching_status().wait().is_ok_and(|s| s.matching())
            })?;
            // As z_pub_thr: one payload, cloned (reference counted) for every put.
            let (payload, att) = (ZBytes::from(data), attachment());
            pub_loop(o, |_| o.zput(&p, payload.clone(), &att))?
        }
        Stack::Iceoryx2 => {
            let node = Iox::open("vperf-pub-thr", iox_connect_tag(&o.net)?)?;
            let tx = node.sender(iox::THR, o.size, None)?;
            wait_for("a matching subscriber", Duration::from_secs(30), || tx.connected())?;
            // Loan, write, send (blocking while the subscriber's buffer is full), and notify
            // after every sample: iceoryx2 folds a notification into one the listener has not
            // taken yet (an atomic operation, no system call), so a wake-up costs a syscall only
            // when the subscriber has drained its buffer and may be about to sleep, which is
            // exactly when it needs one. Notifying less often (every n-th sample) could leave
            // the subscriber asleep while the publisher waits for room in its buffer.
            let r = pub_loop(o, |seq| tx.send(seq, &data))?;
            drop((tx, node));
            r
        }
        Stack::Udp => return Err("throughput over UDP is not measured (no flow control)".into()),
    };
    finish(report)
}

// ---------------------------------------------------------------------------------------------
// Latency

/// One ping: send `seq`, wait for its pong. `Ok(false)`: no pong within the timeout.
type Round<'a> = dyn FnMut(u64, Option<Duration>) -> Res<bool> + 'a;

/// When the last pong was delivered (ns, `wire::now_ns`), stamped by subscriber callbacks: the
/// round trip ends where the application gets the sample, not when the pinging thread has been
/// woken again (a hand-off that a callback application does not have). 0: not stamped (UDP,
/// whose receiving thread is the pinging one).
static ARRIVAL: AtomicU64 = AtomicU64::new(0);

fn stamp_arrival() {
    ARRIVAL.store(vbus::wire::now_ns(), Relaxed);
}

fn ping_loop(o: &Opts, round: &mut Round<'_>) -> Res<Report> {
    let progress = Arc::new(AtomicU64::new(0));
    {
        // Watchdog: a lost pong on a reliable path is a bug; do not hang the suite on it.
        let progress = progress.clone();
        std::thread::spawn(move || {
            let mut last = u64::MAX;
            loop {
                std::thread::sleep(Duration::from_secs(10));
                let now = progress.load(Relaxed);
                if now == last {
                    eprintln!("vbus-perf ping: no pong for 10 s (after {now} round trips), giving up");
                    std::process::exit(2);
                }
                last = now;
            }
        });
    }
    // Until the path works end to end (discovery, matching).
    let mut seq = 0u64;
    let t = Instant::now();
    loop {
        seq += 1;
        if round(seq, Some(Duration::from_millis(200)))? {
            break;
        }
        if t.elapsed() > Duration::from_secs(30) {
            return Err("no pong within 30 s".into());
        }
    }
    let period = o.rate.map(|r| Duration::from_secs_f64(1.0 / r));
    let mut run = |len: Duration, rtts: &mut Vec<u64>, lost: &mut u64| -> Res<()> {
        let start = Instant::now();
        let mut next = start;
        while start.elapsed() < len {
            if let Some(p) = period {
                next += p;
                let now = Instant::now();
                if next > now {
                    std::thread::sleep(next - now);
                } else {
                    next = now; // late: do not burst to catch up
                }
            }
            seq += 1;
            ARRIVAL.store(0, Relaxed);
            let (t0, w0) = (Instant::now(), vbus::wire::now_ns());
            if round(seq, None)? {
                let arrived = ARRIVAL.load(Relaxed);
                rtts.push(if arrived > w0 { arrived - w0 } else { t0.elapsed().as_nanos() as u64 });
            } else {
                *lost += 1;
            }
            progress.fetch_add(1, Relaxed);
        }
        Ok(())
    };
    let (mut warm, mut lost) = (Vec::new(), 0);
    run(o.warmup, &mut warm, &mut lost)?;
    let cap = o.rate.map_or(4_000_000, |r| (r * o.duration.as_secs_f64() * 1.1) as usize + 16);
    let mut rtts = Vec::with_capacity(cap);
    lost = 0;
    let m0 = Mark::now(0);
    run(o.duration, &mut rtts, &mut lost)?;
    let m1 = Mark::now(rtts.len() as u64 + lost);
    let mut r = m0.report(&m1, "ping", o.stack.name(), o.size);
    r.latency = Some(Latency::from_rtts(&mut rtts, lost));
    Ok(r)
}

pub fn ping(o: &Opts) -> Res<()> {
    let rt = runtime()?;
    let data = vec![0x5au8; o.size];
    let report = match o.stack {
        Stack::Vbus => {
            let node = open_vbus(&rt, &o.net, "ping")?;
            let mut p =
                rt.block_on(node.publisher(payload::topic(PING_KEY, o.qos())).create()).map_err(err)?;
            let (tx, rx) = std::sync::mpsc::sync_channel::<u64>(1024);
            let _sub = rt
                .block_on(
                    node.subscriber(payload::topic(PONG_KEY, o.qos()))
                        .callback(move |s| {
                            let seq = s.view().seq();
                            stamp_arrival();
                            let _ = tx.try_send(seq);
                        })
                        .create(),
                )
                .map_err(err)?;
            wait_for("a matching pong", Duration::from_secs(30), || p.has_subscribers())?;
            ping_loop(o, &mut |seq, timeout| {
                p.publish_with(|fbb| payload::build(fbb, seq, 0, &data)).map_err(err)?;
                loop {
                    let got = match timeout {
                        Some(t) => match rx.recv_timeout(t) {
                            Ok(s) => s,
                            Err(_) => return Ok(false),
                        },
                        None => rx.recv().map_err(err)?,
                    };
                    if got == seq {
                        return Ok(true);
                    } // else: a late pong of an earlier timed-out ping
                }
            })?
        }
        Stack::Zenoh => {
            let session = open_zenoh(&o.net)?;
            let p = o.zpub(&session, PING_KEY)?;
            // zenoh's FIFO channel, with the arrival stamped in its callback like vbus's.
            let (tx, sub) = flume::bounded(256);
            let _sub = session
                .declare_subscriber(zenoh_key(PONG_KEY))
                .callback(move |s| {
                    stamp_arrival();
                    let _ = tx.try_send(s);
                })
                .wait()
                .map_err(err)?;
            wait_for("a matching pong", Duration::from_secs(30), || {
                p.matching_status().wait().is_ok_and(|s| s.matching())
            })?;
            // As z_ping: one payload, cloned for every put; pongs are not told apart (one in
            // flight at a time), late ones are drained after a timeout.
            let (payload, att) = (ZBytes::from(data), attachment());
            ping_loop(o, &mut |_, timeout| {
                o.zput(&p, payload.clone(), &att)?;
                match timeout {
                    Some(t) => {
                        let got = sub.recv_timeout(t).is_ok();
                        if !got {
                            std::thread::sleep(Duration::from_millis(50));
                            while sub.try_recv().is_ok() {}
                        }
                        Ok(got)
                    }
                    None => sub.recv().map(|_| true).map_err(err),
                }
            })?
        }
        Stack::Udp => {
            let peer = o.net.connect.as_deref().ok_or("ping needs --connect")?;
            vbus_perf::config::check_loopback(peer)?;
            let addr = peer.strip_prefix("udp/").ok_or("UDP ping needs a udp/ endpoint")?;
            let sock = UdpSocket::bind("127.0.0.1:0").map_err(err)?;
            sock.connect(addr).map_err(err)?;
            sock.set_read_timeout(Some(Duration::from_millis(200))).map_err(err)?;
            let mut out = data;
            out.resize(o.size.max(8), 0);
            let mut back = vec![0u8; 65536];
            let mut steady = false;
            ping_loop(o, &mut |seq, timeout| {
                if timeout.is_none() && !steady {
                    sock.set_read_timeout(Some(Duration::from_secs(2))).map_err(err)?;
                    steady = true;
                }
                out[..8].copy_from_slice(&seq.to_le_bytes());
                sock.send(&out).map_err(err)?;
                loop {
                    match sock.recv(&mut back) {
                        Ok(n) if n >= 8 && back[..8] == out[..8] => return Ok(true),
                        Ok(_) => continue,
                        Err(e)
                            if matches!(
                                e.kind(),
                                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                            ) =>
                        {
                            return Ok(false);
                        }
                        Err(e) => return Err(err(e)),
                    }
                }
            })?
        }
        Stack::Iceoryx2 => {
            let node = Iox::open("vperf-ping", iox_connect_tag(&o.net)?)?;
            // The pong made both services.
            let tx = node.sender(iox::PING, o.size, None)?;
            let rx = node.receiver(iox::PONG, None)?;
            wait_for("a matching pong", Duration::from_secs(30), || tx.connected())?;
            let r = ping_loop(o, &mut |seq, timeout| {
                tx.send(seq, &data)?;
                let end = timeout.map(|t| Instant::now() + t);
                loop {
                    // This thread receives the pong itself: stamp it as it is taken.
                    while let Some(s) = rx.port.receive().map_err(|e| format!("receive: {e:?}"))? {
                        stamp_arrival();
                        if s.user_header().seq == seq {
                            return Ok(true);
                        } // else: a late pong of an earlier timed-out ping
                    }
                    let wait = match end {
                        Some(end) => match end.checked_duration_since(Instant::now()) {
                            Some(left) if !left.is_zero() => left,
                            _ => return Ok(false),
                        },
                        None => Duration::from_secs(1),
                    };
                    rx.wait(wait)?;
                }
            })?;
            drop((tx, rx, node));
            r
        }
    };
    finish(report)
}

pub fn pong(o: &Opts) -> Res<()> {
    let rt = runtime()?;
    match o.stack {
        Stack::Vbus => {
            let node = open_vbus(&rt, &o.net, "pong")?;
            let p = Mutex::new(
                rt.block_on(node.publisher(payload::topic(PONG_KEY, o.qos())).create()).map_err(err)?,
            );
            let _sub = rt
                .block_on(
                    node.subscriber(payload::topic(PING_KEY, o.qos()))
                        .callback(move |s| {
                            // Echo the verified bytes, as a forwarding application would.
                            let _ = p.lock().expect("pong publisher").publish_bytes(s.bytes());
                        })
                        .create(),
                )
                .map_err(err)?;
            ready(&vbus_locator(&node)?);
            loop {
                std::thread::park();
            }
        }
        Stack::Zenoh => {
            let session = open_zenoh(&o.net)?;
            let p = o.zpub(&session, PONG_KEY)?;
            let (o2, att) = (o.clone(), attachment());
            // As z_pong: echo the payload from the callback.
            let _sub = session
                .declare_subscriber(zenoh_key(PING_KEY))
                .callback(move |s| {
                    let _ = o2.zput(&p, s.payload().clone(), &att);
                })
                .wait()
                .map_err(err)?;
            ready(&zenoh_locator(&session)?);
            loop {
                std::thread::park();
            }
        }
        Stack::Udp => {
            let listen = o.net.listen.as_deref().unwrap_or("udp/127.0.0.1:0");
            vbus_perf::config::check_loopback(listen)?;
            let addr = listen.strip_prefix("udp/").ok_or("UDP pong needs a udp/ endpoint")?;
            let sock = UdpSocket::bind(addr).map_err(err)?;
            ready(&format!("udp/{}", sock.local_addr().map_err(err)?));
            let mut buf = vec![0u8; 65536];
            loop {
                let (n, from) = sock.recv_from(&mut buf).map_err(err)?;
                sock.send_to(&buf[..n], from).map_err(err)?;
            }
        }
        Stack::Iceoryx2 => {
            let tag = iox_listen_tag(&o.net)?;
            let node = Iox::open("vperf-pong", &tag)?;
            let rx = node.receiver(iox::PING, Some(IOX_PING_BUFFER))?;
            let tx = node.sender(iox::PONG, o.size, Some(IOX_PING_BUFFER))?;
            ready(&iox::endpoint(&tag));
            loop {
                while let Some(s) = rx.port.receive().map_err(|e| format!("receive: {e:?}"))? {
                    // Echo the bytes (copied into a new sample) with the ping's number.
                    tx.send(s.user_header().seq, s.payload())?;
                }
                rx.wait(Duration::from_secs(1))?;
            }
        }
    }
}
