//! Collection rules: which bus samples are queued for the cloud, and with what priority.
//!
//! The engine is synchronous and clock-free: it is fed samples (with their receipt time) and
//! ticks (with the current time), and reads numeric fields through a callback, so it is tested
//! without a bus, a schema server or real time.

use std::{
    collections::{HashMap, VecDeque},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use vbus::zenoh::key_expr::keyexpr;

use crate::config::{Op, RuleConfig, RuleMode};

/// Window rules keep at most this many samples for `before_ms` unless `max_buffer` says otherwise.
pub const DEFAULT_MAX_BUFFER: usize = 10_000;

/// A bus sample as the bridge keeps it (payload shared between rules' buffers).
#[derive(Debug)]
pub struct BusSample {
    /// Topic key relative to the domain.
    pub key: String,
    /// Type name from the encoding.
    pub type_name: Option<String>,
    /// Type hash from the header.
    pub type_hash: u64,
    /// Publisher id.
    pub publisher: u64,
    /// Sequence number.
    pub seq: u64,
    /// Source time (ns).
    pub source_time_ns: u64,
    /// Receipt time at the bridge (ns): the clock of periods and windows.
    pub received_ns: u64,
    /// FlatBuffers payload.
    pub payload: Vec<u8>,
    /// Set once a rule selected it, so that a later rule (a periodic tick, a window's
    /// look-back) does not queue it twice.
    selected: AtomicBool,
}

impl BusSample {
    /// Wrap a sample.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        key: String,
        type_name: Option<String>,
        type_hash: u64,
        publisher: u64,
        seq: u64,
        source_time_ns: u64,
        received_ns: u64,
        payload: Vec<u8>,
    ) -> Arc<Self> {
        Arc::new(Self {
            key,
            type_name,
            type_hash,
            publisher,
            seq,
            source_time_ns,
            received_ns,
            payload,
            selected: AtomicBool::new(false),
        })
    }

    /// Mark selected; true if it was not selected before.
    fn claim(&self) -> bool {
        !self.selected.swap(true, Ordering::Relaxed)
    }
}

/// A sample chosen for the queue.
#[derive(Clone, Debug)]
pub struct Selected {
    /// The sample.
    pub sample: Arc<BusSample>,
    /// Priority of the most important rule that chose it.
    pub priority: u8,
    /// That rule's name.
    pub rule: Arc<str>,
}

/// Reads a numeric field (dotted path) of a sample; errors are reasons for the log.
pub type ReadField<'a> = dyn FnMut(&BusSample, &str) -> Result<f64, String> + 'a;

enum State {
    All,
    Periodic {
        period_ns: u64,
        next_due: Option<u64>,
        /// Latest sample per key, and whether it arrived since the last period.
        latest: HashMap<String, (Arc<BusSample>, bool)>,
    },
    OnChange {
        field: String,
        deadband: f64,
        last_sent: HashMap<String, f64>,
    },
    Window {
        cond_key: String,
        field: String,
        op: Op,
        value: f64,
        before_ns: u64,
        after_ns: u64,
        max_buffer: usize,
        active_until: Option<u64>,
        buffer: VecDeque<Arc<BusSample>>,
    },
}

struct Rule {
    name: Arc<str>,
    keys: String,
    priority: u8,
    state: State,
    unreadable: u64,
}

/// Counters of one rule.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RuleStats {
    /// Rule name.
    pub name: String,
    /// Samples the rule selected (including those another rule selected first).
    pub selected: u64,
    /// Samples whose field could not be read (no schema, unknown field, malformed payload).
    pub unreadable: u64,
    /// Times a window opened.
    pub triggers: u64,
}

/// The rules of one bridge.
pub struct Engine {
    rules: Vec<Rule>,
    stats: Vec<RuleStats>,
    /// key -> (rules collecting it, window rules whose condition watches it).
    routes: HashMap<String, (Vec<usize>, Vec<usize>)>,
}

