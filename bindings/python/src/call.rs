//! `Node.call`: request/reply through the library's run-time-typed client
//! (`Node::dyn_service_client`), the types found as `vbus call` finds them: the request table
//! declares `vbus_service: "<key>"` and names its reply (`vbus_reflect::Schema::services`), in a
//! schema given or in the schemas the servers serve (`vbus::Node::served_schemas`).

use std::{sync::Arc, time::Duration};

use pyo3::prelude::*;
use serde_json::Value;
use vbus::Untyped;
use vbus_reflect::{Schema, ServiceDecl};

use crate::{
    error::{Failure, Result},
    node::{Shared, lock},
    types::TypeCtx,
};

/// A service's client with its request and reply types.
pub struct CallTarget {
    client: vbus::ServiceClient<Untyped, Untyped>,
    req: Arc<TypeCtx>,
    rep: Arc<TypeCtx>,
}

/// A schema the service may be declared in: given by the user (`served: None`) or served on the
/// bus as the schema of `served.0` with hash `served.1`.
struct Source {
    bfbs: Vec<u8>,
    schema: Arc<Schema>,
    served: Option<(String, u64)>,
}

/// Call `key` with the request `json`; the reply as JSON.
pub fn call(
    py: Python<'_>,
    shared: &Arc<Shared>,
    key: &str,
    json: Value,
    timeout: Duration,
    schema: Option<Vec<u8>>,
    request_type: Option<String>,
) -> PyResult<Value> {
    vbus::validate_key(key).map_err(|e| Failure::Key(format!("invalid key: {e}")))?;
    // A schema or request type given resolves anew; otherwise the client resolved last time.
    let fresh = schema.is_some() || request_type.is_some();
    let cached = if fresh { None } else { lock(&shared.calls).get(key).cloned() };
    let target = match cached {
        Some(t) => t,
        None => {
            let t = Arc::new(shared.wait(py, || resolve(shared, key, schema, request_type))??);
            lock(&shared.calls).insert(key.to_owned(), t.clone());
            t
        }
    };
    let payload = target.req.encode(&json)?;
    let reply = shared.wait(py, || target.client.call_bytes(&payload, Some(timeout)))?;
    match reply {
        Ok(s) => Ok(target.rep.decode(s.bytes())?),
        Err(e) => {
            // The server may be gone or rebuilt with other types: resolve again next time.
            if matches!(e, vbus::CallError::NoServer { .. } | vbus::CallError::TypeMismatch { .. }) {
                lock(&shared.calls).remove(key);
            }
            Err(Failure::from(e).into())
        }
    }
}

async fn resolve(
    shared: &Shared,
    key: &str,
    schema: Option<Vec<u8>>,
    request_type: Option<String>,
) -> Result<CallTarget> {
    let mut sources = Vec::new();
    if let Some(bfbs) = schema {
        let schema = Arc::new(Schema::from_bfbs(&bfbs)?);
        sources.push(Source { bfbs, schema, served: None });
    } else {
        for s in shared.node.served_schemas().await? {
            if let Ok(schema) = Schema::from_bfbs(&s.bfbs) {
                sources.push(Source {
                    bfbs: s.bfbs,
                    schema: Arc::new(schema),
                    served: Some((s.type_name, s.type_hash)),
                });
            }
        }
    }
    let mut decls: Vec<ServiceDecl> = sources.iter().flat_map(|s| s.schema.services()).collect();
    decls.sort();
    decls.dedup();
    let (req, reply) = match request_type {
        Some(t) => {
            let reply = decls
                .iter()
                .find(|d| d.request == t)
                .or_else(|| decls.iter().find(|d| d.key == key))
                .and_then(|d| d.reply.clone());
            (t, reply)
        }
        None => match decls.iter().find(|d| d.key == key) {
            Some(d) => (d.request.clone(), d.reply.clone()),
            None => return Err(undeclared(key, &decls, !sources.iter().any(|s| s.served.is_none()))),
        },
    };
    let Some(reply) = reply else {
        return Err(Failure::Schema(format!(
            "the request type `{req}` of `{key}` names no reply type (`vbus_reply`)"
        )));
    };
    let req = Arc::new(type_of(shared, &req, &sources).await?);
    let rep = Arc::new(type_of(shared, &reply, &sources).await?);
    let client = shared.node.dyn_service_client(key, &req.info, &rep.info).create().await?;
    Ok(CallTarget { client, req, rep })
}

/// "No served schema declares `key`", with the closest declared key.
fn undeclared(key: &str, decls: &[ServiceDecl], served: bool) -> Failure {
    let mut m = if served {
        format!("no served schema declares service `{key}`")
    } else {
        format!("the schema given declares no service `{key}`")
    };
    if let Some(s) = vbus_reflect::did_you_mean(key, decls.iter().map(|d| d.key.as_str())) {
        m.push_str(&format!(" (did you mean `{s}`?)"));
    } else if !decls.is_empty() {
        let keys: Vec<&str> = decls.iter().map(|d| d.key.as_str()).collect();
        m.push_str(&format!(" (declared: {})", keys.join(", ")));
    }
    if served {
        m.push_str(
            "; is its server running? Servers built with vbus serve their schemas; for others pass \
             schema= (the .bfbs that declares it) or request_type=",
        );
    }
    Failure::Call(m)
}

/// The type `name`: from the schema given, else as served under its own name (the hash the
/// server was built with), else inside any served schema (the hash recomputed).
async fn type_of(shared: &Shared, name: &str, sources: &[Source]) -> Result<TypeCtx> {
    if let Some(s) = sources.iter().find(|s| s.served.is_none() && s.schema.object(name).is_some()) {
        return TypeCtx::parsed(name, &s.bfbs, s.schema.clone(), None);
    }
    if let Some(s) = sources.iter().find(|s| s.served.as_ref().is_some_and(|(t, _)| t == name)) {
        let hash = s.served.as_ref().map(|(_, h)| *h);
        return TypeCtx::parsed(name, &s.bfbs, s.schema.clone(), hash);
    }
    if let Some(info) = shared.node.fetch_schema(name).await? {
        return TypeCtx::new(name, &info.bfbs, Some(info.type_hash));
    }
    if let Some(s) = sources.iter().find(|s| s.schema.object(name).is_some()) {
        return TypeCtx::parsed(name, &s.bfbs, s.schema.clone(), None);
    }
    Err(Failure::Schema(format!(
        "no schema containing `{name}` is given or served: pass schema= (the .bfbs that declares the service)"
    )))
}
