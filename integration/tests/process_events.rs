//! Issue 2 end to end: the real agent, real tracepoints, real processes in a fresh cgroup.
//! Needs root (CI runs as root); fails, never skips, without it.

use std::{process::Command, time::Duration};

use palisade_integration::{
    agent::{require_root, Agent},
    cgroup::Cgroup,
};
use serde_json::Value;

fn kind(ev: &Value) -> &str {
    ["process_exec", "process_exit", "process_lsm"]
        .into_iter()
        .find(|k| ev.get(*k).is_some())
        .unwrap_or("")
}

fn of_kind<'a>(evs: &'a [Value], k: &str, cgroup: u64) -> Vec<&'a Value> {
    evs.iter()
        .filter(|e| kind(e) == k && e[k]["process"]["cgroup_id"] == cgroup)
        .collect()
}

#[test]
fn exec_and_exit_of_true_in_a_fresh_cgroup() {
    require_root();
    let agent = Agent::start(&[]).unwrap();
    let cg = Cgroup::new("true").unwrap();
    let marker = format!("palisade-marker-{}", std::process::id());
    let mut cmd = Command::new("/bin/true");
    cmd.args([marker.as_str(), "two words"]);
    cg.enter_before_exec(&mut cmd);
    assert!(cmd.status().unwrap().success());
    let id = cg.id().unwrap();

    let evs = agent
        .wait_events(Duration::from_secs(10), |e| {
            !of_kind(e, "process_exit", id).is_empty()
        })
        .unwrap();
    let execs = of_kind(&evs, "process_exec", id);
    let exits = of_kind(&evs, "process_exit", id);
    assert_eq!(execs.len(), 1, "exactly one exec in the cgroup: {execs:#?}");
    assert_eq!(exits.len(), 1, "exactly one exit in the cgroup: {exits:#?}");
    let p = &execs[0]["process_exec"]["process"];
    // /bin is a symlink to usr/bin on merged-/usr systems: the kernel's resolved path counts
    let bin = p["binary"].as_str().unwrap();
    assert!(bin == "/usr/bin/true" || bin == "/bin/true", "binary {bin}");
    assert_eq!(p["arguments"], format!("{marker} \"two words\""));
    assert_eq!(p["uid"], 0);
    assert!(p["exec_id"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(p["parent_exec_id"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(p["cap"]["effective"]
        .as_array()
        .is_some_and(|c| c.iter().any(|x| x == "CAP_SYS_ADMIN")));
    assert_eq!(execs[0]["node_name"], exits[0]["node_name"]);
    let x = &exits[0]["process_exit"];
    assert_eq!(x["status"], 0);
    assert!(x.get("signal").is_none());
    assert_eq!(
        x["process"]["exec_id"], p["exec_id"],
        "exit names the same process as the exec"
    );
    assert_eq!(x["process"]["pid"], p["pid"]);
}

#[test]
fn exit_status_signal_and_parentage() {
    require_root();
    let agent = Agent::start(&[]).unwrap();
    let cg = Cgroup::new("shell").unwrap();
    // the shell execs a child that exits 3, then kills itself with SIGKILL
    let mut cmd = Command::new("/bin/sh");
    cmd.args(["-c", "/bin/sh -c 'exit 3'; kill -9 $$"]);
    cg.enter_before_exec(&mut cmd);
    let st = cmd.status().unwrap();
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&st), Some(9));
    let id = cg.id().unwrap();
    let evs = agent
        .wait_events(Duration::from_secs(10), |e| {
            of_kind(e, "process_exit", id).len() >= 2
        })
        .unwrap();
    let exits = of_kind(&evs, "process_exit", id);
    let execs = of_kind(&evs, "process_exec", id);
    assert_eq!(execs.len(), 2, "{execs:#?}");
    let outer = execs
        .iter()
        .find(|e| {
            e["process_exec"]["process"]["arguments"]
                .as_str()
                .unwrap()
                .contains("kill")
        })
        .unwrap();
    let inner = execs
        .iter()
        .find(|e| e["process_exec"]["process"]["arguments"] == "-c \"exit 3\"")
        .unwrap();
    assert_eq!(
        inner["process_exec"]["process"]["parent_exec_id"],
        outer["process_exec"]["process"]["exec_id"],
        "the child's parent is the outer shell"
    );
    assert_eq!(
        inner["process_exec"]["parent"]["pid"],
        outer["process_exec"]["process"]["pid"]
    );
    let exit_of = |e: &Value| {
        exits
            .iter()
            .find(|x| {
                x["process_exit"]["process"]["exec_id"] == e["process_exec"]["process"]["exec_id"]
            })
            .map(|x| x["process_exit"].clone())
    };
    let inner_exit = exit_of(inner).expect("inner exit");
    assert_eq!(inner_exit["status"], 3);
    let outer_exit = exit_of(outer).expect("outer exit");
    assert_eq!(outer_exit["signal"], "SIGKILL");
}

#[test]
fn events_stream_over_the_api_with_filters_and_compact_output() {
    require_root();
    let agent = Agent::start(&[]).unwrap();
    let bin = palisade_integration::agent::palisade_bin().unwrap();
    let reader = Command::new(&bin)
        .arg("--socket")
        .arg(&agent.socket)
        .args(["events", "-o", "compact", "--event-types", "PROCESS_EXEC"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let marker = format!("stream-marker-{}", std::process::id());
    assert!(Command::new("/bin/echo")
        .arg(&marker)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap()
        .success());
    std::thread::sleep(Duration::from_millis(1000));
    // SAFETY: kill our own child.
    unsafe { libc::kill(reader.id() as i32, libc::SIGTERM) };
    let out = reader.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains(&marker))
        .unwrap_or_else(|| panic!("no compact line in:\n{text}"));
    assert!(line.starts_with("🚀 process "), "{line}");
    assert!(line.ends_with(&format!("/echo {marker}")), "{line}");
    assert!(!text.contains("💥"), "exit events were filtered out");
}

#[test]
fn status_reports_kernel_truthfully_and_counts() {
    require_root();
    let agent = Agent::start(&[]).unwrap();
    let s = agent.status().unwrap();
    let lsm = std::fs::read_to_string("/sys/kernel/security/lsm").unwrap_or_default();
    assert_eq!(
        s["kernel"]["bpf_lsm_active"],
        lsm.split(',').any(|l| l.trim() == "bpf")
    );
    assert_eq!(
        s["kernel"]["kprobes"],
        std::path::Path::new("/sys/kernel/tracing/kprobe_events").exists()
            || std::path::Path::new("/sys/kernel/debug/tracing/kprobe_events").exists()
    );
    assert!(
        s["process_cache"]["live"].as_u64().unwrap() > 0,
        "procfs seeding found processes"
    );
    assert_eq!(s["process_cache_max_live"], 65536);
    assert_eq!(s["kernel_counters"]["ringbuf_drops"], 0);
}