fn matches(expr: &str, key: &str) -> bool {
    match (keyexpr::new(expr), keyexpr::new(key)) {
        (Ok(e), Ok(k)) => e.includes(k),
        _ => false,
    }
}

impl Engine {
    /// Build the engine from validated rules (see [`crate::Config::validate`]).
    pub fn new(rules: &[RuleConfig]) -> Self {
        let rules: Vec<Rule> = rules
            .iter()
            .map(|r| Rule {
                name: r.name.as_str().into(),
                keys: r.keys.clone(),
                priority: r.priority,
                unreadable: 0,
                state: match r.mode {
                    RuleMode::All => State::All,
                    RuleMode::Periodic => State::Periodic {
                        period_ns: r.period_ms.unwrap_or(1000) * 1_000_000,
                        next_due: None,
                        latest: HashMap::new(),
                    },
                    RuleMode::OnChange => State::OnChange {
                        field: r.field.clone().unwrap_or_default(),
                        deadband: r.deadband.unwrap_or(0.0),
                        last_sent: HashMap::new(),
                    },
                    RuleMode::Window => {
                        let c = r.condition.clone().expect("validated: window has a condition");
                        State::Window {
                            cond_key: c.key,
                            field: c.field,
                            op: c.op,
                            value: c.value,
                            before_ns: r.before_ms.unwrap_or(0) * 1_000_000,
                            after_ns: r.after_ms.unwrap_or(0) * 1_000_000,
                            max_buffer: r.max_buffer.unwrap_or(DEFAULT_MAX_BUFFER).max(1),
                            active_until: None,
                            buffer: VecDeque::new(),
                        }
                    }
                },
            })
            .collect();
        let stats =
            rules.iter().map(|r| RuleStats { name: r.name.to_string(), ..Default::default() }).collect();
        Self { rules, stats, routes: HashMap::new() }
    }

    /// The key expressions to subscribe to: every rule's `keys` and every condition's `key`,
    /// without those another one already includes.
    pub fn subscriptions(&self) -> Vec<String> {
        let mut all: Vec<String> = Vec::new();
        for r in &self.rules {
            all.push(r.keys.clone());
            if let State::Window { cond_key, .. } = &r.state {
                all.push(cond_key.clone());
            }
        }
        all.sort();
        all.dedup();
        let covered = |i: usize, e: &str| {
            all.iter().enumerate().any(|(j, o)| {
                j != i
                    && matches(o, e)
                    // of two equivalent expressions keep the first
                    && (!matches(e, o) || j < i)
            })
        };
        all.iter().enumerate().filter(|(i, e)| !covered(*i, e)).map(|(_, e)| e.clone()).collect()
    }

    fn route(&mut self, key: &str) -> (Vec<usize>, Vec<usize>) {
        if let Some(r) = self.routes.get(key) {
            return r.clone();
        }
        let mut collect = Vec::new();
        let mut watch = Vec::new();
        for (i, r) in self.rules.iter().enumerate() {
            if matches(&r.keys, key) {
                collect.push(i);
            }
            if let State::Window { cond_key, .. } = &r.state
                && matches(cond_key, key)
            {
                watch.push(i);
            }
        }
        self.routes.insert(key.to_owned(), (collect.clone(), watch.clone()));
        (collect, watch)
    }

    /// True if some rule reads a field of samples on `key` (so its schema must be fetched first).
    pub fn reads_fields_of(&mut self, key: &str) -> bool {
        let (collect, watch) = self.route(key);
        !watch.is_empty() || collect.iter().any(|&i| matches!(self.rules[i].state, State::OnChange { .. }))
    }

