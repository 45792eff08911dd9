//! `install/install.sh` and `install/uninstall.sh` on this host, through
//! `integration/install/test-install.sh`: fresh install, a second install that changes nothing
//! (hashes of every installed file and of the containerd config are equal), uninstall that
//! restores the containerd config byte for byte and leaves no file behind, refusals that write
//! nothing, the real /etc/containerd/config.toml, and the hooks.d file through real podman.
//!
//! Root, containerd and podman are required (`integration/containerd/setup.sh --with-podman`);
//! without them this fails, it never skips.

use std::path::Path;
use std::process::Command;

use palisade_integration::agent::{palisade_bin, require_root};

#[test]
fn install_is_idempotent_and_uninstall_restores_the_node() {
    require_root();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let bin = palisade_bin().expect("palisade binary");
    let out = Command::new("bash")
        .arg(repo.join("integration/install/test-install.sh"))
        .env("PALISADE_BIN", &bin)
        .output()
        .expect("running integration/install/test-install.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // the proof lines of the summary, visible with --nocapture
    let summary = stdout.split("=== summary").nth(1).unwrap_or_default();
    for line in summary.lines().filter(|l| l.starts_with("PROOF")) {
        println!("{line}");
    }
    assert!(
        out.status.success() && stdout.contains("test-install: all cases passed"),
        "test-install.sh failed ({}):\n--- stdout (tail)\n{}\n--- stderr\n{stderr}",
        out.status,
        stdout
            .lines()
            .rev()
            .take(60)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n"),
    );
}
