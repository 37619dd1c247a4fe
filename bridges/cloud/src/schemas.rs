//! Schemas fetched from the bus, for reading fields of samples whose types the bridge was not
//! built with.
//!
//! The first sample of a type waits for its schema (publishers serve it, so the answer is quick);
//! when no node serves it, later attempts run in the background so that a missing schema never
//! stalls the intake, and samples meanwhile count as unreadable.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::{Duration, Instant},
};

use tokio::sync::mpsc;
use vbus::{Node, SchemaInfo};

use crate::{
    fields::{FieldPath, Schema},
    rules::BusSample,
};

/// How long a type without a schema waits before it is asked for again.
const RETRY_AFTER: Duration = Duration::from_secs(5);

type Fetched = (String, Result<Option<SchemaInfo>, String>);

enum Entry {
    Ready { hash: u64, schema: Arc<Schema> },
    Missing { reason: String, retry_at: Instant },
}

/// Type name -> schema, and resolved paths.
pub(crate) struct Schemas {
    node: Node,
    entries: HashMap<String, Entry>,
    paths: HashMap<(String, String), Result<FieldPath, String>>,
    in_flight: HashSet<String>,
    tx: mpsc::UnboundedSender<Fetched>,
    rx: mpsc::UnboundedReceiver<Fetched>,
}

impl Schemas {
    pub(crate) fn new(node: Node) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Self { node, entries: HashMap::new(), paths: HashMap::new(), in_flight: HashSet::new(), tx, rx }
    }

    /// Make sure the schema of `type_name` is known or being fetched. The first time, waits for it.
    pub(crate) async fn ensure(&mut self, type_name: &str) {
        match self.entries.get(type_name) {
            Some(Entry::Ready { .. }) => {}
            Some(Entry::Missing { retry_at, .. }) => {
                if Instant::now() >= *retry_at && self.in_flight.insert(type_name.to_owned()) {
                    let (node, tx, name) = (self.node.clone(), self.tx.clone(), type_name.to_owned());
                    tokio::spawn(async move {
                        let r = node.fetch_schema(&name).await.map_err(|e| e.to_string());
                        let _ = tx.send((name, r));
                    });
                }
            }
            None => {
                let r = self.node.fetch_schema(type_name).await.map_err(|e| e.to_string());
                self.store(type_name.to_owned(), r);
            }
        }
    }

    /// Take in background fetch results (call before reading).
    pub(crate) fn poll_fetched(&mut self) {
        while let Ok((name, r)) = self.rx.try_recv() {
            self.in_flight.remove(&name);
            self.store(name, r);
        }
    }

    fn store(&mut self, name: String, r: Result<Option<SchemaInfo>, String>) {
        let entry = match r {
            Ok(Some(info)) => match Schema::parse(&info.bfbs) {
                Ok(schema) => {
                    tracing::info!(type_name = %name, "schema fetched");
                    Entry::Ready { hash: info.type_hash, schema: Arc::new(schema) }
                }
                Err(e) => Entry::Missing { reason: e.to_string(), retry_at: Instant::now() + RETRY_AFTER },
            },
            Ok(None) => Entry::Missing {
                reason: "no node serves its schema".into(),
                retry_at: Instant::now() + RETRY_AFTER,
            },
            Err(e) => Entry::Missing { reason: e, retry_at: Instant::now() + RETRY_AFTER },
        };
        if let Entry::Missing { reason, .. } = &entry {
            tracing::warn!(type_name = %name, %reason, "schema unavailable; fields of this type cannot be read yet");
        }
        self.paths.retain(|(t, _), _| *t != name);
        self.entries.insert(name, entry);
    }

    /// Read `field` of `s` with its type's schema.
    pub(crate) fn read(&mut self, s: &BusSample, field: &str) -> Result<f64, String> {
        let type_name = s.type_name.as_deref().ok_or("the sample declares no type name")?;
        let (hash, schema) = match self.entries.get(type_name) {
            Some(Entry::Ready { hash, schema }) => (*hash, schema.clone()),
            Some(Entry::Missing { reason, .. }) => return Err(format!("schema of `{type_name}`: {reason}")),
            None => return Err(format!("schema of `{type_name}` not fetched yet")),
        };
        if hash != s.type_hash {
            return Err(format!(
                "the served schema of `{type_name}` has hash {hash:016x}, the sample {:016x}",
                s.type_hash
            ));
        }
        let path = self
            .paths
            .entry((type_name.to_owned(), field.to_owned()))
            .or_insert_with(|| schema.resolve(type_name, field).map_err(|e| e.to_string()));
        match path {
            Ok(p) => p.read(&s.payload).map_err(|e| e.to_string()),
            Err(e) => Err(e.clone()),
        }
    }
}
