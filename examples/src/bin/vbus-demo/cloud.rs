//! `cloud`: the cloud bridge (`vbus-cloud`'s library) with collection rules, uploading to a local
//! file sink (no broker to start: with `mqtt.host` set it would be any MQTT broker instead).

use std::time::Duration;

use crate::until_stdin_closes;

pub async fn run(dir: String) -> Result<(), String> {
    let sink = std::path::Path::new(&dir).join("uplink.jsonl");
    let config = vbus_cloud::Config::from_json5(&format!(
        "{{ stats_period_ms: 500,
            file_sink: {{ path: {sink:?} }}, queue: {{ path: {queue:?} }},
            rules: [
              // Every battery sample, important (0 is the most important priority).
              {{ name: 'battery', keys: 'powertrain/battery', mode: 'all', priority: 2 }},
              // The vehicle speed downsampled to 1 Hz.
              {{ name: 'speed-1hz', keys: 'chassis/speed', mode: 'periodic', period_ms: 1000, priority: 5 }},
              // Speed at full rate while above 95 km/h, with 200 ms before and after.
              {{ name: 'fast', keys: 'chassis/speed', mode: 'window', priority: 1, before_ms: 200, after_ms: 200,
                 condition: {{ key: 'chassis/speed', field: 'kph', op: '>', value: 95 }} }},
              // The car's own CAN speed message, 2 Hz.
              {{ name: 'can-speed', keys: 'can/model3/ID257DIspeed', mode: 'periodic', period_ms: 500, priority: 6 }},
              // The car's state of charge when it changes by more than 5 % (read through the schema the CAN
              // bridge serves for the DBC's messages).
              {{ name: 'can-soc', keys: 'can/model3/ID33AUI_rangeSOC', mode: 'on_change', field: 'ui_soc',
                 deadband: 5, priority: 4 }},
            ] }}",
        queue = std::path::Path::new(&dir).join("queue.sqlite"),
    ))
    .and_then(|c| c.with_node(&vbus::NodeConfig::named("cloud")))
    .map_err(|e| e.to_string())?;
    let bridge = vbus_cloud::Bridge::start(config).await.map_err(|e| e.to_string())?;
    println!(
        "up: rules battery (all), speed-1hz (periodic), fast (window kph > 95), can-speed (periodic), \
         can-soc (on change) -> {}",
        sink.display()
    );
    println!("ready");
    // Run until the launcher closes stdin.
    let mut stop = std::pin::pin!(until_stdin_closes());
    let mut progress = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            () = &mut stop => break,
            _ = progress.tick() => {
                let st = bridge.stats();
                println!("received={} accepted={} uploaded={} queued={}", st.received, st.accepted, st.uplink.samples_acked, st.queue.records);
            }
        }
    }
    let stats = bridge.shutdown().await.map_err(|e| e.to_string())?;
    // Read back what reached the "cloud": the file sink, one batch per line.
    let text = std::fs::read(&sink).map_err(|e| format!("{}: {e}", sink.display()))?;
    let mut per_rule = std::collections::BTreeMap::<String, u64>::new();
    let (mut batches, mut samples) = (0u64, 0u64);
    for line in text.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let batch = vbus_cloud::format::decode_batch(line).map_err(|e| format!("{}: {e}", sink.display()))?;
        batches += 1;
        for s in &batch.samples {
            samples += 1;
            *per_rule.entry(s.rule.clone()).or_default() += 1;
        }
    }
    let rules: Vec<String> = per_rule.iter().map(|(r, n)| format!("{r}={n}")).collect();
    println!(
        "uploaded={samples} in batches={batches} ({}) acked={} queued={} dropped={} file={}",
        rules.join(", "),
        stats.uplink.samples_acked,
        stats.queue.records,
        stats.queue.dropped,
        sink.display()
    );
    if samples == stats.uplink.samples_acked && stats.queue.records == 0 && stats.queue.dropped == 0 {
        Ok(())
    } else {
        Err("the uplink file does not hold every accepted sample".into())
    }
}
