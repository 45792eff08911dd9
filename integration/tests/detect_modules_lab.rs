//! Issue 6, kernel-module detections in the kernel lab: the dev hosts have no module support
//! (no CONFIG_MODULES, so no module tracepoints), Debian's cloud kernels have both. The real agent
//! (target/release/palisade, copied in by kernel-lab.sh) runs in the guest with `--detect-host`;
//! `insmod` of a real module and a socket of an unregistered family must produce the
//! `do_init_module` (module:module_load), `__x64_sys_finit_module` and
//! `security_kernel_module_request` (module:module_request) events. Needs root and the lab.

mod detect_support;

use std::{fs, path::Path, process::Command};

use detect_support::*;
use palisade_integration::agent::require_root;
use serde_json::Value;

const GUEST: &str = r#"
palisade --socket /tmp/p.sock agent --export-file /tmp/ev.json --nri-socket none --detect-host 2>/tmp/agent.log &
i=0
until palisade --socket /tmp/p.sock status >/dev/null 2>&1; do
  i=$((i+1)); [ $i -lt 120 ] || { cat /tmp/agent.log; exit 9; }; sleep 1
done
insmod /lab/dummy.ko || exit 8
module_request
sleep 2
kill %1; wait
grep -h process_kprobe /tmp/ev.json
"#;

fn lab(kernel: &str) -> Vec<Value> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let release = std::env::var_os("CARGO_TARGET_DIR")
        .map(Into::into)
        .unwrap_or_else(|| root.join("target"))
        .join("release/palisade");
    assert!(
        release.exists(),
        "{} is missing: run `cargo build --release -p palisade` first",
        release.display()
    );
    let cache =
        std::env::var("PALISADE_LAB_CACHE").unwrap_or_else(|_| "/var/cache/palisade-lab".into());
    if !Path::new(&cache).join(kernel).join(".complete").exists() {
        let st = Command::new(root.join("integration/kernel-lab/fetch-kernels.sh"))
            .arg(kernel)
            .status()
            .unwrap();
        assert!(st.success(), "fetch-kernels.sh {kernel} failed");
    }
    // -H: the cache entry per kernel is a symlink to the unpacked package
    let found = Command::new("find")
        .arg("-H")
        .arg(Path::new(&cache).join(kernel))
        .args(["-name", "dummy.ko*", "-path", "*/drivers/net/*"])
        .output()
        .unwrap();
    let ko = String::from_utf8(found.stdout).unwrap();
    let ko = ko
        .lines()
        .next()
        .unwrap_or_else(|| panic!("no dummy.ko in the {kernel} kernel package"));

    let dir = scratch();
    let module = fs::File::create(dir.path().join("dummy.ko")).unwrap();
    let st = if ko.ends_with(".xz") {
        Command::new("xz")
            .args(["-dc", ko])
            .stdout(module)
            .status()
            .expect("xz (xz-utils)")
    } else {
        Command::new("cp")
            .args([ko, dir.path().join("dummy.ko").to_str().unwrap()])
            .status()
            .unwrap()
    };
    assert!(st.success());
    let bins = scratch();
    let request = build(bins.path(), "module_request");
    let out = Command::new(root.join("integration/kernel-lab.sh"))
        .args(["--kernel", kernel, "--files"])
        .arg(dir.path())
        .arg("--bin")
        .arg(&request)
        .args(["--", GUEST])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "kernel lab {kernel} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn check(kernel: &str) {
    require_root();
    let evs = lab(kernel);
    let load = kprobes(&evs, "do_init_module", |k| {
        k["args"][0]["module_arg"]["name"] == "dummy"
    });
    let load = load
        .first()
        .unwrap_or_else(|| panic!("{kernel}: no do_init_module for dummy: {evs:?}"));
    assert_eq!(load["hook"], "tp_btf/module_load");
    assert_eq!(load["policy_name"], "kernel-modules");
    let sys = kprobes(&evs, "__x64_sys_finit_module", |k| {
        k["args"][0]["file_arg"]["path"] == "/lab/dummy.ko"
    });
    let sys = sys
        .first()
        .unwrap_or_else(|| panic!("{kernel}: no finit_module event: {evs:?}"));
    assert_eq!(sys["return"]["int_arg"], 0, "{sys}");
    let req = kprobes(&evs, "security_kernel_module_request", |k| {
        k["args"][0]["string_arg"] == "net-pf-12"
    });
    let req = req
        .first()
        .unwrap_or_else(|| panic!("{kernel}: no module request event: {evs:?}"));
    assert_eq!(req["hook"], "tp_btf/module_request");
    assert_eq!(
        req["process"]["binary"], "/usr/local/bin/module_request",
        "{req}"
    );
    // capabilities as of the event (kernel_cap_t changed layout in 6.3: both layouts decode)
    let eff = req["process"]["cap"]["effective"].as_array().unwrap();
    assert!(
        eff.iter().any(|c| c == "CAP_SYS_MODULE"),
        "{kernel}: root's caps missing: {req}"
    );
}

#[test]
fn module_load_and_request_on_6_12() {
    check("6.12");
}

#[test]
fn module_load_and_request_on_6_1() {
    check("6.1");
}
