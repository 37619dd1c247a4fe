//! From statements to a database: resolves the cross references (`CM_`,
//! `BA_`, `VAL_`, `SIG_VALTYPE_`, `SG_MUL_VAL_`, ... name messages by raw ID
//! and signals by DBC name), applies long names, and works out multiplexing,
//! CAN FD and cycle times. Dangling references are ignored with a warning.

use std::collections::HashMap;

use crate::error::Warning;
use crate::model::{
    AttributeDefinition, AttributeType, AttributeValue, Attributes, ByteOrder, Database, EnvironmentVariable,
    Message, Multiplexing, MuxCondition, Node, RelationAttribute, RelationTarget, Signal, SignalGroup,
    ValueRange, ValueTable, ValueType, mux_cycle_cuts,
};
use crate::parser::{Lit, MuxMark, Raw, RawMessage, RawValTable, RelTarget, Target, parse_i64_lenient};

/// Frame formats of the standard `VFrameFormat` enumeration, used when a file
/// declares the attribute as INT.
const VFRAMEFORMAT: [&str; 16] = [
    "StandardCAN",
    "ExtendedCAN",
    "reserved",
    "J1939PG",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "StandardCAN_FD",
    "ExtendedCAN_FD",
];

/// Pseudo message Vector tools use to hold signals not sent in any frame.
const INDEPENDENT_SIGNALS: &str = "VECTOR__INDEPENDENT_SIG_MSG";

pub(crate) fn build(raw: Raw, warnings: Vec<Warning>) -> Database {
    let mut r = Resolver { warnings, defs: Vec::new() };
    r.run(raw)
}

struct Resolver {
    warnings: Vec<Warning>,
    defs: Vec<AttributeDefinition>,
}

/// `SG_MUL_VAL_` by (raw message ID, signal): (multiplexer, ranges, line).
type MulVals = HashMap<(u64, String), (String, Vec<(u64, u64)>, usize)>;

/// The signal `name` (DBC name) of the message with DBC ID `raw_id`.
fn signal_mut<'a>(
    drafts: &'a mut [Draft],
    by_raw_id: &HashMap<u64, usize>,
    raw_id: &u64,
    name: &str,
) -> Option<&'a mut Signal> {
    let i = *by_raw_id.get(raw_id)?;
    drafts[i].message.signals.iter_mut().find(|x| x.dbc_name == name)
}

/// A message under construction, with the markers the model does not keep.
struct Draft {
    message: Message,
    raw_id: u64,
    marks: Vec<MuxMark>,
}

impl Resolver {
    fn warn(&mut self, line: usize, message: impl Into<String>) {
        self.warnings.push(Warning { line, message: message.into() });
    }

    fn def(&self, name: &str) -> Option<&AttributeDefinition> {
        self.defs.iter().find(|d| d.name == name)
    }

