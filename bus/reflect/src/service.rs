//! Services declared in a schema: the request table carries `vbus_service: "<key>"` and names
//! its reply with `vbus_reply`. Services have no liveliness token, so tools and bindings find
//! them (and their request and reply types) through the schemas servers serve.

use crate::Schema;

/// A service a schema declares.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceDecl {
    /// Service key, relative to the domain (`body/set_drive_mode`).
    pub key: String,
    /// Fully qualified request table (the table with the `vbus_service` attribute).
    pub request: String,
    /// Fully qualified reply table, from `vbus_reply` (resolved as flatc resolves names, see
    /// [`Schema::qualify`]); `None` when the request does not name one.
    pub reply: Option<String>,
}

impl Schema {
    /// Every service this schema declares, sorted by key.
    pub fn services(&self) -> Vec<ServiceDecl> {
        let mut out: Vec<ServiceDecl> = self
            .objects
            .iter()
            .filter_map(|o| {
                let key = o.attr("vbus_service")?;
                Some(ServiceDecl {
                    key: key.to_owned(),
                    request: o.name.clone(),
                    reply: o.attr("vbus_reply").map(|r| self.qualify(&o.name, r)),
                })
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Resolve a type name written in the schema next to `context` (`SetDriveModeReply` next to
    /// `demo.vehicle.SetDriveMode` is `demo.vehicle.SetDriveModeReply`): a name this schema has
    /// as written, else in the enclosing namespaces of `context`, innermost first. A name this
    /// schema lacks (a per-type schema holds only what its root needs, and a request does not
    /// contain its reply) is taken in the namespace of `context`, as flatc resolves it.
    pub fn qualify(&self, context: &str, name: &str) -> String {
        if self.object(name).is_some() {
            return name.to_owned();
        }
        let mut ns: Vec<&str> = context.split('.').collect();
        ns.pop();
        while !ns.is_empty() {
            let candidate = format!("{}.{name}", ns.join("."));
            if self.object(&candidate).is_some() {
                return candidate;
            }
            ns.pop();
        }
        match context.rsplit_once('.') {
            Some((namespace, _)) if !name.contains('.') => format!("{namespace}.{name}"),
            _ => name.to_owned(),
        }
    }
}
