//! The durable queue: selected samples on disk until the cloud acknowledged them.
//!
//! SQLite in WAL mode with `synchronous=FULL` (why SQLite: see the crate README). What that gives:
//! - a call to [`Store::append`] is one transaction; when it returns, the samples are in the WAL
//!   and the WAL is fsynced, so they survive a process kill and a power loss. Nothing is
//!   reported as accepted before that.
//! - a torn write at power loss (half a transaction in the WAL) is detected by the WAL frame
//!   checksums and rolled back by SQLite on the next open: a transaction is all or nothing.
//! - each record also carries a CRC-32 of its contents, checked before it is sent, because
//!   SQLite does not checksum the pages of the main database file (bit rot, a misdirected write).
//!   A record that fails is deleted, counted as `corrupt` and not sent.
//! - the file is opened with `locking_mode=EXCLUSIVE`, so a second bridge on the same queue fails
//!   at start instead of sending everything twice. The kernel drops the lock when a process dies.
//!
//! Order: ids come from `AUTOINCREMENT`, so they grow with arrival and are never reused (even
//! after deletes and restarts); records are sent in id order, hence in order per topic.
//!
//! Size bound and drop policy: see [`Store::append`].

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::Error;

/// Bytes counted per record on top of its variable-length fields (ids, times, index entries).
const RECORD_OVERHEAD: u64 = 64;

/// Schema version kept in SQLite's `user_version`.
const SCHEMA_VERSION: i64 = 1;

/// A sample to queue.
#[derive(Clone, Debug, PartialEq)]
pub struct NewRecord {
    /// Topic key relative to the domain.
    pub key: String,
    /// Payload type name.
    pub type_name: Option<String>,
    /// Payload type hash.
    pub type_hash: u64,
    /// Publisher id.
    pub publisher: u64,
    /// Publisher sequence number.
    pub seq: u64,
    /// Source time, ns since the UNIX epoch.
    pub source_time_ns: u64,
    /// Receipt time at the bridge, ns since the UNIX epoch.
    pub received_ns: u64,
    /// 0 = most important.
    pub priority: u8,
    /// Rule that selected it.
    pub rule: String,
    /// FlatBuffers payload.
    pub payload: Vec<u8>,
}

impl NewRecord {
    /// Bytes this record counts against `max_bytes`.
    pub fn size(&self) -> u64 {
        RECORD_OVERHEAD
            + (self.key.len()
                + self.type_name.as_ref().map_or(0, |t| t.len())
                + self.rule.len()
                + self.payload.len()) as u64
    }

    fn crc(&self) -> u32 {
        let mut h = crc32fast::Hasher::new();
        h.update(self.key.as_bytes());
        h.update(&[0]);
        h.update(self.type_name.as_deref().unwrap_or("").as_bytes());
        h.update(&[0]);
        for v in [self.type_hash, self.publisher, self.seq, self.source_time_ns, self.received_ns] {
            h.update(&v.to_le_bytes());
        }
        h.update(&[self.priority]);
        h.update(self.rule.as_bytes());
        h.update(&[0]);
        h.update(&self.payload);
        h.finalize()
    }
}

/// A queued sample.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// Queue id (arrival order).
    pub id: u64,
    /// The sample.
    pub rec: NewRecord,
}

/// A sample the size policy dropped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dropped {
    /// Topic key.
    pub key: String,
    /// Its priority.
    pub priority: u8,
    /// Publisher id.
    pub publisher: u64,
    /// Publisher sequence number.
    pub seq: u64,
    /// True: it was queued and evicted for a newer or more important one. False: it was the new
    /// sample and did not fit.
    pub evicted: bool,
}

/// What [`Store::append`] did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AppendOutcome {
    /// New samples now durably queued.
    pub accepted: Vec<bool>,
    /// Samples dropped by the size policy (queued ones evicted and new ones refused).
    pub dropped: Vec<Dropped>,
}

/// Queue counters (also part of the bridge stats).
#[derive(Clone, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct QueueStats {
    /// Random id of this database (`store` in batches).
    pub store_id: String,
    /// Samples queued.
    pub records: u64,
    /// Bytes queued (as counted against `max_bytes`).
    pub bytes: u64,
    /// The bound.
    pub max_bytes: u64,
    /// Samples dropped by the size policy, all time (persisted).
    pub dropped: u64,
    /// The same by priority.
    pub dropped_by_priority: BTreeMap<u8, u64>,
    /// Records that failed their checksum and were discarded, all time (persisted).
    pub corrupt: u64,
}

