//! Issue 6, exec-based detections end to end: no policy needed, the process_exec events carry
//! what Tetragon's policy library filters on. Each test runs the library's jq filter verbatim on
//! the agent's exported JSON and checks the documented kind of output. Needs root.

mod detect_support;

use std::{
    fs,
    os::unix::fs::{chown, PermissionsExt},
    path::Path,
    process::Command,
    time::Duration,
};

use detect_support::*;
use palisade_integration::agent::{require_root, Agent};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(15);

fn agent() -> Agent {
    require_root();
    Agent::start(&[]).unwrap()
}

/// Waits for the exec of `binary` (with `needle` in its arguments) and returns that event.
fn exec_of(agent: &Agent, binary: &str, needle: &str) -> Value {
    let find = |evs: &[Value]| {
        evs.iter()
            .find(|e| {
                let p = &e["process_exec"]["process"];
                p["binary"] == binary && p["arguments"].as_str().is_some_and(|a| a.contains(needle))
            })
            .cloned()
    };
    let evs = agent.wait_events(WAIT, |e| find(e).is_some()).unwrap();
    let ev = find(&evs).unwrap_or_else(|| panic!("no process_exec of {binary} {needle}"));
    // process_credentials on every process event
    assert!(
        ev["process_exec"]["process"]["process_credentials"]["euid"].is_u64(),
        "{ev}"
    );
    ev
}

fn copy_exec(src: &str, dst: &Path, mode: u32) {
    fs::copy(src, dst).unwrap();
    chown(dst, Some(0), Some(0)).unwrap();
    fs::set_permissions(dst, fs::Permissions::from_mode(mode)).unwrap();
}

const SUID_FILTER: &str = r#"select(.process_exec != null) | select(.process_exec.process.binary_properties != null) | select(.process_exec.process.binary_properties.setuid != null or .process_exec.process.binary_properties.setgid != null) | "\(.time) \(.process_exec.process.pod.namespace) \(.process_exec.process.pod.name) \(.process_exec.process.binary) \(.process_exec.process.arguments) uid=\(.process_exec.process.process_credentials.uid) euid=\(.process_exec.process.process_credentials.euid)  gid=\(.process_exec.process.process_credentials.gid) egid=\(.process_exec.process.process_credentials.egid) binary_properties=\(.process_exec.process.binary_properties)""#;

const FILE_FILTER: &str = r#"select(.process_exec != null) | select(.process_exec.process.binary_properties != null) | select(.process_exec.process.binary_properties.file != null) | "\(.time) \(.process_exec.process.pod.namespace) \(.process_exec.process.pod.name) \(.process_exec.process.binary) \(.process_exec.process.arguments) uid=\(.process_exec.process.process_credentials.uid) euid=\(.process_exec.process.process_credentials.euid) binary_properties=\(.process_exec.process.binary_properties)""#;

#[test]
fn binary_executed_from_tmp() {
    let agent = agent();
    let bin = format!("/tmp/palisade-tmpexec-{}", std::process::id());
    copy_exec("/bin/true", bin.as_ref(), 0o755);
    assert!(run(Command::new(&bin).arg("from-tmp")).status.success());
    fs::remove_file(&bin).unwrap();
    exec_of(&agent, &bin, "from-tmp");
    let lines = jq(
        r#"select(.process_exec != null) | select(.process_exec.process.binary | contains("/tmp/")) | "\(.time) \(.process_exec.process.pod.namespace) \(.process_exec.process.pod.name) \(.process_exec.process.binary) \(.process_exec.process.arguments)""#,
        &agent.events,
    );
    line_with(&lines, &[&format!(" null null {bin} from-tmp\"")]);
}

#[test]
fn sudo_invocations() {
    assert!(
        Path::new("/usr/bin/sudo").exists(),
        "sudo is not installed (install/build-deps.sh installs it)"
    );
    let agent = agent();
    let marker = format!("palisade-sudo-{}", std::process::id());
    assert!(
        run(Command::new("/usr/bin/sudo").args(["-n", "-u", "nobody", "/bin/echo", &marker]))
            .status
            .success()
    );
    exec_of(&agent, "/usr/bin/sudo", &marker);
    let lines = jq(
        r#"select(.process_exec != null) | select(.process_exec.process.binary | contains("sudo")) | "\(.time) \(.process_exec.process.pod.namespace) \(.process_exec.process.binary) \(.process_exec.process.arguments)""#,
        &agent.events,
    );
    line_with(
        &lines,
        &[&format!(
            " null /usr/bin/sudo -n -u nobody /bin/echo {marker}\""
        )],
    );
}