    fn run(&mut self, raw: Raw) -> Database {
        let mut db = Database::default();
        db.version = raw.version;

        for d in raw.attr_defs {
            let def = AttributeDefinition { name: d.name, object: d.object, kind: d.kind, default: None };
            // A redefinition replaces the earlier one, as later statements win in DBC.
            match self.defs.iter_mut().find(|x| x.name == def.name) {
                Some(old) => *old = def,
                None => self.defs.push(def),
            }
        }
        for (name, lit, line) in raw.attr_defaults {
            match self.defs.iter().position(|d| d.name == name) {
                Some(i) => {
                    let value = self.typed(&name, &self.defs[i].kind.clone(), lit, line);
                    self.defs[i].default = Some(value);
                }
                None => {
                    self.warn(line, format!("default for attribute \"{name}\" that has no BA_DEF_; ignored"))
                }
            }
        }

        let mut nodes: Vec<Node> = raw
            .nodes
            .into_iter()
            .map(|n| Node { name: n.clone(), dbc_name: n, comment: None, attributes: Attributes::new() })
            .collect();

        let mut env_vars: Vec<EnvironmentVariable> = raw
            .env_vars
            .into_iter()
            .map(|e| EnvironmentVariable {
                name: e.name.clone(),
                dbc_name: e.name,
                kind: e.kind,
                min: e.min,
                max: e.max,
                unit: e.unit,
                initial: e.initial,
                ev_id: e.ev_id,
                access_type: e.access_type,
                access_nodes: e.access_nodes,
                comment: None,
                value_descriptions: ValueTable::new(),
                attributes: Attributes::new(),
            })
            .collect();

        let mut drafts = self.messages(raw.messages);
        let by_raw_id = self.raw_id_index(&drafts);

        // Attributes first: long names and frame formats depend on them.
        for a in raw.attrs {
            let value = self.value(&a.name, a.value, a.line);
            let slot = match &a.target {
                Target::Network => Some(&mut db.attributes),
                Target::Node(n) => nodes.iter_mut().find(|x| &x.dbc_name == n).map(|x| &mut x.attributes),
                Target::EnvVar(n) => {
                    env_vars.iter_mut().find(|x| &x.dbc_name == n).map(|x| &mut x.attributes)
                }
                Target::Message(id) => by_raw_id.get(id).map(|&i| &mut drafts[i].message.attributes),
                Target::Signal(id, s) => {
                    signal_mut(&mut drafts, &by_raw_id, id, s).map(|x| &mut x.attributes)
                }
            };
            match slot {
                Some(attrs) => {
                    attrs.insert(a.name, value);
                }
                None => self.warn(
                    a.line,
                    format!(
                        "BA_ \"{}\" names {}, which does not exist; ignored",
                        a.name,
                        describe(&a.target)
                    ),
                ),
            }
        }

        let node_long: HashMap<String, String> = nodes
            .iter_mut()
            .filter_map(|n| {
                let long = long_name(&n.attributes, "SystemNodeLongSymbol")?;
                n.name = long.clone();
                Some((n.dbc_name.clone(), long))
            })
            .collect();
        let node_name = |n: &str| node_long.get(n).cloned().unwrap_or_else(|| n.to_owned());
        for e in &mut env_vars {
            if let Some(long) = long_name(&e.attributes, "SystemEnvVarLongSymbol") {
                e.name = long;
            }
            e.access_nodes = e.access_nodes.iter().map(|n| node_name(n)).collect();
        }
        for d in &mut drafts {
            let m = &mut d.message;
            if let Some(long) = long_name(&m.attributes, "SystemMessageLongSymbol") {
                m.name = long;
            }
            for s in &mut m.signals {
                if let Some(long) = long_name(&s.attributes, "SystemSignalLongSymbol") {
                    s.name = long;
                }
                s.receivers = s.receivers.iter().map(|n| node_name(n)).collect();
            }
            m.senders = m.senders.iter().map(|n| node_name(n)).collect();
        }

        for (raw_id, tx) in raw.tx_bu {
            if let Some(&i) = by_raw_id.get(&raw_id) {
                for n in tx {
                    let n = node_name(&n);
                    let senders = &mut drafts[i].message.senders;
                    if n != "Vector__XXX" && !senders.contains(&n) {
                        senders.push(n);
                    }
                }
            }
        }

        for (target, text, line) in raw.comments {
            if let Target::Network = target {
                // Files meant to have one; keep every one if there are more.
                db.comment = Some(match db.comment.take() {
                    Some(earlier) => format!("{earlier}\n{text}"),
                    None => text,
                });
                continue;
            }
            let slot = match &target {
                Target::Network => None,
                Target::Node(n) => nodes.iter_mut().find(|x| &x.dbc_name == n).map(|x| &mut x.comment),
                Target::EnvVar(n) => env_vars.iter_mut().find(|x| &x.dbc_name == n).map(|x| &mut x.comment),
                Target::Message(id) => by_raw_id.get(id).map(|&i| &mut drafts[i].message.comment),
                Target::Signal(id, s) => signal_mut(&mut drafts, &by_raw_id, id, s).map(|x| &mut x.comment),
            };
            match slot {
                Some(c) => *c = Some(text),
                None => {
                    self.warn(line, format!("CM_ for {}, which does not exist; ignored", describe(&target)))
                }
            }
        }

        for v in raw.vals {
            let table: ValueTable = v.entries.into_iter().collect();
            let slot = match &v.target {
                Target::EnvVar(n) => {
                    env_vars.iter_mut().find(|x| &x.dbc_name == n).map(|x| &mut x.value_descriptions)
                }
                Target::Signal(id, s) => {
                    signal_mut(&mut drafts, &by_raw_id, id, s).map(|x| &mut x.value_descriptions)
                }
                _ => None,
            };
            match slot {
                Some(t) => *t = table,
                None => self
                    .warn(v.line, format!("VAL_ for {}, which does not exist; ignored", describe(&v.target))),
            }
        }

        for RawValTable { name, entries, line } in raw.val_tables {
            if db.value_tables.insert(name.clone(), entries.into_iter().collect()).is_some() {
                self.warn(line, format!("VAL_TABLE_ {name} defined again; the later one is kept"));
            }
        }

        for (raw_id, signal, kind, line) in raw.valtypes {
            let Some(s) = signal_mut(&mut drafts, &by_raw_id, &raw_id, &signal) else {
                self.warn(line, format!("SIG_VALTYPE_ for signal '{signal}' of message {raw_id}, which does not exist; ignored"));
                continue;
            };
            let (value_type, bits) = match kind {
                0 => (ValueType::Integer, s.length),
                1 => (ValueType::Float32, 32),
                2 => (ValueType::Float64, 64),
                _ => {
                    self.warn(
                        line,
                        format!("SIG_VALTYPE_ {kind} of signal '{signal}' is not 0, 1 or 2; ignored"),
                    );
                    continue;
                }
            };
            if s.length != bits {
                let len = s.length;
                self.warn(line, format!("SIG_VALTYPE_ {kind} needs a {bits}-bit signal but '{signal}' has {len} bits; kept as an integer"));
                continue;
            }
            s.value_type = value_type;
        }

        for g in raw.sig_groups {
            match by_raw_id.get(&g.raw_id) {
                Some(&i) => {
                    let m = &mut drafts[i].message;
                    let signals = g
                        .signals
                        .iter()
                        .map(|n| {
                            m.signals
                                .iter()
                                .find(|s| &s.dbc_name == n)
                                .map_or_else(|| n.clone(), |s| s.name.clone())
                        })
                        .collect();
                    m.signal_groups.push(SignalGroup { name: g.name, repetitions: g.repetitions, signals });
                }
                None => self.warn(
                    g.line,
                    format!("SIG_GROUP_ {} for message {}, which does not exist; ignored", g.name, g.raw_id),
                ),
            }
        }

        let mut mul_vals = MulVals::new();
        for mv in raw.mul_vals {
            if !by_raw_id.contains_key(&mv.raw_id) {
                self.warn(
                    mv.line,
                    format!("SG_MUL_VAL_ for message {}, which does not exist; ignored", mv.raw_id),
                );
                continue;
            }
            let key = (mv.raw_id, mv.signal.clone());
            match mul_vals.get_mut(&key) {
                Some((mux, ranges, _)) if *mux == mv.mux => ranges.extend(mv.ranges),
                Some(entry) => {
                    self.warn(mv.line, format!("second SG_MUL_VAL_ for signal '{}' names another multiplexer; it replaces the first", mv.signal));
                    *entry = (mv.mux, mv.ranges, mv.line);
                }
                None => {
                    mul_vals.insert(key, (mv.mux, mv.ranges, mv.line));
                }
            }
        }

        let frame_format_def = self.def("VFrameFormat").cloned();
        let bus_type_fd = db
            .attributes
            .get("BusType")
            .or_else(|| self.def("BusType")?.default.as_ref())
            .and_then(AttributeValue::as_str)
            .is_some_and(|s| s.eq_ignore_ascii_case("CAN FD"));
        let cycle_default = self.def("GenMsgCycleTime").and_then(|d| d.default.clone());

        let mut messages = Vec::with_capacity(drafts.len());
        for d in &mut drafts {
            self.multiplexing(d, &mul_vals);
            let m = &mut d.message;
            m.cycle_time_ms =
                m.attributes.get("GenMsgCycleTime").or(cycle_default.as_ref()).and_then(cycle_time);
            let fd_format = match m.attributes.get("VFrameFormat") {
                Some(v) => Some(frame_format(v, frame_format_def.as_ref())),
                None => frame_format_def
                    .as_ref()
                    .and_then(|def| def.default.as_ref())
                    .map(|v| frame_format(v, frame_format_def.as_ref())),
            };
            m.is_fd = fd_format.flatten().map_or(bus_type_fd, |f| f.ends_with("CAN_FD")) || m.size > 8;
        }
        for d in drafts {
            self.check_layout(&d.message);
            messages.push(d.message);
        }

        let mut seen: HashMap<(u32, bool), usize> = HashMap::new();
        for m in &messages {
            if let Some(first) = seen.insert((m.id, m.extended), m.line) {
                let kind = if m.extended { "extended" } else { "standard" };
                self.warn(m.line, format!("message '{}' reuses {kind} ID 0x{:X} of the message at line {first}; lookups find the first", m.name, m.id));
            }
        }

        for a in raw.rel_attrs {
            let value = self.value(&a.name, a.value, a.line);
            let message = |raw_id: &u64| by_raw_id.get(raw_id).map(|&i| &messages[i]);
            let target = match &a.target {
                RelTarget::EnvVar(e) => Some(RelationTarget::EnvironmentVariable(e.clone())),
                RelTarget::Message(id) => {
                    message(id).map(|m| RelationTarget::Message { id: m.id, extended: m.extended })
                }
                RelTarget::Signal(id, s) => message(id).and_then(|m| {
                    let sig = m.signals.iter().find(|x| &x.dbc_name == s)?;
                    Some(RelationTarget::Signal { id: m.id, extended: m.extended, signal: sig.name.clone() })
                }),
            };
            match target {
                Some(target) => db.relation_attributes.push(RelationAttribute {
                    name: a.name,
                    node: node_name(&a.node),
                    target,
                    value,
                }),
                None => self.warn(
                    a.line,
                    format!("BA_REL_ \"{}\" names an object that does not exist; ignored", a.name),
                ),
            }
        }

        db.nodes = nodes;
        db.environment_variables = env_vars;
        db.attribute_definitions = std::mem::take(&mut self.defs);
        db.warnings = std::mem::take(&mut self.warnings);
        db.warnings.sort_by_key(|w| w.line);
        Database::from_parts(db, messages)
    }