/// The durable queue. Blocking (SQLite): call it from a blocking thread.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    max_bytes: u64,
    records: u64,
    bytes: u64,
    /// Records with id <= cursor have been handed to the sink and are not yet acknowledged; the
    /// size policy does not evict them, and the next batch starts after them.
    cursor: u64,
    /// Records (and their bytes) with id <= cursor still queued: handed out, not acknowledged.
    handed: (u64, u64),
    store_id: String,
    dropped: BTreeMap<u8, u64>,
    corrupt: u64,
}

/// Map SQLite errors to [`Error::Store`] naming the file (owns a copy of the path, so it can live
/// across `&mut self` calls).
fn db_err(path: &Path) -> impl Fn(rusqlite::Error) -> Error + use<> {
    let path = path.to_path_buf();
    move |e| Error::Store(format!("{}: {e}", path.display()))
}

impl Store {
    /// Open (or create) the queue at `path`, bounded to `max_bytes`.
    ///
    /// A database that fails SQLite's `quick_check` is moved aside to `<path>.corrupt-<time>` and
    /// a new one is started (logged): a vehicle keeps collecting rather than stopping.
    pub fn open(path: impl AsRef<Path>, max_bytes: u64) -> Result<Self, Error> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::Store(format!("{}: cannot create directory: {e}", dir.display())))?;
        }
        let conn = match Self::connect(&path)? {
            Ok(c) => c,
            Err(problem) => {
                let aside = path.with_extension(format!("corrupt-{}", vbus::wire::now_ns()));
                tracing::error!(path = %path.display(), %problem, aside = %aside.display(), "queue database is damaged; moving it aside and starting a new one");
                for suffix in ["", "-wal", "-shm"] {
                    let from = PathBuf::from(format!("{}{suffix}", path.display()));
                    if from.exists() {
                        let to = PathBuf::from(format!("{}{suffix}", aside.display()));
                        std::fs::rename(&from, &to).map_err(|e| {
                            Error::Store(format!("{}: cannot move aside: {e}", from.display()))
                        })?;
                    }
                }
                Self::connect(&path)?.map_err(|p| Error::Store(format!("{}: {p}", path.display())))?
            }
        };
        let e = db_err(&path);
        conn.execute_batch(
            "BEGIN IMMEDIATE;
             CREATE TABLE IF NOT EXISTS samples(
                 id INTEGER PRIMARY KEY AUTOINCREMENT,
                 priority INTEGER NOT NULL,
                 size INTEGER NOT NULL,
                 key TEXT NOT NULL,
                 type_name TEXT,
                 type_hash INTEGER NOT NULL,
                 publisher INTEGER NOT NULL,
                 seq INTEGER NOT NULL,
                 source_time INTEGER NOT NULL,
                 received INTEGER NOT NULL,
                 rule TEXT NOT NULL,
                 payload BLOB NOT NULL,
                 crc INTEGER NOT NULL);
             CREATE INDEX IF NOT EXISTS samples_by_drop_order ON samples(priority DESC, id);
             CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v NOT NULL);
             CREATE TABLE IF NOT EXISTS drops(priority INTEGER PRIMARY KEY, n INTEGER NOT NULL);
             COMMIT;",
        )
        .map_err(&e)?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(&e)?;
        match version {
            0 => conn.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}")).map_err(&e)?,
            SCHEMA_VERSION => {}
            other => {
                return Err(Error::Store(format!(
                    "{}: queue schema version {other}, this build reads {SCHEMA_VERSION}",
                    path.display()
                )));
            }
        }
        let store_id = match conn
            .query_row("SELECT v FROM meta WHERE k = 'store_id'", [], |r| r.get::<_, String>(0))
            .optional()
            .map_err(&e)?
        {
            Some(id) => id,
            None => {
                let id = crate::format::hex(rand::random());
                conn.execute("INSERT INTO meta(k, v) VALUES ('store_id', ?1)", [&id]).map_err(&e)?;
                id
            }
        };
        let corrupt = conn
            .query_row("SELECT v FROM meta WHERE k = 'corrupt'", [], |r| r.get::<_, i64>(0))
            .optional()
            .map_err(&e)?
            .unwrap_or(0) as u64;
        let (records, bytes): (i64, i64) = conn
            .query_row("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM samples", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .map_err(&e)?;
        let mut dropped = BTreeMap::new();
        {
            let mut stmt = conn.prepare("SELECT priority, n FROM drops").map_err(&e)?;
            let rows = stmt
                .query_map([], |r| Ok((r.get::<_, i64>(0)? as u8, r.get::<_, i64>(1)? as u64)))
                .map_err(&e)?;
            for row in rows {
                let (p, n) = row.map_err(&e)?;
                dropped.insert(p, n);
            }
        }
        tracing::info!(path = %path.display(), records, bytes, store_id = %store_id, "queue open");
        Ok(Self {
            conn,
            path,
            max_bytes,
            records: records as u64,
            bytes: bytes as u64,
            cursor: 0,
            handed: (0, 0),
            store_id,
            dropped,
            corrupt,
        })
    }

    /// Open the connection with the durability settings; `Ok(Err(reason))` if the file is damaged.
    fn connect(path: &Path) -> Result<Result<Connection, String>, Error> {
        let e = db_err(path);
        let conn = Connection::open(path).map_err(&e)?;
        // Wait briefly for a lock rather than failing at once; exclusive mode below keeps it.
        conn.busy_timeout(std::time::Duration::from_millis(500)).map_err(&e)?;
        // EXCLUSIVE: one bridge per queue (the lock is taken by the first write, below).
        let mode: String = conn.query_row("PRAGMA locking_mode = EXCLUSIVE", [], |r| r.get(0)).map_err(&e)?;
        debug_assert_eq!(mode, "exclusive");
        let check = conn.query_row("PRAGMA quick_check", [], |r| r.get::<_, String>(0));
        match check {
            Ok(s) if s == "ok" => {}
            Ok(s) => return Ok(Err(format!("quick_check: {s}"))),
            Err(rusqlite::Error::SqliteFailure(f, m))
                if matches!(
                    f.code,
                    rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase
                ) =>
            {
                return Ok(Err(format!("{f}: {}", m.unwrap_or_default())));
            }
            Err(other) => return Err(e(other)),
        }
        let journal: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)).map_err(&e)?;
        if journal != "wal" {
            return Err(Error::Store(format!(
                "{}: cannot switch to WAL mode (got `{journal}`)",
                path.display()
            )));
        }
        // FULL: the WAL is fsynced at every commit, so a commit survives power loss (NORMAL only
        // survives a process crash). Checkpoints fsync the database file as well.
        conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA journal_size_limit = 16777216;").map_err(&e)?;
        // Take the exclusive lock now: a second bridge on this file fails here, with a clear error.
        match conn.execute_batch("BEGIN IMMEDIATE; COMMIT;") {
            Ok(()) => Ok(Ok(conn)),
            Err(rusqlite::Error::SqliteFailure(f, _)) if f.code == rusqlite::ErrorCode::DatabaseBusy => {
                Err(Error::Store(format!("{}: the queue is in use by another process", path.display())))
            }
            Err(other) => Err(e(other)),
        }
    }

    /// Queue samples, in one fsynced transaction.
    ///
    /// Size policy, per new sample that does not fit under `max_bytes`: queued samples are
    /// evicted in drop order - least important priority (highest number) first, oldest first
    /// within a priority - considering only those no more important than the new sample and not
    /// already handed to the sink. If evicting all of those would still not make room, nothing is
    /// evicted and the new sample is dropped instead. Every drop is counted, durably, per priority.
    pub fn append(&mut self, recs: &[NewRecord]) -> Result<AppendOutcome, Error> {
        let e = db_err(&self.path);
        let mut out = AppendOutcome::default();
        let tx = self.conn.transaction().map_err(&e)?;
        let (mut records, mut bytes) = (self.records, self.bytes);
        let mut drops: BTreeMap<u8, u64> = BTreeMap::new();
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO samples(priority, size, key, type_name, type_hash, publisher, seq, source_time, received, rule, payload, crc)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                )
                .map_err(&e)?;
            let mut candidates = tx
                .prepare_cached(
                    "SELECT id, size, priority, key, publisher, seq FROM samples
                     WHERE priority >= ?1 AND id > ?2 ORDER BY priority DESC, id LIMIT ?3 OFFSET ?4",
                )
                .map_err(&e)?;
            let mut delete = tx.prepare_cached("DELETE FROM samples WHERE id = ?1").map_err(&e)?;
            for rec in recs {
                let size = rec.size();
                let need = (bytes + size).saturating_sub(self.max_bytes);
                let mut victims = Vec::new();
                let mut fits = size <= self.max_bytes;
                if fits && need > 0 {
                    let mut freed = 0;
                    let mut offset = 0;
                    'scan: loop {
                        let page: Vec<(i64, u64, Dropped)> = candidates
                            .query_map(params![rec.priority, self.cursor as i64, 64, offset], |r| {
                                Ok((
                                    r.get::<_, i64>(0)?,
                                    r.get::<_, i64>(1)? as u64,
                                    Dropped {
                                        priority: r.get::<_, i64>(2)? as u8,
                                        key: r.get(3)?,
                                        publisher: r.get::<_, i64>(4)? as u64,
                                        seq: r.get::<_, i64>(5)? as u64,
                                        evicted: true,
                                    },
                                ))
                            })
                            .map_err(&e)?
                            .collect::<Result<_, _>>()
                            .map_err(&e)?;
                        if page.is_empty() {
                            break;
                        }
                        offset += page.len() as i64;
                        for v in page {
                            freed += v.1;
                            victims.push(v);
                            if freed >= need {
                                break 'scan;
                            }
                        }
                    }
                    fits = freed >= need;
                }
                if !fits {
                    *drops.entry(rec.priority).or_default() += 1;
                    out.dropped.push(Dropped {
                        key: rec.key.clone(),
                        priority: rec.priority,
                        publisher: rec.publisher,
                        seq: rec.seq,
                        evicted: false,
                    });
                    out.accepted.push(false);
                    continue;
                }
                for (id, vsize, d) in victims {
                    delete.execute([id]).map_err(&e)?;
                    bytes -= vsize;
                    records -= 1;
                    *drops.entry(d.priority).or_default() += 1;
                    out.dropped.push(d);
                }
                insert
                    .execute(params![
                        rec.priority,
                        size as i64,
                        rec.key,
                        rec.type_name,
                        rec.type_hash as i64,
                        rec.publisher as i64,
                        rec.seq as i64,
                        rec.source_time_ns as i64,
                        rec.received_ns as i64,
                        rec.rule,
                        rec.payload,
                        rec.crc() as i64,
                    ])
                    .map_err(&e)?;
                bytes += size;
                records += 1;
                out.accepted.push(true);
            }
            let mut count = tx
                .prepare_cached(
                    "INSERT INTO drops(priority, n) VALUES (?1, ?2)
                     ON CONFLICT(priority) DO UPDATE SET n = n + excluded.n",
                )
                .map_err(&e)?;
            for (p, n) in &drops {
                count.execute(params![p, *n as i64]).map_err(&e)?;
            }
        }
        tx.commit().map_err(&e)?;
        // Only now, after the fsync, do the in-memory counters move.
        self.records = records;
        self.bytes = bytes;
        for (p, n) in drops {
            *self.dropped.entry(p).or_default() += n;
        }
        Ok(out)
    }

    /// The next records after those already handed out, in id order: at most `max_samples`,
    /// and at most `max_bytes` of payload (but always one, however large). Marks them as handed
    /// out. Records failing their checksum are deleted, counted and skipped.
    pub fn take_batch(&mut self, max_samples: usize, max_bytes: usize) -> Result<Vec<Record>, Error> {
        let e = db_err(&self.path);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, priority, key, type_name, type_hash, publisher, seq, source_time, received, rule, payload, crc, size
                 FROM samples WHERE id > ?1 ORDER BY id LIMIT ?2",
            )
            .map_err(&e)?;
        let rows: Vec<(Record, u32, u64)> = stmt
            .query_map(params![self.cursor as i64, max_samples as i64], |r| {
                Ok((
                    Record {
                        id: r.get::<_, i64>(0)? as u64,
                        rec: NewRecord {
                            priority: r.get::<_, i64>(1)? as u8,
                            key: r.get(2)?,
                            type_name: r.get(3)?,
                            type_hash: r.get::<_, i64>(4)? as u64,
                            publisher: r.get::<_, i64>(5)? as u64,
                            seq: r.get::<_, i64>(6)? as u64,
                            source_time_ns: r.get::<_, i64>(7)? as u64,
                            received_ns: r.get::<_, i64>(8)? as u64,
                            rule: r.get(9)?,
                            payload: r.get(10)?,
                        },
                    },
                    r.get::<_, i64>(11)? as u32,
                    r.get::<_, i64>(12)? as u64,
                ))
            })
            .map_err(&e)?
            .collect::<Result<_, _>>()
            .map_err(&e)?;
        drop(stmt);
        let mut out = Vec::new();
        let mut corrupt = Vec::new();
        let mut total = 0usize;
        for (rec, crc, size) in rows {
            if !out.is_empty() && total + rec.rec.payload.len() > max_bytes {
                break;
            }
            self.cursor = rec.id;
            self.handed.0 += 1;
            self.handed.1 += size;
            if rec.rec.crc() != crc {
                tracing::error!(id = rec.id, key = %rec.rec.key, "queued record fails its checksum; discarded");
                corrupt.push(rec.id);
                continue;
            }
            total += rec.rec.payload.len();
            out.push(rec);
        }
        if !corrupt.is_empty() {
            self.remove(&corrupt)?;
            self.corrupt += corrupt.len() as u64;
            self.conn
                .execute(
                    "INSERT INTO meta(k, v) VALUES ('corrupt', ?1) ON CONFLICT(k) DO UPDATE SET v = excluded.v",
                    [self.corrupt as i64],
                )
                .map_err(&e)?;
        }
        Ok(out)
    }

    /// Delete records the sink acknowledged (ids that are gone already are ignored).
    pub fn remove(&mut self, ids: &[u64]) -> Result<(), Error> {
        let e = db_err(&self.path);
        let tx = self.conn.transaction().map_err(&e)?;
        let (mut records, mut bytes) = (self.records, self.bytes);
        let mut handed = self.handed;
        {
            let mut del =
                tx.prepare_cached("DELETE FROM samples WHERE id = ?1 RETURNING size").map_err(&e)?;
            for id in ids {
                let size: Option<i64> = del.query_row([*id as i64], |r| r.get(0)).optional().map_err(&e)?;
                if let Some(s) = size {
                    records -= 1;
                    bytes -= s as u64;
                    if *id <= self.cursor {
                        handed = (handed.0.saturating_sub(1), handed.1.saturating_sub(s as u64));
                    }
                }
            }
        }
        tx.commit().map_err(&e)?;
        self.records = records;
        self.bytes = bytes;
        self.handed = handed;
        Ok(())
    }

    /// Forget what was handed out and not acknowledged (the connection dropped): the next batch
    /// starts again from the oldest queued record.
    pub fn rewind(&mut self) {
        self.cursor = 0;
        self.handed = (0, 0);
    }

    /// Records (and bytes) queued and not handed out.
    pub fn pending(&self) -> (u64, u64) {
        (self.records.saturating_sub(self.handed.0), self.bytes.saturating_sub(self.handed.1))
    }

    /// Counters.
    pub fn stats(&self) -> QueueStats {
        QueueStats {
            store_id: self.store_id.clone(),
            records: self.records,
            bytes: self.bytes,
            max_bytes: self.max_bytes,
            dropped: self.dropped.values().sum(),
            dropped_by_priority: self.dropped.clone(),
            corrupt: self.corrupt,
        }
    }

    /// Random id of this database.
    pub fn store_id(&self) -> &str {
        &self.store_id
    }

    /// Bytes the queue occupies on disk now (database file plus WAL).
    pub fn disk_bytes(&self) -> u64 {
        ["", "-wal"]
            .iter()
            .filter_map(|s| std::fs::metadata(format!("{}{s}", self.path.display())).ok())
            .map(|m| m.len())
            .sum()
    }

    /// Fold the WAL into the database file (and truncate it).
    pub fn checkpoint(&self) -> Result<(), Error> {
        self.conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);").map_err(db_err(&self.path))
    }

    /// Checkpoint and close.
    pub fn close(self) -> Result<(), Error> {
        self.checkpoint()?;
        self.conn.close().map_err(|(_, e)| db_err(&self.path)(e))
    }
}