    /// Offer a sample; what is selected now is appended to `out`.
    pub fn on_sample(&mut self, s: &Arc<BusSample>, read: &mut ReadField<'_>, out: &mut Vec<Selected>) {
        let now = s.received_ns;
        let (collect, watch) = self.route(&s.key);
        // Conditions first: the sample that opens a window is part of it.
        for &i in &watch {
            let rule = &mut self.rules[i];
            let State::Window { field, op, value, before_ns, after_ns, active_until, buffer, .. } =
                &mut rule.state
            else {
                continue;
            };
            let holds = match read(s, field) {
                Ok(v) => op.holds(v, *value),
                Err(reason) => {
                    rule.unreadable += 1;
                    self.stats[i].unreadable += 1;
                    if rule.unreadable == 1 {
                        tracing::warn!(rule = %rule.name, key = %s.key, %reason, "cannot evaluate the condition (counted as unreadable)");
                    }
                    false
                }
            };
            if !holds {
                continue;
            }
            let was_active = active_until.is_some_and(|u| now <= u);
            *active_until = Some(now.saturating_add(*after_ns));
            if !was_active {
                self.stats[i].triggers += 1;
                let from = now.saturating_sub(*before_ns);
                for b in buffer.drain(..) {
                    if b.received_ns >= from {
                        self.stats[i].selected += 1;
                        if b.claim() {
                            out.push(Selected {
                                sample: b,
                                priority: rule.priority,
                                rule: rule.name.clone(),
                            });
                        }
                    }
                }
            }
        }
        let mut best: Option<(u8, Arc<str>)> = None;
        for &i in &collect {
            let rule = &mut self.rules[i];
            let chosen = match &mut rule.state {
                State::All => true,
                State::Periodic { latest, .. } => {
                    latest.insert(s.key.clone(), (s.clone(), true));
                    false
                }
                State::OnChange { field, deadband, last_sent } => match read(s, field) {
                    Ok(v) => {
                        let moved = last_sent.get(&s.key).is_none_or(|last| (v - last).abs() > *deadband);
                        if moved {
                            last_sent.insert(s.key.clone(), v);
                        }
                        moved
                    }
                    Err(reason) => {
                        rule.unreadable += 1;
                        self.stats[i].unreadable += 1;
                        if rule.unreadable == 1 {
                            tracing::warn!(rule = %rule.name, key = %s.key, %reason, "cannot read the field (counted as unreadable)");
                        }
                        false
                    }
                },
                State::Window { active_until, buffer, before_ns, max_buffer, .. } => {
                    if active_until.is_some_and(|u| now <= u) {
                        true
                    } else {
                        let from = now.saturating_sub(*before_ns);
                        while buffer.front().is_some_and(|b| b.received_ns < from)
                            || buffer.len() >= *max_buffer
                        {
                            buffer.pop_front();
                        }
                        if *before_ns > 0 {
                            buffer.push_back(s.clone());
                        }
                        false
                    }
                }
            };
            if chosen {
                self.stats[i].selected += 1;
                if best.as_ref().is_none_or(|(p, _)| rule.priority < *p) {
                    best = Some((rule.priority, rule.name.clone()));
                }
            }
        }
        if let Some((priority, rule)) = best
            && s.claim()
        {
            out.push(Selected { sample: s.clone(), priority, rule });
        }
    }

    /// Periodic rules emit at their period boundaries; call at (or after) [`Engine::next_due`].
    pub fn on_tick(&mut self, now: u64, out: &mut Vec<Selected>) {
        for (i, rule) in self.rules.iter_mut().enumerate() {
            let State::Periodic { period_ns, next_due, latest } = &mut rule.state else { continue };
            let due = *next_due.get_or_insert(now + *period_ns);
            if now < due {
                continue;
            }
            // Catch up without bursts if ticks were late: the next boundary after now.
            *next_due = Some(if now - due >= *period_ns { now + *period_ns } else { due + *period_ns });
            let mut fresh: Vec<Arc<BusSample>> = latest
                .values_mut()
                .filter(|(_, f)| *f)
                .map(|(s, f)| {
                    *f = false;
                    s.clone()
                })
                .collect();
            fresh.sort_by_key(|s| s.received_ns);
            for s in fresh {
                self.stats[i].selected += 1;
                if s.claim() {
                    out.push(Selected { sample: s, priority: rule.priority, rule: rule.name.clone() });
                }
            }
        }
    }