    fn messages(&mut self, raw: Vec<RawMessage>) -> Vec<Draft> {
        let mut out = Vec::with_capacity(raw.len());
        for rm in raw {
            if rm.name == INDEPENDENT_SIGNALS {
                continue;
            }
            let Some((id, extended)) = self.frame_id(&rm) else { continue };
            let size = usize::try_from(rm.size).unwrap_or(usize::MAX);
            if size > 64 {
                self.warn(
                    rm.line,
                    format!("message '{}' declares {size} bytes, more than the 64 of CAN FD", rm.name),
                );
            }
            let mut signals = Vec::with_capacity(rm.signals.len());
            let mut marks = Vec::with_capacity(rm.signals.len());
            for rs in rm.signals {
                if rs.length == 0 || rs.length > 64 {
                    self.warn(
                        rs.line,
                        format!(
                            "signal '{}' has {} bits; only 1 to 64 are supported, signal ignored",
                            rs.name, rs.length
                        ),
                    );
                    continue;
                }
                let Ok(start_bit) = u16::try_from(rs.start) else {
                    self.warn(
                        rs.line,
                        format!(
                            "signal '{}' starts at bit {}, beyond any CAN payload; signal ignored",
                            rs.name, rs.start
                        ),
                    );
                    continue;
                };
                let unspecified = rs.min == 0.0 && rs.max == 0.0;
                marks.push(rs.mux);
                signals.push(Signal {
                    name: rs.name.clone(),
                    dbc_name: rs.name,
                    start_bit,
                    length: rs.length as u8,
                    byte_order: if rs.big_endian { ByteOrder::BigEndian } else { ByteOrder::LittleEndian },
                    signed: rs.signed,
                    value_type: ValueType::Integer,
                    factor: rs.factor,
                    offset: rs.offset,
                    min: (!unspecified).then_some(rs.min),
                    max: (!unspecified).then_some(rs.max),
                    unit: rs.unit,
                    receivers: rs.receivers.into_iter().filter(|r| r != "Vector__XXX").collect(),
                    comment: None,
                    multiplexing: Multiplexing::default(),
                    value_descriptions: ValueTable::new(),
                    attributes: Attributes::new(),
                    line: rs.line,
                });
            }
            let mut seen = HashMap::new();
            for s in &signals {
                if let Some(first) = seen.insert(s.dbc_name.as_str(), s.line) {
                    self.warn(
                        s.line,
                        format!(
                            "message '{}' has a second signal '{}' (first at line {first})",
                            rm.name, s.dbc_name
                        ),
                    );
                }
            }
            let senders = rm.sender.into_iter().filter(|s| s != "Vector__XXX").collect();
            out.push(Draft {
                message: Message {
                    id,
                    extended,
                    name: rm.name.clone(),
                    dbc_name: rm.name,
                    size,
                    is_fd: false,
                    cycle_time_ms: None,
                    senders,
                    comment: None,
                    signals,
                    signal_groups: Vec::new(),
                    attributes: Attributes::new(),
                    line: rm.line,
                },
                raw_id: rm.raw_id,
                marks,
            });
        }
        out
    }

