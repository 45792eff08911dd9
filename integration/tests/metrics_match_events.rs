//! Issue 5: `curl` of the metrics endpoint during a run shows non-zero counters that match the
//! events the agent exported and the enforcement decisions it made.

use std::{
    io::Write,
    net::TcpListener,
    process::{Command, Stdio},
    time::Duration,
};

use palisade_integration::{
    agent::{palisade_bin, require_root, Agent},
    cgroup::Cgroup,
};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn scrape(port: u16) -> String {
    let out = Command::new("curl")
        .args(["-sf", &format!("http://127.0.0.1:{port}/metrics")])
        .output()
        .expect("curl");
    assert!(
        out.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn sample(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

#[test]
fn counters_match_exported_events_and_decisions() {
    require_root();
    let port = free_port();
    let agent = Agent::start(&[
        "--metrics-addr",
        &format!("127.0.0.1:{port}"),
        "--no-detect",
    ])
    .unwrap();
    let victim = free_port();
    let dir = tempfile::tempdir().unwrap();
    let pol = dir.path().join("p.yaml");
    std::fs::write(
        &pol,
        format!(
            "apiVersion: palisade.dev/v1alpha1\nkind: Policy\nmetadata:\n  name: metrics-deny\n  description: t\n\
             spec:\n  rules:\n    - name: r\n      operations: [connect]\n      destinations: [\"127.0.0.1/32:{victim}\"]\n      action: deny\n"
        ),
    )
    .unwrap();
    agent
        .cli(&["policy", "add", pol.to_str().unwrap()])
        .unwrap();

    // register the cgroup the way an OCI runtime hook would: state JSON with a pid inside it
    let cg = Cgroup::new("metrics").unwrap();
    let mut holder = Command::new("/bin/sleep");
    holder.arg("30");
    cg.enter_before_exec(&mut holder);
    let mut holder = holder.spawn().unwrap();
    let state = format!(
        r#"{{"ociVersion":"1.0.2","id":"metrics-test","status":"creating","pid":{},"bundle":"/nonexistent","annotations":{{"palisade.dev/policies":"metrics-deny"}}}}"#,
        holder.id()
    );
    let mut hook = Command::new(palisade_bin().unwrap())
        .arg("--socket")
        .arg(&agent.socket)
        .arg("oci-hook")
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    hook.stdin
        .take()
        .unwrap()
        .write_all(state.as_bytes())
        .unwrap();
    assert!(
        hook.wait().unwrap().success(),
        "oci-hook registered the cgroup"
    );

    for i in 0..20 {
        let mut cmd = Command::new("/bin/true");
        cmd.arg(format!("metrics-{i}"));
        cg.enter_before_exec(&mut cmd);
        assert!(cmd.status().unwrap().success());
    }
    let mut denied = Command::new("/bin/bash");
    denied
        .args(["-c", &format!("echo > /dev/tcp/127.0.0.1/{victim}")])
        .stderr(Stdio::null());
    cg.enter_before_exec(&mut denied);
    assert!(!denied.status().unwrap().success(), "the connect is denied");
    let id = cg.id().unwrap();
    agent
        .wait_events(Duration::from_secs(10), |e| {
            e.iter()
                .filter(|x| x["process_exit"]["process"]["cgroup_id"] == id)
                .count()
                >= 21
                && e.iter().any(|x| x.get("process_lsm").is_some())
        })
        .unwrap();

    // counters are bumped before a line is queued for the file: file-before <= counter <= file-after
    let count = |k: &str| {
        agent
            .events()
            .unwrap()
            .iter()
            .filter(|e| e.get(k).is_some())
            .count() as u64
    };
    let (exec0, exit0, lsm0) = (
        count("process_exec"),
        count("process_exit"),
        count("process_lsm"),
    );
    let text = scrape(port);
    std::thread::sleep(Duration::from_millis(500));
    let (exec1, exit1, lsm1) = (
        count("process_exec"),
        count("process_exit"),
        count("process_lsm"),
    );
    let execs = sample(&text, "palisade_events_total{type=\"PROCESS_EXEC\"}");
    let exits = sample(&text, "palisade_events_total{type=\"PROCESS_EXIT\"}");
    let lsms = sample(&text, "palisade_events_total{type=\"PROCESS_LSM\"}");
    assert!(
        execs >= 21 && exits >= 21 && lsms >= 1,
        "non-zero counters:\n{text}"
    );
    assert!(
        (exec0..=exec1).contains(&execs),
        "exec: file {exec0}..{exec1}, counter {execs}"
    );
    assert!(
        (exit0..=exit1).contains(&exits),
        "exit: file {exit0}..{exit1}, counter {exits}"
    );
    assert!(
        (lsm0..=lsm1).contains(&lsms),
        "lsm: file {lsm0}..{lsm1}, counter {lsms}"
    );
    let decisions =
        sample(&text, "palisade_enforcement_actions_total{policy=\"metrics-deny\",action=\"deny\",mechanism=\"cgroup_sock_addr\"}");
    assert_eq!(
        decisions, lsms,
        "every process_lsm event is one counted decision:\n{text}"
    );
    assert_eq!(sample(&text, "palisade_ringbuf_drops_total"), 0);
    assert_eq!(sample(&text, "palisade_export_drops_total"), 0);
    assert!(
        text.contains("palisade_bpf_map_capacity{map=\"procs\"} 65536"),
        "{text}"
    );
    holder.kill().unwrap();
    holder.wait().unwrap();
}
