//! Cloud -> bus commands: parse, authorize against the allowlist, call the service, answer.
//!
//! Nothing reaches the bus unless its service key is listed exactly in `commands.allow`; every
//! refusal is answered (so the cloud knows), logged and counted. Command ids are remembered for a
//! while so that a QoS-1 redelivery of the same command is not executed twice.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::Arc,
    time::Duration,
};

use tokio::sync::{Semaphore, mpsc};
use vbus::Node;

use crate::{
    config::{CommandsConfig, parse_hash},
    format::{Command, Reply, Status},
    stats::Hub,
};

/// Command ids remembered for duplicate detection.
const RECENT_IDS: usize = 1024;

struct Allowed {
    hash: Option<u64>,
    timeout: Option<Duration>,
}

pub(crate) struct Downlink {
    node: Node,
    allow: HashMap<String, Allowed>,
    default_timeout: Duration,
    permits: Arc<Semaphore>,
    max_concurrent: usize,
    recent: VecDeque<String>,
    recent_set: HashSet<String>,
    replies: mpsc::UnboundedSender<Reply>,
    hub: Hub,
}

impl Downlink {
    pub(crate) fn new(
        node: Node,
        cfg: &CommandsConfig,
        replies: mpsc::UnboundedSender<Reply>,
        hub: Hub,
    ) -> Self {
        let allow = cfg
            .allow
            .iter()
            .map(|a| {
                let hash = a.request_type_hash.as_deref().map(|h| parse_hash(h).expect("validated hash"));
                (a.service.clone(), Allowed { hash, timeout: a.timeout_ms.map(Duration::from_millis) })
            })
            .collect();
        Self {
            node,
            allow,
            default_timeout: Duration::from_millis(cfg.default_timeout_ms),
            permits: Arc::new(Semaphore::new(cfg.max_concurrent)),
            max_concurrent: cfg.max_concurrent,
            recent: VecDeque::new(),
            recent_set: HashSet::new(),
            replies,
            hub,
        }
    }

    fn refuse(&self, id: String, service: Option<String>, reason: String) {
        tracing::warn!(%id, service = service.as_deref().unwrap_or("?"), %reason, "command refused");
        self.hub.update(|s| s.commands.refused += 1);
        let _ = self.replies.send(Reply {
            id,
            service,
            status: Status::Refused,
            reason: Some(reason),
            type_name: None,
            type_hash: None,
            payload: None,
        });
    }

    /// Handle one command message from the cloud. Returns at once; the call runs in a task.
    pub(crate) fn handle(&mut self, payload: &[u8]) {
        self.hub.update(|s| s.commands.received += 1);
        let cmd: Command = match serde_json::from_slice(payload) {
            Ok(c) => c,
            Err(e) => {
                // Echo the id if the JSON has one, so the cloud can match the refusal.
                let id = serde_json::from_slice::<serde_json::Value>(payload)
                    .ok()
                    .and_then(|v| v.get("id").and_then(|i| i.as_str()).map(str::to_owned))
                    .unwrap_or_default();
                return self.refuse(id, None, format!("malformed command: {e}"));
            }
        };
        let Some(allowed) = self.allow.get(&cmd.service) else {
            return self.refuse(
                cmd.id,
                Some(cmd.service.clone()),
                format!("service `{}` is not on the allowlist", cmd.service),
            );
        };
        let hash = match (allowed.hash, cmd.type_hash) {
            (Some(pinned), Some(given)) if pinned != given => {
                return self.refuse(
                    cmd.id,
                    Some(cmd.service),
                    format!("request type hash {given:016x} differs from the allowed {pinned:016x}"),
                );
            }
            (Some(h), _) | (None, Some(h)) => h,
            (None, None) => {
                return self.refuse(
                    cmd.id,
                    Some(cmd.service),
                    "no request type hash: give `type_hash`, or pin `request_type_hash` in the allowlist"
                        .into(),
                );
            }
        };
        if cmd.id.is_empty() {
            return self.refuse(cmd.id, Some(cmd.service), "empty command id".into());
        }
        if self.recent_set.contains(&cmd.id) {
            return self.refuse(cmd.id, Some(cmd.service), "duplicate command id: already handled".into());
        }
        let Ok(permit) = self.permits.clone().try_acquire_owned() else {
            return self.refuse(
                cmd.id,
                Some(cmd.service),
                format!("busy: {} commands are executing", self.max_concurrent),
            );
        };
        self.recent_set.insert(cmd.id.clone());
        self.recent.push_back(cmd.id.clone());
        if self.recent.len() > RECENT_IDS
            && let Some(old) = self.recent.pop_front()
        {
            self.recent_set.remove(&old);
        }
        let timeout =
            cmd.timeout_ms.map(Duration::from_millis).or(allowed.timeout).unwrap_or(self.default_timeout);
        let (node, replies, hub) = (self.node.clone(), self.replies.clone(), self.hub.clone());
        tokio::spawn(async move {
            let _permit = permit;
            tracing::info!(id = %cmd.id, service = %cmd.service, "command: calling the service");
            let reply = match node.raw_call(&cmd.service, hash, &cmd.payload, timeout).await {
                Ok(sample) => {
                    hub.update(|s| s.commands.ok += 1);
                    Reply {
                        id: cmd.id,
                        service: Some(cmd.service),
                        status: Status::Ok,
                        reason: None,
                        type_name: sample.type_name().map(str::to_owned),
                        type_hash: sample.header().ok().map(|h| h.type_hash),
                        payload: Some(sample.payload().to_vec()),
                    }
                }
                Err(e) => {
                    tracing::warn!(id = %cmd.id, service = %cmd.service, error = %e, "command failed on the bus");
                    hub.update(|s| s.commands.failed += 1);
                    Reply {
                        id: cmd.id,
                        service: Some(cmd.service),
                        status: Status::Failed,
                        reason: Some(e.to_string()),
                        type_name: None,
                        type_hash: None,
                        payload: None,
                    }
                }
            };
            let _ = replies.send(reply);
        });
    }
}