    /// Splits the DBC ID into CAN ID and frame format. Bit 31 flags 29-bit
    /// IDs; IDs above 0x7FF without it can only be extended, so they are
    /// taken as such with a warning (some opendbc files omit the flag).
    fn frame_id(&mut self, rm: &RawMessage) -> Option<(u32, bool)> {
        let (raw, name) = (rm.raw_id, &rm.name);
        if raw > u64::from(u32::MAX) {
            self.warn(
                rm.line,
                format!("message '{name}' has ID {raw}, which does not fit in 32 bits; message ignored"),
            );
            return None;
        }
        let id = (raw & 0x7FFF_FFFF) as u32;
        if raw & 0x8000_0000 != 0 {
            if id > 0x1FFF_FFFF {
                self.warn(rm.line, format!("message '{name}' has extended ID 0x{id:X}, which does not fit in 29 bits; message ignored"));
                return None;
            }
            return Some((id, true));
        }
        if id <= 0x7FF {
            return Some((id, false));
        }
        if id <= 0x1FFF_FFFF {
            self.warn(
                rm.line,
                format!("message '{name}' has ID {raw} (0x{id:X}), more than 11 bits, without the extended flag 0x80000000; taken as a 29-bit extended ID"),
            );
            return Some((id, true));
        }
        self.warn(
            rm.line,
            format!(
                "message '{name}' has ID {raw} (0x{id:X}), which fits neither 11 nor 29 bits; message ignored"
            ),
        );
        None
    }

