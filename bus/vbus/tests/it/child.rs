//! Roles that run in child processes (see `harness.rs`).

use std::time::Duration;

use tokio::io::AsyncBufReadExt;
use vbus::{Node, wire};
use vbus_test_support::{
    child::{ChildEnv, forever},
    wait_matched,
};

use crate::fixtures::*;

vbus_test_support::child_entry!(run);

async fn run(env: ChildEnv, node: Node) -> Result<(), String> {
    println!("VBUS path {}", node.local_path());
    let e = |e: &dyn std::fmt::Display| e.to_string();
    let arg = |i| env.arg(i);
    match env.role.as_str() {
        "publisher" => {
            let (n, interval) = (arg(0) as u32, arg(1));
            let mut p = node.publisher(SPEED).create().await.map_err(|x| e(&x))?;
            wait_matched(&p).await;
            for i in 1..=n {
                p.publish(&speed(i as f32 * 1.5, i, &format!("s{i}"))).map_err(|x| e(&x))?;
                tokio::time::sleep(Duration::from_millis(interval)).await;
            }
            println!("VBUS done sent={}", p.stats().sent);
            forever().await
        }
        "stalled_subscriber" => {
            // Subscribes to a Block topic and never reads: its buffers fill up.
            let _sub = node.subscriber(SLOW_BLOCK).create().await.map_err(|x| e(&x))?;
            println!("VBUS ready");
            forever().await
        }
        "counting_subscriber" => {
            let n = arg(0);
            let sub = node.subscriber(SLOW_BLOCK).create().await.map_err(|x| e(&x))?;
            println!("VBUS ready");
            for _ in 0..n {
                sub.recv().await.map_err(|x| e(&x))?;
            }
            println!("VBUS done received={n}");
            forever().await
        }
        "silent_publisher" => {
            let mut p = node.publisher(WATCHED).create().await.map_err(|x| e(&x))?;
            wait_matched(&p).await;
            for i in 1..=10 {
                p.publish(&speed(1.0, i, "alive")).map_err(|x| e(&x))?;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            println!("VBUS silent sent={}", p.stats().sent);
            forever().await
        }
        "server" => {
            let server = node.service_server(DOUBLE).create().await.map_err(|x| e(&x))?;
            println!("VBUS ready");
            let mut ignored = Vec::new();
            while let Ok(req) = server.recv().await {
                let s = req.sample();
                let v = s.view();
                match v.label().unwrap_or("") {
                    "refuse" => req.refuse("label `refuse` is not allowed"),
                    "ignore" => ignored.push(req), // held, never answered: the caller times out
                    "drop" => drop(req),
                    label => {
                        let reply = speed(v.kph() * 2.0, v.count() + 1, label);
                        req.reply(&reply).map_err(|x| e(&x))?;
                    }
                }
            }
            Ok(())
        }
        "field_owner" => {
            let mut f = node.field_owner(MODE).create().await.map_err(|x| e(&x))?;
            f.set(&speed(1.0, 1, "eco")).map_err(|x| e(&x))?;
            println!("VBUS ready");
            let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
            while let Ok(Some(l)) = lines.next_line().await {
                if l == "next" {
                    f.set(&speed(2.0, 2, "sport")).map_err(|x| e(&x))?;
                    println!("VBUS set");
                }
            }
            Ok(())
        }
        "idle" => {
            println!("VBUS ready");
            forever().await
        }
        "mismatch" => {
            let mut p = node.publisher(SPEED_V2).create().await.map_err(|x| e(&x))?;
            wait_matched(&p).await;
            for i in 1..=5 {
                p.publish(&speed_v2(3.0, i, "v2")).map_err(|x| e(&x))?;
            }
            println!("VBUS done sent={}", p.stats().sent);
            forever().await
        }
        "corrupt" => {
            use vbus::zenoh::Wait;
            let key = wire::data_key(node.domain(), SPEED.key());
            let raw = node.session().declare_publisher(key).wait().map_err(|x| e(&x))?;
            let mut p = node.publisher(SPEED).create().await.map_err(|x| e(&x))?;
            wait_matched(&p).await;
            let mut fbb = vbus::flatbuffers::FlatBufferBuilder::new();
            let root = build_speed(&mut fbb, 9.0, 9, "a label long enough to be cut");
            fbb.finish_minimal(root);
            let good = fbb.finished_data().to_vec();
            let header = |seq| {
                wire::Header {
                    flags: 0,
                    host_tag: 0,
                    type_hash: <Speed as vbus::Message>::TYPE_HASH,
                    seq,
                    source_time_ns: wire::now_ns(),
                    publisher_id: 77,
                }
                .encode()
                .to_vec()
            };
            // 1. truncated FlatBuffer behind a valid header
            raw.put(good[..good.len() / 2].to_vec()).attachment(header(1)).wait().map_err(|x| e(&x))?;
            // 2. no attachment at all
            raw.put(good.clone()).wait().map_err(|x| e(&x))?;
            // 3. a 5-byte attachment
            raw.put(good.clone()).attachment(vec![1u8, 2, 3, 4, 5]).wait().map_err(|x| e(&x))?;
            // 4. random bytes as payload
            raw.put(vec![0xffu8; 16]).attachment(header(2)).wait().map_err(|x| e(&x))?;
            // then a valid sample, which must get through
            p.publish(&speed(4.0, 4, "valid")).map_err(|x| e(&x))?;
            println!("VBUS done sent=5");
            forever().await
        }
        "flood_drop" => {
            let n = arg(0) as u32;
            let mut p = node.publisher(SLOW_DROP).create().await.map_err(|x| e(&x))?;
            wait_matched(&p).await;
            for i in 1..=n {
                p.publish(&speed(i as f32, i, "flood")).map_err(|x| e(&x))?;
            }
            let st = p.stats();
            println!("VBUS done sent={} dropped={}", st.sent, st.dropped);
            forever().await
        }
        "flood_block" => {
            let (n, size) = (arg(0) as u32, arg(1) as usize);
            let mut p = node.publisher(SLOW_BLOCK).create().await.map_err(|x| e(&x))?;
            wait_matched(&p).await;
            let label = "x".repeat(size);
            for i in 1..=n {
                p.publish(&speed(i as f32, i, &label)).map_err(|x| e(&x))?;
            }
            let s = p.stats();
            println!(
                "VBUS done sent={} waits={} waited_ms={}",
                s.sent,
                s.backpressure_waits,
                s.backpressure_ns / 1_000_000
            );
            forever().await
        }
        "hostile" => {
            // Floods as fast as it can: big samples on a Drop topic, for `seconds`.
            let seconds = arg(0);
            let mut p = node.publisher(SLOW_DROP).create().await.map_err(|x| e(&x))?;
            wait_matched(&p).await;
            let label = "h".repeat(256 * 1024);
            let until = std::time::Instant::now() + Duration::from_secs(seconds);
            let mut i = 0u32;
            while std::time::Instant::now() < until {
                i += 1;
                p.publish(&speed(0.0, i, &label)).map_err(|x| e(&x))?;
            }
            println!("VBUS done sent={}", p.stats().sent);
            forever().await
        }
        other => Err(format!("unknown role `{other}`")),
    }
}
