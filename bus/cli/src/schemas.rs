//! Schemas served on the bus, or given as files, fetched once per type and cached.
//!
//! Publishers serve the `.bfbs` of the types they publish at `@schema/<type>`. A type nobody
//! publishes (a service request, a topic of a node that serves no schemas) is looked up in the
//! `.bfbs` files given with `--schema`, then inside every served schema; its type hash is then
//! recomputed from the schema.

use std::{collections::HashMap, sync::Arc};

use vbus::{Node, SchemaInfo};
use vbus_reflect::Schema;

/// A parsed schema that contains `type_name`.
pub struct Entry {
    /// The type asked for.
    pub type_name: String,
    /// The type hash: the one the serving node was built with when it serves this very type,
    /// else recomputed from the schema.
    pub type_hash: u64,
    /// The hash the serving node announced for the type, when it serves this very type.
    pub served_hash: Option<u64>,
    /// The raw `.bfbs`.
    pub bfbs: Vec<u8>,
    /// The parsed schema.
    pub schema: Schema,
}

/// A `.bfbs` given on the command line.
pub struct Local {
    pub bfbs: Vec<u8>,
    pub schema: Schema,
}

pub struct Schemas {
    node: Node,
    locals: Vec<Local>,
    cache: HashMap<String, Option<Arc<Entry>>>,
    scanned: Option<Vec<Arc<SchemaInfo>>>,
}

impl Schemas {
    pub fn new(node: Node, locals: Vec<Local>) -> Self {
        Self { node, locals, cache: HashMap::new(), scanned: None }
    }

    /// Every service declared (`vbus_service` attributes) in the given files and the schemas
    /// served on the bus: (key, request type, reply type).
    pub async fn services(&mut self) -> Vec<(String, String, Option<String>)> {
        let mut out = services(self.locals.iter().map(|l| &l.schema));
        let served: Vec<Schema> =
            self.all().await.iter().filter_map(|s| Schema::from_bfbs(&s.bfbs).ok()).collect();
        out.extend(services(served.iter()));
        out.sort();
        out.dedup();
        out
    }

    /// Every type name the given files and the served schemas contain.
    pub async fn type_names(&mut self) -> Vec<String> {
        let mut out: Vec<String> =
            self.locals.iter().flat_map(|l| l.schema.objects.iter().map(|o| o.name.clone())).collect();
        for s in self.all().await {
            if let Ok(schema) = Schema::from_bfbs(&s.bfbs) {
                out.extend(schema.objects.iter().map(|o| o.name.clone()));
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// The schema of `type_name`, if some node serves one containing it.
    pub async fn get(&mut self, type_name: &str) -> Option<Arc<Entry>> {
        if let Some(hit) = self.cache.get(type_name) {
            return hit.clone();
        }
        let found = self.lookup(type_name).await;
        self.cache.insert(type_name.to_owned(), found.clone());
        found
    }

    /// Forget a miss, so the next `get` asks the bus again (publishers come late).
    pub fn forget_misses(&mut self) {
        self.cache.retain(|_, v| v.is_some());
        self.scanned = None;
    }

    async fn lookup(&mut self, type_name: &str) -> Option<Arc<Entry>> {
        if let Ok(Some(info)) = self.node.fetch_schema(type_name).await
            && let Ok(schema) = Schema::from_bfbs(&info.bfbs)
            && schema.object(type_name).is_some()
        {
            return Some(Arc::new(Entry {
                type_name: type_name.to_owned(),
                type_hash: info.type_hash,
                served_hash: Some(info.type_hash),
                bfbs: info.bfbs,
                schema,
            }));
        }
        // Not served under its own name: the files given, then inside every served schema.
        for l in &self.locals {
            if l.schema.object(type_name).is_some() {
                return Some(Arc::new(Entry {
                    type_name: type_name.to_owned(),
                    type_hash: l.schema.type_hash(type_name)?,
                    served_hash: None,
                    bfbs: l.bfbs.clone(),
                    schema: l.schema.clone(),
                }));
            }
        }
        for s in self.all().await {
            let Ok(schema) = Schema::from_bfbs(&s.bfbs) else { continue };
            if schema.object(type_name).is_some() {
                let type_hash = schema.type_hash(type_name)?;
                return Some(Arc::new(Entry {
                    type_name: type_name.to_owned(),
                    type_hash,
                    served_hash: None,
                    bfbs: s.bfbs.clone(),
                    schema,
                }));
            }
        }
        None
    }

    /// Every schema served in the domain (one reply per serving node and type).
    pub async fn all(&mut self) -> Vec<Arc<SchemaInfo>> {
        if let Some(s) = &self.scanned {
            return s.clone();
        }
        let out = scan(&self.node).await;
        self.scanned = Some(out.clone());
        out
    }
}

/// Ask every node for every schema it serves (none when the query fails).
pub async fn scan(node: &Node) -> Vec<Arc<SchemaInfo>> {
    node.served_schemas().await.unwrap_or_default().into_iter().map(Arc::new).collect()
}

/// Every service declared in `schemas` (`vbus_service` attributes, [`Schema::services`]): (key,
/// request type, reply type).
fn services<'a>(schemas: impl Iterator<Item = &'a Schema>) -> Vec<(String, String, Option<String>)> {
    let mut out: Vec<_> = schemas.flat_map(Schema::services).map(|d| (d.key, d.request, d.reply)).collect();
    out.sort();
    out.dedup();
    out
}