    fn raw_id_index(&mut self, drafts: &[Draft]) -> HashMap<u64, usize> {
        let mut index = HashMap::new();
        for (i, d) in drafts.iter().enumerate() {
            index.entry(d.raw_id).or_insert(i);
        }
        index
    }

    /// The value of attribute `name`, typed by its definition if it has one.
    fn value(&mut self, name: &str, lit: Lit, line: usize) -> AttributeValue {
        match self.def(name).map(|d| d.kind.clone()) {
            Some(kind) => self.typed(name, &kind, lit, line),
            None => untyped(lit),
        }
    }

    /// Gives a literal the type of its attribute definition.
    fn typed(&mut self, name: &str, kind: &AttributeType, lit: Lit, line: usize) -> AttributeValue {
        match (kind, lit) {
            (AttributeType::Int { .. } | AttributeType::Hex { .. }, Lit::Num(t)) => int_value(&t),
            (AttributeType::Float { .. }, Lit::Num(t)) => {
                AttributeValue::Float(t.parse().unwrap_or(f64::NAN))
            }
            (AttributeType::String, Lit::Num(t)) => AttributeValue::String(t),
            (AttributeType::String, Lit::Str(s)) => AttributeValue::String(s),
            (AttributeType::Enum(labels), Lit::Num(t)) => {
                match parse_i64_lenient(&t).and_then(|i| usize::try_from(i).ok()) {
                    Some(i) if i < labels.len() => AttributeValue::Enum(labels[i].clone()),
                    _ => {
                        self.warn(line, format!("value {t} of ENUM attribute \"{name}\" is not an index of its {} labels; kept as a number", labels.len()));
                        int_value(&t)
                    }
                }
            }
            (AttributeType::Enum(_), Lit::Str(s)) => AttributeValue::Enum(s),
            // Numbers written as strings: keep the number when it is one.
            (AttributeType::Int { .. } | AttributeType::Hex { .. }, Lit::Str(s)) => {
                if s.trim().parse::<f64>().is_ok() { int_value(s.trim()) } else { AttributeValue::String(s) }
            }
            (AttributeType::Float { .. }, Lit::Str(s)) => match s.trim().parse::<f64>() {
                Ok(v) => AttributeValue::Float(v),
                Err(_) => AttributeValue::String(s),
            },
        }
    }

