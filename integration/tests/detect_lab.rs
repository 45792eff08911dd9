//! Issue 6, the hook-based detections from BPF LSM hooks in the kernel lab (Debian 6.1 and 6.12
//! cloud kernels run BPF LSM programs; the dev hosts refuse them and use the tracepoints, see
//! detect_hooks.rs), plus the kernel-module detections the dev hosts cannot have (no
//! CONFIG_MODULES there). The real agent (target/release/palisade, copied in by kernel-lab.sh)
//! runs in the guest with `--detect-host --detect-loader`; the demos of integration/demos run as
//! on the host. Every event must name the LSM hook that produced it, and the operations the LSM
//! side covers must not be reported a second time by the tracepoints. Needs root and the lab.

mod detect_support;

use std::{fs, path::Path, process::Command};

use detect_support::*;
use palisade_integration::agent::require_root;
use serde_json::Value;

const GUEST: &str = r#"
palisade --socket /tmp/p.sock agent --export-file /tmp/ev.json --nri-socket none --detect-host --detect-loader 2>/tmp/agent.log &
i=0
until palisade --socket /tmp/p.sock status >/dev/null 2>&1; do
  i=$((i+1)); [ $i -lt 120 ] || { cat /tmp/agent.log; exit 9; }; sleep 1
done
B=/usr/local/bin
nobody() { /usr/local/bin/setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
cp $B/setuid_root /tmp/suid_root && chmod 4755 /tmp/suid_root
nobody /tmp/suid_root; echo "RC setuid $?"
capset_raise; echo "RC capset $?"
nobody userns_clone; echo "RC userns $?"
bpf_load; echo "RC bpf $?"
insmod /lab/dummy.ko; echo "RC insmod $?"
module_request; echo "RC module_request $?"
busybox nc -l -p 9000 >/dev/null &
sleep 1
echo hi | busybox nc 127.0.0.1 9000; echo "RC nc $?"
sleep 3
kill %1; wait
grep -h '^{"process_kprobe\|^{"process_loader' /tmp/ev.json
"#;

/// The guest's events and its whole output.
fn lab(kernel: &str) -> (Vec<Value>, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
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
    let mut bin_args = vec!["--bin".to_owned(), "/usr/bin/setpriv".to_owned()];
    for demo in [
        "module_request",
        "setuid_root",
        "capset_raise",
        "userns_clone",
        "bpf_load",
    ] {
        bin_args.push("--bin".into());
        bin_args.push(build(bins.path(), demo).to_str().unwrap().to_owned());
    }
    let stdout = palisade_integration::lab::guest(kernel, dir.path(), &bin_args, GUEST);
    let evs = stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    (evs, stdout)
}

fn one<'a>(
    evs: &'a [Value],
    kernel: &str,
    function: &str,
    pred: impl Fn(&Value) -> bool,
) -> &'a Value {
    kprobes(evs, function, pred)
        .first()
        .copied()
        .unwrap_or_else(|| panic!("{kernel}: no {function} event: {evs:#?}"))
}

fn by(binary: &'static str) -> impl Fn(&Value) -> bool {
    move |k: &Value| k["process"]["binary"] == binary
}

