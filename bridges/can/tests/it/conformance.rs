//! One conformance suite for every CAN interface that can run here. SocketCAN cannot (this
//! kernel has no AF_CAN): its test checks that opening fails with an error naming the interface.

use vbus_can::{CanError, CanFrame, CanInterface, CandumpReplay, Pacing, SocketCan, SoftwareBus};

use crate::{WATCHDOG, temp_dir, testdata};

fn sample_frames() -> Vec<CanFrame> {
    vec![
        CanFrame::new(0x123, false, false, &[1, 2, 3]).unwrap(),
        CanFrame::new(0x1234_5678, true, false, &[0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0]).unwrap(),
        CanFrame::new(0x7ff, false, true, &[7u8; 64]).unwrap(),
        CanFrame::new(0x10, false, false, &[]).unwrap(),
    ]
}

async fn recv<I: CanInterface>(i: &mut I) -> CanFrame {
    tokio::time::timeout(WATCHDOG, i.recv())
        .await
        .expect("frame in time")
        .expect("recv ok")
        .expect("not ended")
}

/// Frames sent by one endpoint arrive unchanged, in order, at every other endpoint and not at
/// the sender.
async fn bidirectional<I: CanInterface>(a: &mut I, b: &mut I, c: &mut I) {
    for f in sample_frames() {
        a.send(&f).await.unwrap();
    }
    for want in sample_frames() {
        let got = recv(b).await;
        assert_eq!(
            (got.id, got.extended, got.fd, got.data()),
            (want.id, want.extended, want.fd, want.data())
        );
        let got = recv(c).await;
        assert_eq!(got.data(), want.data());
    }
    let reply = CanFrame::new(0x321, false, false, &[9]).unwrap().at(42);
    b.send(&reply).await.unwrap();
    let got = recv(a).await;
    assert_eq!((got.id, got.data(), got.timestamp_ns), (0x321, &[9u8][..], Some(42)));
    assert_eq!(recv(c).await.id, 0x321);
    // a never saw its own frames: the first thing it received was b's reply.
    assert!(!a.describe().is_empty());
}

#[tokio::test]
async fn software_bus_conformance() {
    let dir = temp_dir("sw");
    let (mut a, mut b, mut c) = (
        SoftwareBus::join(&dir).unwrap(),
        SoftwareBus::join(&dir).unwrap(),
        SoftwareBus::join(&dir).unwrap(),
    );
    bidirectional(&mut a, &mut b, &mut c).await;
    // An endpoint that went away does not break the others.
    drop(c);
    a.send(&sample_frames()[0]).await.unwrap();
    assert_eq!(recv(&mut b).await.id, 0x123);
}

#[test]
fn frames_refuse_impossible_shapes() {
    assert!(CanFrame::new(0x800, false, false, &[]).is_none(), "11-bit id out of range");
    assert!(CanFrame::new(0x2000_0000, true, false, &[]).is_none(), "29-bit id out of range");
    assert!(CanFrame::new(1, false, false, &[0; 9]).is_none(), "classic frame > 8 bytes");
    assert!(CanFrame::new(1, false, true, &[0; 65]).is_none(), "FD frame > 64 bytes");
    assert_eq!(CanFrame::new(0x1F, false, true, &[0xAB]).unwrap().to_string(), "01F##0AB");
}

#[tokio::test]
async fn candump_replay_conformance() {
    // Receive side of the suite: every frame of the log, in order, with its content; then end.
    let log = testdata("logs/synthetic/motohawk.log");
    let text = std::fs::read_to_string(&log).unwrap();
    let want: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut r = CandumpReplay::open(&log, Pacing { realtime: false, rate: 1.0, looped: false }).unwrap();
    for line in &want {
        let f = recv(&mut r).await;
        let compact = line.split_whitespace().nth(2).unwrap();
        assert_eq!(f.to_string(), compact.to_uppercase());
        let t: f64 = line[1..line.find(')').unwrap()].parse().unwrap();
        assert_eq!(f.timestamp_ns, Some((t * 1e9) as u64));
    }
    assert!(r.recv().await.unwrap().is_none());
    assert!(matches!(r.send(&sample_frames()[0]).await, Err(CanError::ReadOnly(_))));

    // Real-time pacing at 50x keeps order and spaces frames by the capture's deltas / 50.
    let mut r = CandumpReplay::open(&log, Pacing { realtime: true, rate: 50.0, looped: true }).unwrap();
    let mut stamps = Vec::new();
    for _ in 0..want.len() + 3 {
        stamps.push(recv(&mut r).await.timestamp_ns.unwrap());
    }
    assert!(stamps.windows(2).take(want.len() - 1).all(|w| w[0] <= w[1]), "timestamps move forward");

    // Corrupt lines are skipped and counted; the replay goes on.
    let dir = temp_dir("bad");
    let bad = dir.join("bad.log");
    std::fs::write(&bad, "(1.0) can0 123#0102\n(1.1) can0 12G#00\nnot a frame\n(1.2) can0 124#03\n").unwrap();
    let mut r = CandumpReplay::open(&bad, Pacing { realtime: false, rate: 1.0, looped: false }).unwrap();
    assert_eq!(recv(&mut r).await.id, 0x123);
    assert_eq!(recv(&mut r).await.id, 0x124);
    assert!(r.recv().await.unwrap().is_none());
    assert_eq!(r.bad_lines(), 2);
    let missing = CandumpReplay::open(dir.join("missing.log"), Pacing::default()).err().unwrap().to_string();
    assert!(missing.contains("missing.log"), "{missing}");
}

#[tokio::test]
async fn socketcan_opens_or_explains() {
    // Here there is no AF_CAN; on a vehicle this opens `vcan0`/`can0`. Either way: no panic, and
    // a failure names the interface.
    match SocketCan::open("vcan0") {
        Ok(s) => assert_eq!(s.describe(), "socketcan vcan0"),
        Err(e) => assert!(e.to_string().contains("socketcan vcan0"), "{e}"),
    }
}