    /// When [`Engine::on_tick`] next has something to do (ns), if any rule is periodic.
    pub fn next_due(&mut self, now: u64) -> Option<u64> {
        self.rules
            .iter_mut()
            .filter_map(|r| match &mut r.state {
                State::Periodic { period_ns, next_due, .. } => {
                    Some(*next_due.get_or_insert(now + *period_ns))
                }
                _ => None,
            })
            .min()
    }

    /// Per-rule counters.
    pub fn stats(&self) -> Vec<RuleStats> {
        self.stats.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;

    const MS: u64 = 1_000_000;

    fn engine(rules: &str) -> Engine {
        Engine::new(&Config::from_json5(&format!("{{ rules: {rules} }}")).unwrap().rules)
    }

    /// A sample whose "value" is carried in the payload's first byte.
    fn sample(key: &str, seq: u64, at_ms: u64, value: u8) -> Arc<BusSample> {
        BusSample::new(key.into(), Some("t.T".into()), 1, 7, seq, at_ms * MS, at_ms * MS, vec![value])
    }

    fn read(s: &BusSample, field: &str) -> Result<f64, String> {
        match field {
            "v" => Ok(s.payload[0] as f64),
            other => Err(format!("no field {other}")),
        }
    }

    fn offer(e: &mut Engine, s: Arc<BusSample>) -> Vec<(u64, u8, String)> {
        let mut out = Vec::new();
        e.on_sample(&s, &mut read, &mut out);
        out.into_iter().map(|x| (x.sample.seq, x.priority, x.rule.to_string())).collect()
    }

    #[test]
    fn all_selects_matching_keys_once_with_best_priority() {
        let mut e = engine(
            "[{ name: 'a', keys: 'chassis/**', mode: 'all', priority: 7 },
              { name: 'b', keys: 'chassis/speed', mode: 'all', priority: 2 }]",
        );
        assert_eq!(e.subscriptions(), vec!["chassis/**".to_string()]);
        assert_eq!(offer(&mut e, sample("chassis/speed", 1, 0, 0)), vec![(1, 2, "b".into())]);
        assert_eq!(offer(&mut e, sample("chassis/yaw", 2, 0, 0)), vec![(2, 7, "a".into())]);
        assert!(offer(&mut e, sample("body/door", 3, 0, 0)).is_empty());
    }