fn check(kernel: &str) {
    require_root();
    let (evs, out) = lab(kernel);
    for demo in [
        "setuid",
        "capset",
        "userns",
        "bpf",
        "insmod",
        "module_request",
        "nc",
    ] {
        assert!(
            out.lines().any(|l| l == format!("RC {demo} 0")),
            "{kernel}: demo {demo} failed in the guest:\n{}",
            out.lines()
                .filter(|l| !l.starts_with('{'))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    // privilege raise through a setuid-root binary: the LSM sees the new credentials
    let k = one(&evs, kernel, "__sys_setuid", by("/tmp/suid_root"));
    assert_eq!(k["hook"], "lsm/task_fix_setuid", "{k}");
    assert_eq!(k["policy_name"], "privileges-raise", "{k}");
    assert_eq!(k["args"][0]["int_arg"], 0, "{k}");
    assert_eq!(k["process"]["process_credentials"]["euid"], 0, "{k}");
    assert_eq!(k["args"][1]["process_credentials_arg"]["uid"], 65534, "{k}");
    // capset raising the effective set
    let k = one(
        &evs,
        kernel,
        "__x64_sys_capset",
        by("/usr/local/bin/capset_raise"),
    );
    assert_eq!(k["hook"], "lsm/capset", "{k}");
    // unprivileged user namespace by clone(CLONE_NEWUSER)
    let k = one(
        &evs,
        kernel,
        "create_user_ns",
        by("/usr/local/bin/userns_clone"),
    );
    assert_eq!(k["hook"], "lsm/userns_create", "{k}");
    assert!(
        k["args"][2]["string_arg"]
            .as_str()
            .unwrap_or("")
            .contains("CLONE_NEWUSER"),
        "{k}"
    );
    // BPF program load and map creation, with type and size from the kernel's bpf_attr copy
    let k = one(&evs, kernel, "bpf_check", by("/usr/local/bin/bpf_load"));
    assert_eq!(k["hook"], "lsm/bpf", "{k}");
    assert!(
        k["args"][0]["bpf_attr_arg"]["InsnCnt"]
            .as_u64()
            .unwrap_or(0)
            > 0,
        "{k}"
    );
    let k = one(
        &evs,
        kernel,
        "security_bpf_map_create",
        by("/usr/local/bin/bpf_load"),
    );
    assert_eq!(k["hook"], "lsm/bpf", "{k}");
    // module: the syscall side from kernel_read_file, the load from the module tracepoint
    let k = one(&evs, kernel, "__x64_sys_finit_module", |k| {
        k["args"][0]["file_arg"]["path"] == "/lab/dummy.ko"
    });
    assert_eq!(k["hook"], "lsm/kernel_read_file", "{k}");
    let k = one(&evs, kernel, "do_init_module", |k| {
        k["args"][0]["module_arg"]["name"] == "dummy"
    });
    assert_eq!(k["hook"], "tp_btf/module_load", "{k}");
    let k = one(&evs, kernel, "security_kernel_module_request", |k| {
        k["args"][0]["string_arg"] == "net-pf-12"
    });
    assert_eq!(k["hook"], "lsm/kernel_module_request", "{k}");
    assert_eq!(
        k["process"]["binary"], "/usr/local/bin/module_request",
        "{k}"
    );
    // capabilities as of the event (kernel_cap_t changed layout in 6.3: both layouts decode)
    let eff = k["process"]["cap"]["effective"].as_array().unwrap();
    assert!(
        eff.iter().any(|c| c == "CAP_SYS_MODULE"),
        "{kernel}: root's caps missing: {k}"
    );
    // TCP connect from the LSM, accept and close still from the socket tracepoint
    let k = one(&evs, kernel, "tcp_connect", |k| {
        k["args"][0]["sock_arg"]["dport"] == 9000
    });
    assert_eq!(k["hook"], "lsm/socket_connect", "{k}");
    let k = one(&evs, kernel, "tcp_close", |k| {
        k["args"][0]["sock_arg"]["dport"] == 9000 || k["args"][0]["sock_arg"]["sport"] == 9000
    });
    assert_eq!(k["hook"], "tp_btf/inet_sock_set_state", "{k}");
    // shared libraries: the dynamic demos map libc, seen at mmap_file
    let lib = evs
        .iter()
        .filter_map(|e| e.get("process_loader"))
        .find(|l| {
            l["hook"] == "lsm/mmap_file"
                && l["path"].as_str().is_some_and(|p| p.contains("libc.so"))
        });
    assert!(
        lib.is_some(),
        "{kernel}: no process_loader from lsm/mmap_file: {evs:#?}"
    );
    // each operation once: nothing the LSM side covers comes from the syscall tracepoint too
    let twice: Vec<&Value> = evs
        .iter()
        .filter_map(|e| e.get("process_kprobe"))
        .filter(|k| k["hook"] == "tp_btf/sys_exit" && k["function_name"] != "inet_csk_accept")
        .collect();
    assert!(
        twice.is_empty(),
        "{kernel}: reported by the tracepoints as well: {twice:#?}"
    );
}

#[test]
fn lsm_detections_on_6_12() {
    check("6.12");
}

#[test]
fn lsm_detections_on_6_1() {
    check("6.1");
}