#[test]
fn setuid_binary_execution() {
    let agent = agent();
    let dir = scratch();
    let built = build(dir.path(), "setuid_root");
    let suid = dir.path().join("suid_exec");
    copy_exec(built.to_str().unwrap(), &suid, 0o4755);
    assert!(run(&mut as_nobody(&suid)).status.success());
    let ev = exec_of(&agent, suid.to_str().unwrap(), "");
    let bp = &ev["process_exec"]["process"]["binary_properties"];
    assert_eq!(bp["setuid"], 0, "{ev}");
    let lines = jq(SUID_FILTER, &agent.events);
    line_with(
        &lines,
        &[
            &format!("{} ", suid.display()),
            r#"uid=65534 euid=0  gid=65534 egid=65534 binary_properties={\"setuid\":0,\"privileges_changed\":[\"PRIVILEGES_RAISED_EXEC_FILE_SETUID\"]}"#,
        ],
    );
}

#[test]
fn file_capabilities_execution() {
    let agent = agent();
    let dir = scratch();
    let bin = dir.path().join("caps_true");
    copy_exec("/bin/true", &bin, 0o755);
    let st = Command::new("setcap")
        .args(["cap_net_raw+ep"])
        .arg(&bin)
        .status()
        .expect("setcap (libcap2-bin)");
    assert!(st.success(), "setcap failed");
    assert!(run(as_nobody(&bin).arg("with-caps")).status.success());
    exec_of(&agent, bin.to_str().unwrap(), "with-caps");
    let lines = jq(
        r#"select(.process_exec != null) | select(.process_exec.process.binary_properties != null) | select(.process_exec.process.binary_properties.privileges_changed != null) | "\(.time) \(.process_exec.process.pod.namespace) \(.process_exec.process.pod.name) \(.process_exec.process.binary) \(.process_exec.process.arguments) uid=\(.process_exec.process.process_credentials.uid) euid=\(.process_exec.process.process_credentials.euid)  gid=\(.process_exec.process.process_credentials.gid) egid=\(.process_exec.process.process_credentials.egid) caps=\(.process_exec.process.cap) binary_properties=\(.process_exec.process.binary_properties)""#,
        &agent.events,
    );
    line_with(
        &lines,
        &[
            &format!("{} with-caps uid=65534 euid=65534", bin.display()),
            r#"caps={\"permitted\":[\"CAP_NET_RAW\"],\"effective\":[\"CAP_NET_RAW\"]} binary_properties={\"privileges_changed\":[\"PRIVILEGES_RAISED_EXEC_FILE_CAP\"]}"#,
        ],
    );
}

#[test]
fn fileless_memfd_execution() {
    let agent = agent();
    // the demo copies /bin/echo into a memfd and executes it from there (same pid)
    let child = Command::new("/usr/bin/python3")
        .arg(demos().join("exec_memfd.py"))
        .arg("/bin/echo")
        .spawn()
        .unwrap();
    let pid = child.id();
    assert!(child.wait_with_output().unwrap().status.success());
    let find = |evs: &[Value]| {
        evs.iter()
            .find(|e| {
                let p = &e["process_exec"]["process"];
                p["pid"] == pid && p["binary_properties"]["file"]["inode"]["links"] == 0
            })
            .cloned()
    };
    let evs = agent.wait_events(WAIT, |e| find(e).is_some()).unwrap();
    let ev = find(&evs)
        .expect("no process_exec with binary_properties.file.inode.links == 0 for the memfd exec");
    let p = &ev["process_exec"]["process"];
    assert!(
        p["binary"].as_str().unwrap().starts_with("/memfd:paldemo"),
        "{ev}"
    );
    assert!(
        p["binary_properties"]["file"]["inode"]["number"].is_string(),
        "uint64 as a JSON string: {ev}"
    );
    let lines = jq(FILE_FILTER, &agent.events);
    line_with(
        &lines,
        &[
            p["binary"].as_str().unwrap(),
            r#"binary_properties={\"file\":{\"inode\":{\"number\":\""#,
            r#"\"links\":0}"#,
        ],
    );
}

#[test]
fn deleted_binary_execution() {
    let agent = agent();
    let dir = scratch();
    let copy = dir.path().join("deleted_true");
    let st = Command::new("python3")
        .arg(demos().join("exec_deleted.py"))
        .arg(&copy)
        .status()
        .unwrap();
    assert!(st.success());
    assert!(!copy.exists());
    let find = |evs: &[Value]| {
        evs.iter()
            .find(|e| {
                let p = &e["process_exec"]["process"];
                p["binary_properties"]["file"]["inode"]["links"] == 0
                    && p["binary"]
                        .as_str()
                        .is_some_and(|b| b.contains("deleted_true"))
            })
            .cloned()
    };
    let evs = agent.wait_events(WAIT, |e| find(e).is_some()).unwrap();
    let ev = find(&evs).expect("no process_exec with links == 0 for the deleted binary");
    let lines = jq(FILE_FILTER, &agent.events);
    line_with(
        &lines,
        &[
            ev["process_exec"]["process"]["binary"].as_str().unwrap(),
            r#"\"links\":0}"#,
        ],
    );
}
