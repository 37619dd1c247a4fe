//! `can`: the CAN bridge, as the `vbus-can` daemon runs it, replaying the real capture.

pub async fn run(dir: String) -> Result<(), String> {
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata");
    // The schema codegen generated from the same DBC (what `vbus-codegen dbc` writes next to a
    // deployed bridge): the bridge serves it, so tools decode the CAN topics without our types.
    let rate: f64 = std::env::var("VBUS_DEMO_CAN_RATE").ok().and_then(|r| r.parse().ok()).unwrap_or(4.0);
    let schema = std::path::Path::new(&dir).join("model3.bfbs");
    std::fs::write(&schema, vbus_examples::model3::SCHEMA_BFBS)
        .map_err(|e| format!("{}: {e}", schema.display()))?;
    let config = vbus_can::Config::from_json5(
        &format!(
            "{{ stats_period_ms: 250, exit_at_end: true,
                buses: [{{ name: 'model3', dbc: '{data}/dbc/kuksa/Model3CAN.dbc', schema: {schema:?}, congestion: 'block',
                           source: {{ kind: 'candump', path: '{data}/logs/real/tesla_model3_kuksa_dogmode.log',
                                      realtime: true, rate: {rate} }} }}] }}"
        ),
        std::path::Path::new("."),
    )
    .and_then(|c| c.with_node(&vbus::NodeConfig::named("can-bridge")))
    .map_err(|e| e.to_string())?;
    println!("up: replaying the Tesla Model 3 capture (12138 frames, 22 s) at {rate}x");
    let stats = vbus_can::run(config, std::future::pending()).await.map_err(|e| e.to_string())?;
    let s = &stats[0];
    println!(
        "frames={} published={} unknown={} decode_errors={}",
        s.frames, s.published, s.unknown_frames, s.decode_errors
    );
    Ok(())
}
