//! Typed topics generated from a DBC, fed by the CAN bridge replaying a real capture.
//!
//! Run it with:
//!
//! ```sh
//! cargo run -p vbus-examples --example dbc_topics
//! ```
//!
//! `examples/build.rs` compiles `testdata/dbc/kuksa/Model3CAN.dbc` into `vbus_examples::model3`:
//! one table and one topic `can/model3/<Message>` per CAN message, one field per signal holding
//! its scaled value (`ID257DIspeed.DI_vehicleSpeed` is `di_vehicle_speed: double`, in km/h).
//! The CAN bridge library (`vbus-can`) builds exactly those tables at run time from the same
//! DBC, type hash included, so the typed subscribers here read what it publishes.
//!
//! What happens: the first 1200 frames of the real Tesla Model 3 capture
//! `testdata/logs/real/tesla_model3_kuksa_dogmode.log` are copied to a temporary file; a bridge
//! configured as the `vbus-can` daemon would be (`vbus_can::Config`, with an explicit node
//! configuration that connects to this example's `app` node on loopback) replays it as fast as
//! possible. `app` subscribes to three messages with their generated types and prints decoded
//! signal values, counts every `can/model3/**` sample untyped, and follows the bridge's health
//! topic (`@bridge/can/model3/stats`) to learn when the replay ended.
//!
//! Checks: for every CAN topic, `app` received exactly as many samples as the bridge's publisher
//! of that topic reports sent, and each typed subscriber as many as were sent on its topic; the
//! typed `ID257DIspeed` subscriber got as many as there are `0x257` frames in the replayed part;
//! the total equals the bridge's final `published` count. (Once the replay is over, the bridge
//! logs signal timeouts on stderr for the messages that stopped: that is its timeout
//! monitoring at work, from the DBC cycle times.)
//! Exits 0 when all that holds, non-zero otherwise (or after a 20 s watchdog per step).

use std::{collections::BTreeMap, error::Error, path::Path, time::Duration};
mod support;
use support::{Result, init_logging, within};
use vbus_test_support::{TempDir, peer_node, unique_domain};

use vbus::{Node, QoS, Role};
use vbus_examples::model3::topics::can::model3 as can;

/// Frames replayed from the start of the capture (it has 12137, about 22 s).
const FRAMES: usize = 1200;

