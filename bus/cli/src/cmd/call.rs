//! `vbus call SERVICE JSON`: a request encoded from JSON, the reply decoded to JSON.
//!
//! Service servers serve the schemas of their request and reply types, like publishers do. The
//! request type comes from `--type`, or from a schema (one a node serves, or a `--schema` file)
//! with a table declaring `vbus_service: "<key>"`: that table is the request, its `vbus_reply`
//! the reply. The request's type hash is recomputed from the schema.

use std::time::Duration;

use clap::Args;
use serde_json::json;
use vbus::CallError;
use vbus_reflect::did_you_mean;

use crate::{
    Failure, Result,
    cmd::publish::{encode, parse_json},
    ctx::{self, Ctx},
    render,
};

#[derive(Args, Debug)]
pub struct CallArgs {
    /// Service key, e.g. `body/set_drive_mode`.
    service: String,
    /// The request as JSON or JSON5; `-` reads it from stdin.
    #[arg(value_name = "JSON")]
    request: String,
    /// Request type (default: the table whose schema declares `vbus_service: "<SERVICE>"`).
    #[arg(long = "type", value_name = "TYPE")]
    type_name: Option<String>,
    /// Seconds to wait for the reply.
    #[arg(long, default_value_t = 2.0, value_name = "SECS")]
    timeout: f64,
}

pub async fn run(ctx: &Ctx, a: CallArgs) -> Result<()> {
    ctx::check_key(ctx.node.domain(), &a.service)?;
    let request = parse_json(&a.request)?;
    let (req_type, declared_reply) = match &a.type_name {
        Some(t) => (t.clone(), None),
        None => {
            let services = ctx.schemas.lock().await.services().await;
            match services.iter().find(|(k, _, _)| *k == a.service) {
                Some((_, req, rep)) => (req.clone(), rep.clone()),
                None => {
                    let mut f = Failure::new(format!("no served schema declares service `{}`", a.service));
                    if let Some(s) = did_you_mean(&a.service, services.iter().map(|s| s.0.as_str())) {
                        f = f.hint(format!("did you mean `{s}`?"));
                    } else if !services.is_empty() {
                        let known: Vec<&str> = services.iter().map(|s| s.0.as_str()).collect();
                        f = f.hint(format!("services declared in served schemas: {}", known.join(", ")));
                    }
                    return Err(f.hint(
                        "is its server running (`vbus nodes`)? Servers built with vbus serve their schemas; for \
                         others give the schema that declares it with --schema FILE.bfbs (e.g. the .bfbs \
                         vbus-codegen writes), or the request type with --type TYPE",
                    ));
                }
            }
        }
    };
    let entry = ctx.schemas.lock().await.get(&req_type).await.ok_or_else(|| {
        Failure::new(format!("no schema containing {req_type} is served or given"))
            .hint("give the request's schema with --schema FILE.bfbs")
    })?;
    entry.schema.table(&req_type)?;
    let payload = encode(&entry.schema, &req_type, &request)?;
    let timeout = Duration::from_secs_f64(a.timeout.max(0.01));
    let reply =
        ctx.node.raw_call(&a.service, entry.type_hash, &payload, timeout).await.map_err(|e| match e {
            CallError::NoServer { .. } => Failure::new(format!("no server answers `{}`", a.service))
                .hint("is the node serving it running? (`vbus nodes`)"),
            CallError::Refused { message, .. } => {
                Failure::new(format!("`{}` refused the request: {message}", a.service))
            }
            CallError::Timeout { .. } => {
                Failure::new(format!("no reply from `{}` within {} s", a.service, a.timeout))
            }
            other => Failure::new(other.to_string()),
        })?;
    let reply_type = reply
        .type_name()
        .map(str::to_owned)
        .or(declared_reply)
        .ok_or_else(|| Failure::new("the reply does not name its type and no schema declares it"))?;
    let reply_schema = if entry.schema.object(&reply_type).is_some() {
        entry.schema.clone()
    } else {
        match ctx.schemas.lock().await.get(&reply_type).await {
            Some(e) => e.schema.clone(),
            None => return Err(Failure::new(format!("no schema for the reply type {reply_type}"))),
        }
    };
    let mut note = None;
    if let (Ok(h), Some(expected)) = (reply.header(), reply_schema.type_hash(&reply_type))
        && h.type_hash != expected
    {
        note = Some(format!(
            "reply type hash {:#018x} differs from {expected:#018x} computed from the schema (schema mismatch)",
            h.type_hash
        ));
    }
    let data = vbus_reflect::decode_to_json(&reply_schema, &reply_type, reply.payload())
        .map_err(|e| Failure::new(format!("cannot decode the reply: {e}")))?;
    if ctx.json {
        let mut v =
            json!({"service": a.service, "request_type": req_type, "reply_type": reply_type, "reply": data});
        if let Some(n) = note {
            v["warning"] = json!(n);
        }
        println!("{v}");
    } else {
        println!("reply from {} ({reply_type}):", a.service);
        print!("{}", render::tree(&data, 2));
        if let Some(n) = note {
            println!("  (warning: {n})");
        }
    }
    Ok(())
}
