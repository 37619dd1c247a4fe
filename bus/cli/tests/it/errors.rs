//! Helpful errors: bad configuration, unreachable routers, unknown topics, bad key expressions,
//! JSON that does not match the schema.

use crate::harness::*;

fn vbus(args: &[&str]) -> tokio::process::Command {
    let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_vbus"));
    c.args(args).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).kill_on_drop(true);
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_and_connection_errors() {
    let out = run(vbus(&["nodes", "--config", "/nonexistent/vbus.json5"])).await.failure();
    assert!(
        out.stderr.contains("error: configuration: /nonexistent/vbus.json5: cannot read"),
        "{}",
        out.stderr
    );

    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("vbus-cli-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.json5");
    std::fs::write(&file, "{ mode: 'satellite' }").unwrap();
    let out = run(vbus(&["nodes", "--config", file.to_str().unwrap()])).await.failure();
    assert!(out.stderr.contains("satellite"), "{}", out.stderr);
    let _ = std::fs::remove_dir_all(&dir);

    let out = run(vbus(&["nodes", "--connect", "127.0.0.1:7447"])).await.failure();
    assert!(out.stderr.contains("expected `<protocol>/<address>`"), "{}", out.stderr);

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let out = run(vbus(&["topics", "--connect", &format!("tcp/127.0.0.1:{port}")])).await.failure();
    assert!(out.stderr.contains("error: cannot join the bus"), "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!("hint: is a vbus router running at tcp/127.0.0.1:{port}?")),
        "{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_key_and_json_errors() {
    let bus = Bus::new("errors").await;
    let _chassis = bus.child("chassis", "chassis").await;
    announced(&bus.router, "chassis", "chassis/speed").await;

    let err = |args: &'static [&'static str]| {
        let cmd = bus.vbus(args);
        async move { run(cmd).await.failure().stderr }
    };
    let e = err(&["pub", "chassis/sped", "{}"]).await;
    assert!(
        e.contains("error: no node announces topic `chassis/sped`")
            && e.contains("hint: did you mean `chassis/speed`?"),
        "{e}"
    );
    let e = err(&["pub", "chassis/speed", r#"{"kph": "fast"}"#]).await;
    assert!(
        e.contains(r#"error: the JSON does not match demo.vehicle.VehicleSpeed: $.kph: expected float, found string "fast""#)
            && e.contains("hint: `vbus schema demo.vehicle.VehicleSpeed` shows its fields"),
        "{e}"
    );
    let e = err(&["pub", "chassis/speed", r#"{"kphh": 1}"#]).await;
    assert!(e.contains("found unknown field `kphh` (did you mean `kph`?)"), "{e}");
    let e = err(&["pub", "chassis/speed", "not json"]).await;
    assert!(e.contains("the sample is not valid JSON (or JSON5)"), "{e}");
    let e = err(&["pub", "chassis/*", "{}"]).await;
    assert!(e.contains("has wildcards"), "{e}");
    let e = err(&["echo", "chassis//speed"]).await;
    assert!(e.contains("`chassis//speed` is not a valid key expression"), "{e}");
    let prefixed = format!("vbus/{}/chassis/speed", bus.domain);
    let out = run(bus.vbus(&["echo", &prefixed])).await.failure();
    assert!(
        out.stderr.contains("hint: keys are relative to the domain: use `chassis/speed`"),
        "{}",
        out.stderr
    );
    let e = err(&["echo", "chassis/sped", "--duration", "1"]).await;
    assert!(e.contains("warning: no node announces topic `chassis/sped`"), "{e}");
    assert!(
        e.contains("error: no sample on `chassis/sped` within 1 s")
            && e.contains("did you mean `chassis/speed`?"),
        "{e}"
    );
}