#[tokio::main]
async fn main() -> Result<()> {
    init_logging();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata");
    let tmp = TempDir::new("dbc");
    let log = tmp.join("model3-head.log");
    let capture = std::fs::read_to_string(data.join("logs/real/tesla_model3_kuksa_dogmode.log"))?;
    let head: Vec<&str> = capture.lines().take(FRAMES).collect();
    std::fs::write(&log, head.join("\n") + "\n")?;
    let speed_frames = head.iter().filter(|l| l.contains(" 257#")).count() as u64;
    println!("replaying the first {} frames of the capture ({speed_frames} of them 0x257)", head.len());

    // The application node listens; the bridge's node will connect to it.
    let domain = unique_domain("dbc");
    let (app, endpoint) = peer_node("app", &domain).await;

    // Everything the bridge publishes, untyped; its health topic; three messages, typed (queues
    // deep enough to hold the whole replay).
    let all = app.raw_subscriber("can/model3/**").queue(1 << 15).create().await?;
    let health = app.raw_subscriber("@bridge/can/model3/stats").queue(64).create().await?;
    let deep = QoS::new().queue(4096);
    let speed = app.subscriber(can::ID257_D_ISPEED.with_qos(deep)).create().await?;
    let soc = app.subscriber(can::ID33_AUI_RANGE_SOC.with_qos(deep)).create().await?;
    let dog = app.subscriber(can::BMS_DOG_MODE.with_qos(deep)).create().await?;

    // The bridge, configured like the daemon (`vbus-can --config`), with its own node.
    let config = vbus_can::Config::from_json5(
        &format!(
            "{{ node: {{ name: 'can-bridge', domain: '{domain}', listen: [], connect: ['{endpoint}'] }},
                stats_period_ms: 50,
                buses: [{{ name: 'model3', dbc: 'dbc/kuksa/Model3CAN.dbc', congestion: 'block',
                           source: {{ kind: 'candump', path: '{}', realtime: false }} }}] }}",
            log.display()
        ),
        &data,
    )?;
    let bus = config.buses[0].clone();
    let vbus_can::config::SourceConfig::Candump { path, realtime, rate, looped } = bus.source.clone() else {
        return Err("expected a candump source".into());
    };
    let can_node = Node::open(config.node_config()?).await?;
    // `vbus_can::run(config, shutdown)` does what follows on a node of its own. By hand, this
    // example can start the replay once the bridge's node has seen our subscriptions (nothing
    // promises that a node just opened knows them when the first frame goes out, and as fast as
    // possible that is at once), and read the per-topic counters of the bridge's publishers
    // while they exist.
    within("the bridge's node to see our subscriptions", async {
        loop {
            let seen = can_node.topics().await?;
            if seen.iter().any(|t| t.node == "app" && !t.publisher && t.key == can::BMS_DOG_MODE.key()) {
                return Ok::<_, vbus::Error>(());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await??;
    let bridge = vbus_can::BusBridge::new(can_node.clone(), bus)?;
    let replay = vbus_can::CandumpReplay::open(&path, vbus_can::Pacing { realtime, rate, looped })?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let period = Duration::from_millis(config.stats_period_ms);
    let running = tokio::spawn(async move { bridge.run(replay, period, false, stopped).await });

    // The bridge's health topic says when the replay ended.
    within("the end of the replay", async {
        loop {
            let s = health.recv().await?;
            let j: serde_json::Value = serde_json::from_slice(s.payload())?;
            if j["ended"] == true {
                println!(
                    "bridge stats: frames={} published={} unknown={}",
                    j["frames"], j["published"], j["unknown_frames"]
                );
                return Ok::<_, Box<dyn Error + Send + Sync>>(());
            }
        }
    })
    .await??;
    // What the bridge's publishers sent, per topic (the counters of the bridge node's endpoints).
    let sent: BTreeMap<String, u64> = can_node
        .stats()
        .into_iter()
        .filter(|e| e.role == Role::Publisher && e.key.starts_with("can/model3/"))
        .map(|e| (e.key, e.stats.sent))
        .collect();
    let _ = stop.send(true);
    let final_stats = within("the bridge to stop", running).await???;
    println!(
        "bridge final: frames={} published={} decode_errors={} unknown={}",
        final_stats.frames, final_stats.published, final_stats.decode_errors, final_stats.unknown_frames
    );

    // Count what arrived, per topic, until it matches what was sent.
    let mut received: BTreeMap<String, u64> = BTreeMap::new();
    let total: u64 = sent.values().sum();
    within("every published sample", async {
        while received.values().sum::<u64>() < total {
            let s = all.recv().await?;
            *received.entry(s.key().to_owned()).or_default() += 1;
        }
        Ok::<_, vbus::Closed>(())
    })
    .await??;
    for (key, n) in &sent {
        println!("  {key}: bridge sent {n}, app received {}", received.get(key).copied().unwrap_or(0));
    }
    if received != sent {
        return Err(format!("received {received:?}, the bridge sent {sent:?}").into());
    }
    if total != final_stats.published {
        return Err(format!(
            "the bridge reports {} published, its publishers sent {total}",
            final_stats.published
        )
        .into());
    }

    // The typed view: decoded signal values, read in place.
    let typed_count = |key: &str| sent.get(key).copied().unwrap_or(0);
    let speeds = take(&speed, typed_count(can::ID257_D_ISPEED.key())).await?;
    for s in speeds.iter().step_by(20) {
        let (v, t) = (s.view(), s.source_time_ns());
        println!(
            "ID257DIspeed seq {:3}: DI_vehicleSpeed {:5.2} km/h, DI_uiSpeed {} ({:?}), captured at {}.{:06}",
            s.seq(),
            v.di_vehicle_speed(),
            v.di_ui_speed().0,
            v.di_ui_speed_units(),
            t / 1_000_000_000,
            t % 1_000_000_000 / 1000
        );
    }
    let socs = take(&soc, typed_count(can::ID33_AUI_RANGE_SOC.key())).await?;
    let dogs = take(&dog, typed_count(can::BMS_DOG_MODE.key())).await?;
    for (what, s) in [("first", socs.first()), ("last", socs.last())] {
        let v = s.ok_or("no ID33AUI_rangeSOC sample")?.view();
        println!(
            "ID33AUI_rangeSOC {what}: UI_SOC {} %, UI_Range {} mi, UI_ratedWHpM {}",
            v.ui_soc(),
            v.ui_range(),
            v.ui_rated_w_hp_m()
        );
    }
    for (what, s) in [("first", dogs.first()), ("last", dogs.last())] {
        let v = s.ok_or("no BMS_DogMode sample")?.view();
        println!(
            "BMS_DogMode {what}: DogModeOn {}, DogModeTempSet {} C",
            v.dog_mode_on(),
            v.dog_mode_temp_set()
        );
    }
    println!(
        "typed samples: ID257DIspeed {}, ID33AUI_rangeSOC {}, BMS_DogMode {}",
        speeds.len(),
        socs.len(),
        dogs.len()
    );
    if speeds.len() as u64 != speed_frames {
        return Err(format!("{} typed speed samples for {speed_frames} frames of 0x257", speeds.len()).into());
    }
    if speed.stats().rejected + soc.stats().rejected + dog.stats().rejected != 0 {
        return Err("typed samples were rejected".into());
    }
    drop((all, health, speed, soc, dog));
    can_node.close().await?;
    app.close().await?;
    println!("dbc_topics OK: every decoded CAN frame reached its typed topic");
    Ok(())
}

/// The first `n` samples of `sub` (each within the watchdog).
async fn take<T: vbus::Message>(sub: &vbus::Subscriber<T>, n: u64) -> Result<Vec<vbus::Sample<T>>> {
    let mut got = Vec::new();
    while (got.len() as u64) < n {
        got.push(within(&format!("a typed sample on `{}`", sub.key()), sub.recv()).await??);
    }
    Ok(got)
}
