//! `cockpit`: subscribes to everything, prints a dashboard line twice a second, asks for sport
//! mode half way, and checks what it received.

use std::time::{Duration, Instant};

use vbus::{Node, NodeConfig, TopicEvent};
use vbus_examples::{
    demo::vehicle::{DriveMode, SetDriveModeT},
    model3::topics::can::model3 as can_topics,
    services, topics,
};

use crate::{RUN_SECONDS, speed_at};

pub async fn run() -> Result<(), String> {
    let node = Node::open(NodeConfig::named("cockpit")).await.map_err(|e| e.to_string())?;
    let speed = node.subscriber(topics::chassis::SPEED).create().await.map_err(|e| e.to_string())?;
    let battery = node.subscriber(topics::powertrain::BATTERY).create().await.map_err(|e| e.to_string())?;
    let mut mode = node.field_client(topics::body::DRIVE_MODE).create().await.map_err(|e| e.to_string())?;
    let client =
        node.service_client(services::body::SET_DRIVE_MODE).create().await.map_err(|e| e.to_string())?;
    // The car's CAN data, typed from its DBC; plus an untyped count of every CAN topic, and the
    // bridge's own counters.
    let car_speed = node
        .subscriber(can_topics::ID257_D_ISPEED.with_qos(vbus::QoS::new().queue(4096)))
        .create()
        .await
        .map_err(|e| e.to_string())?;
    let car_soc =
        node.subscriber(can_topics::ID33_AUI_RANGE_SOC).create().await.map_err(|e| e.to_string())?;
    let dog = node.subscriber(can_topics::BMS_DOG_MODE).create().await.map_err(|e| e.to_string())?;
    let hvac =
        node.subscriber(can_topics::ID243_VCRIGHT_HVAC_STATUS).create().await.map_err(|e| e.to_string())?;
    let all_can =
        node.raw_subscriber("can/model3/**").queue(32768).create().await.map_err(|e| e.to_string())?;
    let bridge_stats = node
        .raw_subscriber("@bridge/can/model3/stats")
        .queue(16)
        .create()
        .await
        .map_err(|e| e.to_string())?;
    println!("ready");

    // Wait for the chassis: the first speed sample starts the run.
    let first = tokio::time::timeout(Duration::from_secs(20), speed.recv())
        .await
        .map_err(|_| "no chassis/speed sample within 20 s: is the chassis up?".to_string())?
        .map_err(|e| e.to_string())?;
    let (first_seq, mut last_seq) = (first.seq(), first.seq());
    let mut wrong_values = u64::from(first.view().kph() != speed_at(first.seq()));
    let mut kph = first.view().kph();
    let mut latencies = vec![first.latency()];
    // Which path each topic's samples took (shared memory on this host, zenoh otherwise), and
    // their latency, for the summary.
    let mut paths = PathStats::default();
    paths.add("chassis/speed", &first);
    let mut soc = None;
    let mut mode_changes = Vec::new();
    let mut asked = false;
    let started = Instant::now();
    let mut dashboard = tokio::time::interval(Duration::from_millis(500));
    let (mut car_kph, mut car_soc_pct, mut dog_temp, mut cabin_temp) = (f64::NAN, 0u8, 0i8, f64::NAN);
    let mut can_received = 0u64;
    let mut bridge_published: Option<u64> = None;
    // Run for RUN_SECONDS, and until the CAN bridge reports its replay ended and its last samples
    // arrived (they may come after the report: different keys are not ordered); at most 40 s.
    let mut ended_at: Option<Instant> = None;
    while (started.elapsed() < Duration::from_secs(RUN_SECONDS)
        || bridge_published.is_none_or(|p| {
            can_received < p && ended_at.is_some_and(|t| t.elapsed() < Duration::from_secs(3))
        }))
        && started.elapsed() < Duration::from_secs(40)
    {
        tokio::select! {
            c = car_speed.recv() => {
                let c = c.map_err(|e| e.to_string())?;
                paths.add("can/model3/ID257DIspeed", &c);
                car_kph = c.view().di_vehicle_speed();
            }
            c = car_soc.recv() => {
                car_soc_pct = c.map_err(|e| e.to_string())?.view().ui_soc();
            }
            h = hvac.recv() => {
                // A multiplexed signal: present in the frames whose multiplexer selects it.
                if let Some(t) = h.map_err(|e| e.to_string())?.view().vcright_hvac_cabin_temp_est() {
                    cabin_temp = t;
                }
            }
            d = dog.recv() => {
                dog_temp = d.map_err(|e| e.to_string())?.view().dog_mode_temp_set();
            }
            r = all_can.recv() => {
                r.map_err(|e| e.to_string())?;
                can_received += 1;
            }
            st = bridge_stats.recv() => {
                let st = st.map_err(|e| e.to_string())?;
                if let Ok(j) = serde_json::from_slice::<serde_json::Value>(st.payload())
                    && j["ended"] == true
                {
                    bridge_published = j["published"].as_u64();
                    ended_at.get_or_insert_with(Instant::now);
                }
            }
            s = speed.recv() => {
                let s = s.map_err(|e| e.to_string())?;
                kph = s.view().kph();
                if kph != speed_at(s.seq()) { wrong_values += 1; }
                last_seq = s.seq();
                latencies.push(s.latency());
                paths.add("chassis/speed", &s);
            }
            b = battery.recv() => {
                let b = b.map_err(|e| e.to_string())?;
                paths.add("powertrain/battery", &b);
                soc = Some((b.view().soc_percent(), b.view().max_cell_temp_c()));
            }
            m = mode.changed() => {
                let m = m.map_err(|e| e.to_string())?;
                let v = m.view();
                mode_changes.push(format!("{:?} by {}", v.mode(), v.changed_by().unwrap_or("?")));
            }
            ev = speed.next_event() => {
                if let Ok(ev @ TopicEvent::SamplesLost { .. }) = ev { println!("event: {ev}"); }
            }
            _ = dashboard.tick() => {
                let (soc, temp) = soc.unwrap_or((f32::NAN, f32::NAN));
                let m = mode.get().map(|m| format!("{:?}", m.view().mode())).unwrap_or_else(|| "?".into());
                println!(
                    "speed {kph:6.1} km/h | SoC {soc:5.1} % | cell {temp:4.1} C | mode {m:7} | seq {last_seq} \
                     || Model 3 CAN: {car_kph:5.1} km/h, SoC {car_soc_pct} %, cabin {cabin_temp:4.1} C, dog mode {dog_temp} C \
                     ({can_received} samples)"
                );
                if !asked && started.elapsed() > Duration::from_secs(RUN_SECONDS / 2) {
                    asked = true;
                    let reply = client
                        .call(&SetDriveModeT { mode: DriveMode::Sport, requested_by: Some("cockpit".into()) })
                        .await
                        .map_err(|e| format!("set_drive_mode: {e}"))?;
                    println!("set_drive_mode(Sport) -> accepted={}", reply.view().accepted());
                }
            }
        }
    }
    let st = speed.stats();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize];
    let expected = last_seq - first_seq + 1;
    let received = latencies.len() as u64;
    let ok = received == expected
        && wrong_values == 0
        && st.lost == 0
        && bridge_published == Some(can_received)
        && mode_changes.iter().any(|m| m.starts_with("Sport"));
    println!(
        "received speed={received}/{expected} (seq {first_seq}..{last_seq}) wrong={wrong_values} lost={} battery={} \
         mode_changes=[{}] latency p50={:?} p99={:?} can={can_received}/{} paths=[{}]",
        st.lost,
        battery.stats().delivered,
        mode_changes.join(", "),
        pct(0.5),
        pct(0.99),
        bridge_published.map_or("?".into(), |p| p.to_string()),
        paths.summary(),
    );
    if ok { Ok(()) } else { Err("the cockpit missed or mis-read data (see the line above)".into()) }
}

/// Per topic: how many samples came by each path, and their latencies.
#[derive(Default)]
struct PathStats(std::collections::BTreeMap<&'static str, (u64, u64, Vec<Duration>)>);

impl PathStats {
    fn add<T: vbus::Message>(&mut self, key: &'static str, s: &vbus::Sample<T>) {
        let e = self.0.entry(key).or_default();
        match s.path() {
            vbus::DataPath::SharedMemory => e.0 += 1,
            vbus::DataPath::Zenoh => e.1 += 1,
        }
        e.2.push(s.latency());
    }

    /// `key=<path>(p50 .., p99 ..)` per topic; the path is the one most samples took.
    fn summary(&mut self) -> String {
        self.0
            .iter_mut()
            .map(|(key, (shm, zenoh, lat))| {
                lat.sort();
                let pct = |p: f64| lat[((lat.len() - 1) as f64 * p) as usize];
                let path = if shm >= zenoh { vbus::DataPath::SharedMemory } else { vbus::DataPath::Zenoh };
                format!("{key}={path}({shm}/{} shm, p50 {:?}, p99 {:?})", *shm + *zenoh, pct(0.5), pct(0.99))
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}