    /// Works out each signal's multiplexing role, following cantools (the
    /// reference decoder) where DBC leaves room for interpretation:
    /// * with exactly one multiplexer (`M` or `mNM`) in the message, `mN`
    ///   signals are selected by it for value N, plus any `SG_MUL_VAL_`
    ///   ranges naming it;
    /// * with several, only `SG_MUL_VAL_` says which switch selects a signal,
    ///   and for which value ranges (cascaded and independent multiplexers).
    fn multiplexing(&mut self, d: &mut Draft, mul_vals: &MulVals) {
        let msg_name = d.message.name.clone();
        let signals = &mut d.message.signals;
        let switches: Vec<usize> = (0..signals.len())
            .filter(|&i| matches!(d.marks[i], MuxMark::Multiplexer | MuxMark::MultiplexedMultiplexer(_)))
            .collect();
        let simple = (switches.len() == 1).then(|| switches[0]);
        let mut warnings = Vec::new();
        let index_of = |name: &str| signals.iter().position(|s| s.dbc_name == name);
        let mut conds: Vec<Option<MuxCondition>> = vec![None; signals.len()];
        for i in 0..signals.len() {
            let name = &signals[i].dbc_name;
            let line = signals[i].line;
            let extended = mul_vals.get(&(d.raw_id, name.clone()));
            let ranges =
                |r: &[(u64, u64)]| r.iter().map(|&(min, max)| ValueRange { min, max }).collect::<Vec<_>>();
            conds[i] = match (d.marks[i], simple, extended) {
                (MuxMark::None, _, Some((_, _, l))) => {
                    warnings.push((
                        *l,
                        format!(
                            "SG_MUL_VAL_ for signal '{name}', which has no multiplexer indicator; ignored"
                        ),
                    ));
                    None
                }
                (MuxMark::None, _, None) => None,
                (MuxMark::Multiplexer, Some(_), _) => None,
                (MuxMark::Multiplexed(n) | MuxMark::MultiplexedMultiplexer(n), Some(m), ext) if m != i => {
                    let mut values = vec![ValueRange { min: n, max: n }];
                    if let Some((mux, r, l)) = ext {
                        if *mux == signals[m].dbc_name {
                            values.extend(ranges(r));
                        } else {
                            warnings.push((*l, format!("SG_MUL_VAL_ for signal '{name}' names '{mux}', but '{}' is the only multiplexer of the message; ignored", signals[m].dbc_name)));
                        }
                    }
                    Some(MuxCondition { multiplexer: m, values })
                }
                (_, Some(_), _) => None,
                (_, None, Some((mux, r, l))) => match index_of(mux) {
                    Some(m) if m != i => Some(MuxCondition { multiplexer: m, values: ranges(r) }),
                    _ => {
                        warnings.push((*l, format!("SG_MUL_VAL_ for signal '{name}' names multiplexer '{mux}', which is not another signal of the message; ignored")));
                        None
                    }
                },
                (MuxMark::Multiplexer, None, None) => None,
                (MuxMark::Multiplexed(n) | MuxMark::MultiplexedMultiplexer(n), None, None) => {
                    let why = if switches.is_empty() {
                        "the message has no multiplexer (M)".to_owned()
                    } else {
                        format!(
                            "the message has {} multiplexers and no SG_MUL_VAL_ says which one selects it",
                            switches.len()
                        )
                    };
                    warnings.push((
                        line,
                        format!("signal '{name}' is marked m{n} but {why}; taken as always present"),
                    ));
                    None
                }
            };
        }
        // A switch is a multiplexer even if its own line lacks the M.
        for i in 0..signals.len() {
            if let Some(m) = conds[i].as_ref().map(|c| c.multiplexer)
                && !switches.contains(&m)
            {
                let (s, mux) = (&signals[i].dbc_name, &signals[m].dbc_name);
                let text = format!(
                    "signal '{s}' is selected by '{mux}', which is not marked as a multiplexer; taken as one"
                );
                warnings.push((signals[i].line, text));
            }
        }
        // Break cycles (A selected by B selected by A).
        for i in mux_cycle_cuts(conds.iter().map(|c| c.as_ref().map(|c| c.multiplexer)).collect()) {
            let text = format!(
                "multiplexing of signal '{}' is circular; taken as always present",
                signals[i].dbc_name
            );
            warnings.push((signals[i].line, text));
            conds[i] = None;
        }
        let mut is_switch: Vec<bool> = (0..signals.len()).map(|i| switches.contains(&i)).collect();
        for c in conds.iter().flatten() {
            is_switch[c.multiplexer] = true;
        }
        for (i, s) in signals.iter_mut().enumerate() {
            s.multiplexing = Multiplexing { is_multiplexer: is_switch[i], multiplexed_by: conds[i].take() };
        }
        for (line, w) in warnings {
            self.warn(line, format!("message '{msg_name}': {w}"));
        }
    }