    #[test]
    fn periodic_sends_the_latest_per_key_each_period() {
        let mut e = engine("[{ name: 'p', keys: '**', mode: 'periodic', period_ms: 100 }]");
        assert_eq!(e.next_due(0), Some(100 * MS));
        for (seq, at) in [(1, 10), (2, 50), (3, 90)] {
            assert!(offer(&mut e, sample("a", seq, at, 0)).is_empty());
        }
        offer(&mut e, sample("b", 10, 95, 0));
        let mut out = Vec::new();
        e.on_tick(99 * MS, &mut out);
        assert!(out.is_empty(), "not due yet");
        e.on_tick(100 * MS, &mut out);
        let got: Vec<_> = out.iter().map(|s| (s.sample.key.as_str(), s.sample.seq)).collect();
        assert_eq!(got, vec![("a", 3), ("b", 10)]);
        out.clear();
        e.on_tick(200 * MS, &mut out);
        assert!(out.is_empty(), "nothing new in the second period");
        offer(&mut e, sample("a", 4, 250, 0));
        e.on_tick(300 * MS, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(e.next_due(300 * MS), Some(400 * MS));
    }

    #[test]
    fn on_change_applies_the_deadband_to_the_last_sent_value() {
        let mut e = engine("[{ name: 'c', keys: '**', mode: 'on_change', field: 'v', deadband: 2 }]");
        let sent: Vec<u64> = [(1, 10), (2, 11), (3, 12), (4, 13), (5, 9), (6, 8), (7, 8)]
            .into_iter()
            .flat_map(|(seq, v)| offer(&mut e, sample("a", seq, seq, v)))
            .map(|x| x.0)
            .collect();
        // 10 first; 11, 12 within 2 of 10; 13 moves 3; 9 moves 4 from 13; 8 and 8 within 2 of 9.
        assert_eq!(sent, vec![1, 4, 5]);
        // Per key: another key starts fresh.
        assert_eq!(offer(&mut e, sample("b", 8, 8, 9)).len(), 1);
    }

    #[test]
    fn window_sends_before_and_after_the_condition() {
        let mut e = engine(
            "[{ name: 'w', keys: 'data/*', mode: 'window', priority: 1, before_ms: 100, after_ms: 50,
                condition: { key: 'speed', field: 'v', op: '>', value: 100 } }]",
        );
        let mut subs = e.subscriptions();
        subs.sort();
        assert_eq!(subs, vec!["data/*".to_string(), "speed".to_string()]);
        // Samples at 0..=300 ms every 20 ms; too old for the window at first.
        let mut sent = Vec::new();
        for seq in 0..10u64 {
            sent.extend(offer(&mut e, sample("data/x", seq, seq * 20, 0)));
        }
        assert!(sent.is_empty());
        // Speed 90 at 190: no trigger. Speed 120 at 200: trigger; the buffer from 100 on is sent.
        assert!(offer(&mut e, sample("speed", 100, 190, 90)).is_empty());
        let flushed: Vec<u64> =
            offer(&mut e, sample("speed", 101, 200, 120)).into_iter().map(|x| x.0).collect();
        assert_eq!(flushed, vec![5, 6, 7, 8, 9], "samples at 100..=180 ms");
        // While active (until 250) samples go straight through, priority 1.
        assert_eq!(offer(&mut e, sample("data/x", 10, 240, 0)), vec![(10, 1, "w".into())]);
        assert_eq!(offer(&mut e, sample("data/x", 11, 250, 0)).len(), 1);
        // After the window closes they are buffered again.
        assert!(offer(&mut e, sample("data/x", 12, 251, 0)).is_empty());
        assert_eq!(e.stats()[0].triggers, 1);
        // A condition that cannot be read counts, and does not trigger.
        let mut bad = engine(
            "[{ name: 'w', keys: '**', mode: 'window', condition: { key: 'speed', field: 'nope', op: '>', value: 1 } }]",
        );
        assert!(offer(&mut bad, sample("speed", 1, 1, 200)).is_empty());
        assert_eq!(bad.stats()[0].unreadable, 1);
    }

    #[test]
    fn window_buffer_is_bounded_and_not_sent_twice() {
        let mut e = engine(
            "[{ name: 'w', keys: 'd', mode: 'window', before_ms: 1000, max_buffer: 3,
                condition: { key: 'c', field: 'v', op: '>=', value: 1 } },
              { name: 'p', keys: 'd', mode: 'periodic', period_ms: 10 }]",
        );
        assert_eq!(e.next_due(0), Some(10 * MS));
        for seq in 0..6u64 {
            offer(&mut e, sample("d", seq, seq, 0));
        }
        // The periodic rule already sent seq 5 at its tick.
        let mut out = Vec::new();
        e.on_tick(10 * MS, &mut out);
        assert_eq!(out.iter().map(|s| s.sample.seq).collect::<Vec<_>>(), vec![5]);
        let flushed: Vec<u64> = offer(&mut e, sample("c", 100, 7, 1)).into_iter().map(|x| x.0).collect();
        assert_eq!(flushed, vec![3, 4], "the last 3 buffered, without the one already sent");
    }
}
