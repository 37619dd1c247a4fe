//! A message type known at run time: its schema (vbus-reflect's model of the `.bfbs`), its
//! hash, and the `vbus::TypeInfo` the library's `dyn_*` endpoints take, whose verifier is
//! `vbus_reflect::verify` over that schema.

use std::sync::Arc;

use serde_json::Value;
use vbus::TypeInfo;
use vbus_reflect::Schema;

use crate::error::{Failure, Result};

/// One table type of a schema, ready for the bus.
pub struct TypeCtx {
    /// Fully qualified type name.
    pub name: String,
    /// The type hash every sample's header carries.
    pub hash: u64,
    /// The parsed schema (contains `name`).
    pub schema: Arc<Schema>,
    /// What the endpoints are declared with: name, hash, verifier, and the per-type `.bfbs`
    /// publishers serve.
    pub info: TypeInfo,
}

impl TypeCtx {
    /// The table `name` of the `.bfbs` `bfbs`. `hash` is the one a serving node announced; `None`
    /// recomputes it from the schema (as codegen computes `Message::TYPE_HASH`).
    pub fn new(name: &str, bfbs: &[u8], hash: Option<u64>) -> Result<Self> {
        let schema = Schema::from_bfbs(bfbs)?;
        Self::parsed(name, bfbs, Arc::new(schema), hash)
    }

    /// [`TypeCtx::new`] with the schema already parsed from `bfbs`.
    pub fn parsed(name: &str, bfbs: &[u8], schema: Arc<Schema>, hash: Option<u64>) -> Result<Self> {
        let verify = Arc::new(vbus_reflect::verifier(schema.clone(), name)?);
        let hash = match hash {
            Some(h) => h,
            None => schema
                .type_hash(name)
                .ok_or_else(|| Failure::Schema(format!("cannot compute the type hash of `{name}`")))?,
        };
        // What each type serves: the schema cut down to what its table needs, rooted at it.
        let served = vbus_reflect::subset_bfbs(bfbs, name)?;
        let info = TypeInfo::new(name, hash, verify).with_schema(served);
        Ok(Self { name: name.to_owned(), hash, schema, info })
    }

    /// JSON -> FlatBuffers bytes of this type.
    pub fn encode(&self, json: &Value) -> Result<Vec<u8>> {
        Ok(vbus_reflect::encode_from_json(&self.schema, &self.name, json)?)
    }

    /// FlatBuffers bytes of this type -> JSON (verified first).
    pub fn decode(&self, bytes: &[u8]) -> Result<Value> {
        Ok(vbus_reflect::decode_to_json(&self.schema, &self.name, bytes)?)
    }
}

/// The table a schema given for `key` describes when no type name is given: the one declaring
/// `vbus_topic: "<key>"`, else the schema's `root_type`.
pub fn table_for_key(schema: &Schema, key: &str) -> Result<String> {
    let mut declaring = schema.find_by_attribute("vbus_topic", key);
    if let Some(o) = declaring.next() {
        if let Some(other) = declaring.next() {
            return Err(Failure::Schema(format!(
                "the schema declares topic `{key}` on two tables ({} and {}): pass type_name",
                o.name, other.name
            )));
        }
        return Ok(o.name.clone());
    }
    match schema.root_table.and_then(|i| schema.objects.get(i)) {
        Some(root) => Ok(root.name.clone()),
        None => Err(Failure::Schema(format!(
            "pass type_name: the schema declares no topic `{key}` (`vbus_topic`) and has no root_type"
        ))),
    }
}
