//! `vbus nodes`: nodes alive in the domain (liveliness) and their endpoints.

use std::collections::BTreeMap;

use serde_json::json;

use crate::{Result, ctx::Ctx};

pub async fn run(ctx: &Ctx) -> Result<()> {
    let me = ctx.node.name().to_owned();
    let mut names: Vec<String> = ctx
        .node
        .alive_nodes()
        .await?
        .into_iter()
        .filter(|n| *n != me && !n.starts_with("vbus-cli-"))
        .collect();
    let topics = ctx.topics().await?;
    // Endpoints of nodes whose liveliness token we did not get (yet) still show.
    for t in &topics {
        if !names.contains(&t.node) {
            names.push(t.node.clone());
        }
    }
    names.sort();
    /// (key, type) of the endpoints of one node.
    type Endpoints<'a> = Vec<(&'a str, &'a str)>;
    let mut by_node: BTreeMap<&str, (Endpoints<'_>, Endpoints<'_>)> = BTreeMap::new();
    for n in &names {
        by_node.entry(n).or_default();
    }
    for t in &topics {
        let e = by_node.entry(&t.node).or_default();
        let list = if t.publisher { &mut e.0 } else { &mut e.1 };
        list.push((&t.key, &t.type_name));
    }
    if ctx.json {
        let list: Vec<_> = by_node
            .iter()
            .map(|(name, (p, s))| {
                let ep = |v: &Vec<(&str, &str)>| {
                    v.iter().map(|(k, t)| json!({"key": k, "type": t})).collect::<Vec<_>>()
                };
                json!({"name": name, "publishes": ep(p), "subscribes": ep(s)})
            })
            .collect();
        println!("{}", serde_json::Value::Array(list));
        return Ok(());
    }
    if by_node.is_empty() {
        println!("no node is alive in domain `{}`", ctx.node.domain());
        return Ok(());
    }
    println!(
        "{} node{} alive in domain `{}`:",
        by_node.len(),
        if by_node.len() == 1 { "" } else { "s" },
        ctx.node.domain()
    );
    let width = topics.iter().map(|t| t.key.len()).max().unwrap_or(0);
    for (name, (p, s)) in &by_node {
        println!("{name}");
        for (k, t) in p {
            println!("  pub  {k:<width$}  {t}");
        }
        for (k, t) in s {
            println!("  sub  {k:<width$}  {t}");
        }
        if p.is_empty() && s.is_empty() {
            println!("  (no topics)");
        }
    }
    Ok(())
}