    fn check_layout(&mut self, m: &Message) {
        for s in &m.signals {
            let (lo, hi) = crate::plan::byte_span(s);
            if hi >= m.size {
                let order = match s.byte_order {
                    ByteOrder::LittleEndian => "Intel",
                    ByteOrder::BigEndian => "Motorola",
                };
                self.warn(
                    s.line,
                    format!(
                        "signal '{}' ({order}, start bit {}, {} bits) uses bytes {lo}..={hi} but message '{}' has {} bytes; frames where it is present cannot be decoded",
                        s.name, s.start_bit, s.length, m.name, m.size
                    ),
                );
            }
        }
    }
}

fn describe(t: &Target) -> String {
    match t {
        Target::Network => "the network".into(),
        Target::Node(n) => format!("node '{n}'"),
        Target::Message(id) => format!("message {id}"),
        Target::Signal(id, s) => format!("signal '{s}' of message {id}"),
        Target::EnvVar(e) => format!("environment variable '{e}'"),
    }
}

fn long_name(attrs: &Attributes, key: &str) -> Option<String> {
    attrs.get(key).and_then(AttributeValue::as_str).filter(|s| !s.is_empty()).map(str::to_owned)
}

fn untyped(lit: Lit) -> AttributeValue {
    match lit {
        Lit::Num(t) => {
            if t.contains(['.', 'e', 'E']) {
                AttributeValue::Float(t.parse().unwrap_or(f64::NAN))
            } else {
                int_value(&t)
            }
        }
        Lit::Str(s) => AttributeValue::String(s),
    }
}

/// An INT/HEX attribute value; files write 64-bit bounds as floats
/// (`1.84467440737096E+019`), which stay floats when they exceed `i64`.
fn int_value(text: &str) -> AttributeValue {
    match parse_i64_lenient(text) {
        Some(v) => AttributeValue::Int(v),
        None => AttributeValue::Float(text.parse().unwrap_or(f64::NAN)),
    }
}

fn cycle_time(v: &AttributeValue) -> Option<u32> {
    let ms = v.as_f64()?;
    (ms > 0.0 && ms <= f64::from(u32::MAX)).then_some(ms as u32)
}

/// The frame format label of a `VFrameFormat` value: the ENUM label, or for
/// files declaring it as INT, the label of the standard enumeration.
fn frame_format(v: &AttributeValue, def: Option<&AttributeDefinition>) -> Option<String> {
    match v {
        AttributeValue::Enum(s) | AttributeValue::String(s) => Some(s.clone()),
        AttributeValue::Int(i) => {
            let labels: Vec<String> = match def.map(|d| &d.kind) {
                Some(AttributeType::Enum(l)) => l.clone(),
                _ => VFRAMEFORMAT.iter().map(|s| (*s).to_owned()).collect(),
            };
            usize::try_from(*i).ok().and_then(|i| labels.get(i).cloned())
        }
        AttributeValue::Float(_) => None,
    }
}
