//! Runs `scripts/netns-faults.sh` (multi-ECU faults in network namespaces) when this process is
//! root and `ip netns` works; otherwise says why it skipped. CI runs as root.

use std::process::Command;

fn skip_reason() -> Option<String> {
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    if uid.as_deref() != Some("0") {
        return Some(format!("not root (uid {})", uid.unwrap_or_else(|| "unknown".into())));
    }
    match Command::new("ip").args(["netns", "list"]).output() {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            return Some(format!("`ip netns list` failed: {}", String::from_utf8_lossy(&o.stderr).trim()));
        }
        Err(e) => return Some(format!("no `ip` command: {e}")),
    }
    for tool in ["tc", "flock"] {
        if !Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return Some(format!("`{tool}` is not installed"));
        }
    }
    None
}

#[test]
fn netns_faults() {
    if let Some(why) = skip_reason() {
        eprintln!("SKIPPED netns_faults: {why} (run scripts/netns-faults.sh as root to test faults)");
        return;
    }
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let out = Command::new("bash")
        .arg(format!("{root}/scripts/netns-faults.sh"))
        .env("VBUS_FAULTS_BIN", env!("CARGO_BIN_EXE_vbus-faults"))
        .output()
        .expect("run scripts/netns-faults.sh");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    eprintln!("{stdout}{stderr}");
    assert!(out.status.success(), "scripts/netns-faults.sh failed ({}):\n{stdout}\n{stderr}", out.status);
    assert!(stdout.contains("all phases delivered every sequence number"), "{stdout}");
}
