//! The durable queue on its own: order, size bound and drop policy, counters that survive a
//! reopen, checksums.

use vbus_cloud::store::{NewRecord, Store};

use crate::harness::TempDir;

fn rec(key: &str, seq: u64, priority: u8, payload_len: usize) -> NewRecord {
    NewRecord {
        key: key.into(),
        type_name: Some("test.Speed".into()),
        type_hash: 1,
        publisher: 0xabc,
        seq,
        source_time_ns: seq * 1000,
        received_ns: seq * 1000 + 1,
        priority,
        rule: "r".into(),
        payload: vec![seq as u8; payload_len],
    }
}

fn keys_seqs(store: &mut Store) -> Vec<(String, u64)> {
    let out =
        store.take_batch(10_000, usize::MAX).unwrap().into_iter().map(|r| (r.rec.key, r.rec.seq)).collect();
    store.rewind();
    out
}

#[test]
fn records_come_back_in_order_and_leave_only_when_acknowledged() {
    let dir = TempDir::new("store-order");
    let path = dir.join("q.sqlite");
    let mut s = Store::open(&path, 1 << 20).unwrap();
    let recs: Vec<_> = (1..=10).map(|i| rec(if i % 2 == 0 { "a" } else { "b" }, i, 5, 10)).collect();
    assert_eq!(s.append(&recs).unwrap().accepted, vec![true; 10]);
    let first = s.take_batch(4, usize::MAX).unwrap();
    assert_eq!(first.iter().map(|r| r.rec.seq).collect::<Vec<_>>(), vec![1, 2, 3, 4]);
    assert_eq!(first[0].rec, recs[0], "stored and read back unchanged");
    let second = s.take_batch(100, 25).unwrap();
    assert_eq!(second.iter().map(|r| r.rec.seq).collect::<Vec<_>>(), vec![5, 6], "byte bound");
    assert_eq!(s.pending().0, 4);
    s.remove(&first.iter().map(|r| r.id).collect::<Vec<_>>()).unwrap();
    // The connection drops before the second batch is acknowledged: it comes again.
    s.rewind();
    let again = s.take_batch(100, usize::MAX).unwrap();
    assert_eq!(again.iter().map(|r| r.rec.seq).collect::<Vec<_>>(), vec![5, 6, 7, 8, 9, 10]);
    drop(s);
    // Reopen (what a restart after a crash does): the unacknowledged records are still there.
    let mut s = Store::open(&path, 1 << 20).unwrap();
    assert_eq!(s.stats().records, 6);
    let ids: Vec<u64> = s.take_batch(100, usize::MAX).unwrap().iter().map(|r| r.id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    assert!(ids[0] > first.last().unwrap().id, "ids are never reused");
    s.remove(&ids).unwrap();
    assert_eq!(s.stats().records, 0);
    assert_eq!(s.stats().bytes, 0);
    s.close().unwrap();
}

#[test]
fn queue_full_drops_lowest_priority_oldest_first_and_counts_it() {
    let dir = TempDir::new("store-full");
    let path = dir.join("q.sqlite");
    let size = rec("lowp", 0, 9, 100).size();
    // Room for exactly 10 records of this size.
    let mut s = Store::open(&path, size * 10).unwrap();
    s.append(&(1..=6).map(|i| rec("lowp", i, 9, 100)).collect::<Vec<_>>()).unwrap();
    s.append(&(1..=4).map(|i| rec("midp", i, 5, 100)).collect::<Vec<_>>()).unwrap();
    assert_eq!(s.stats().dropped, 0);

    // Full. A more important sample evicts the oldest of the least important priority.
    let out = s.append(&[rec("high", 1, 1, 100), rec("high", 2, 1, 100)]).unwrap();
    assert_eq!(out.accepted, vec![true, true]);
    assert_eq!(
        out.dropped.iter().map(|d| (d.key.as_str(), d.seq, d.evicted)).collect::<Vec<_>>(),
        vec![("lowp", 1, true), ("lowp", 2, true)]
    );
    // Same priority as the least important queued: oldest first, so the new one gets in.
    let out = s.append(&[rec("lowp", 7, 9, 100)]).unwrap();
    assert_eq!(out.accepted, vec![true]);
    assert_eq!(out.dropped[0].seq, 3);
    // Less important than everything queued: nothing may be evicted for it, so it is dropped.
    let out = s.append(&[rec("bulk", 1, 200, 100)]).unwrap();
    assert_eq!(out.accepted, vec![false]);
    assert!(!out.dropped[0].evicted);
    // Records handed to the broker and not yet acknowledged are never evicted, however old.
    let in_flight = s.take_batch(2, usize::MAX).unwrap();
    assert_eq!(
        in_flight.iter().map(|r| (r.rec.key.as_str(), r.rec.seq)).collect::<Vec<_>>(),
        vec![("lowp", 4), ("lowp", 5)]
    );
    let out = s.append(&[rec("high", 3, 1, 100)]).unwrap();
    assert_eq!(out.dropped.iter().map(|d| (d.key.as_str(), d.seq)).collect::<Vec<_>>(), vec![("lowp", 6)]);
    // A record larger than the whole bound is dropped (and counted) without evicting anything.
    let out = s.append(&[rec("huge", 1, 0, (size * 11) as usize)]).unwrap();
    assert_eq!(out.accepted, vec![false]);
    assert_eq!(out.dropped.len(), 1);
    s.rewind();
    let left = keys_seqs(&mut s);
    let expected: Vec<(String, u64)> = [
        ("lowp", 4),
        ("lowp", 5),
        ("midp", 1),
        ("midp", 2),
        ("midp", 3),
        ("midp", 4),
        ("high", 1),
        ("high", 2),
        ("lowp", 7),
        ("high", 3),
    ]
    .iter()
    .map(|(k, q)| (k.to_string(), *q))
    .collect();
    assert_eq!(left, expected);
    let st = s.stats();
    assert_eq!(st.records, 10);
    assert!(st.bytes <= st.max_bytes);
    assert_eq!(st.dropped, 6);
    assert_eq!(st.dropped_by_priority, [(0, 1), (9, 4), (200, 1)].into_iter().collect());
    s.close().unwrap();
    // The counts are durable, like the records.
    let s = Store::open(&path, size * 10).unwrap();
    assert_eq!(s.stats().dropped, 6);
    assert_eq!(s.stats().records, 10);
}

#[test]
fn a_record_failing_its_checksum_is_discarded_and_counted() {
    let dir = TempDir::new("store-crc");
    let path = dir.join("q.sqlite");
    let mut s = Store::open(&path, 1 << 20).unwrap();
    s.append(&(1..=3).map(|i| rec("a", i, 5, 16)).collect::<Vec<_>>()).unwrap();
    s.close().unwrap();
    // Bit rot in the main database file, which SQLite itself does not checksum.
    let db = rusqlite::Connection::open(&path).unwrap();
    db.execute("UPDATE samples SET payload = ?1 WHERE seq = 2", [vec![0xffu8; 16]]).unwrap();
    drop(db);
    let mut s = Store::open(&path, 1 << 20).unwrap();
    let seqs: Vec<u64> = s.take_batch(10, usize::MAX).unwrap().iter().map(|r| r.rec.seq).collect();
    assert_eq!(seqs, vec![1, 3]);
    assert_eq!(s.stats().corrupt, 1);
    assert_eq!(s.stats().records, 2);
}

#[test]
fn a_second_process_cannot_share_the_queue() {
    let dir = TempDir::new("store-lock");
    let path = dir.join("q.sqlite");
    let _first = Store::open(&path, 1 << 20).unwrap();
    let e = Store::open(&path, 1 << 20).err().expect("second open fails").to_string();
    assert!(e.contains("in use by another process") || e.contains("locked"), "{e}");
}
