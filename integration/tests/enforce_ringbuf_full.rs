//! Issue 7: enforcement decisions never depend on userspace or on ring-buffer space.
//!
//! The agent is frozen (SIGSTOP, so nothing drains its ring buffers) while the host floods the
//! event ring buffer (refused loopback connects with `--detect-host`, one tcp_connect record
//! each) and a workload in a protected cgroup hammers a denied destination, which fills the
//! decision ring buffer too. Every single denied connect must still fail with EPERM (the cgroup
//! connect program decides inline from maps), both ring buffers must really have overflowed
//! (their drop counters move, so the test proves what it claims), and after SIGCONT the agent
//! reports those drops. Needs root.

use std::{
    io::Write,
    net::TcpListener,
    process::{Command, Stdio},
    time::Duration,
};

use anyhow::{ensure, Context, Result};
use palisade_integration::{
    agent::{palisade_bin, require_root, Agent},
    cgroup::Cgroup,
};
use serde_json::Value;

const BENCH: &str = env!("CARGO_BIN_EXE_syscall-bench");

fn bench(args: &[&str]) -> Result<String> {
    let out = Command::new(BENCH).args(args).output()?;
    ensure!(
        out.status.success(),
        "syscall-bench {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8(out.stdout)?)
}

fn field(line: &str, key: &str) -> u64 {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .and_then(|v| v.trim_end_matches("/s").parse().ok())
        .unwrap_or_else(|| panic!("no {key}= in {line:?}"))
}

fn counters(s: &Value) -> (u64, u64) {
    (
        s["kernel_counters"]["ringbuf_drops"].as_u64().unwrap_or(0),
        s["enforcement_counters"]["ringbuf_drops"]
            .as_u64()
            .unwrap_or(0),
    )
}

/// Registers `cg` with `policy` through `palisade oci-hook`, as the OCI runtime hook does.
fn register(agent: &Agent, cg: &Cgroup, holder: u32, policy: &str) -> Result<()> {
    let state = format!(
        r#"{{"ociVersion":"1.0.2","id":"ringbuf-test","status":"creating","pid":{holder},"bundle":"/tmp","annotations":{{"palisade.dev/policies":"{policy}"}}}}"#
    );
    let mut hook = Command::new(palisade_bin()?)
        .arg("--socket")
        .arg(&agent.socket)
        .args(["oci-hook", "createRuntime"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    hook.stdin
        .take()
        .context("stdin")?
        .write_all(state.as_bytes())?;
    let out = hook.wait_with_output()?;
    ensure!(
        out.status.success(),
        "oci-hook refused {}: {}",
        cg.path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

struct Stopped(u32);
impl Drop for Stopped {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the agent child this test started.
        unsafe { libc::kill(self.0 as i32, libc::SIGCONT) };
    }
}

#[test]
fn denied_connects_stay_denied_with_the_agent_frozen_and_both_ring_buffers_full() -> Result<()> {
    require_root();
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    // accept whatever gets through, so a leak shows up as `connected`, not as a timeout
    std::thread::spawn(move || {
        for s in listener.incoming() {
            drop(s)
        }
    });
    let dir = tempfile::tempdir()?;
    std::fs::write(
        dir.path().join("deny.yaml"),
        format!(
            "apiVersion: palisade.dev/v1alpha1\nkind: Policy\nmetadata:\n  name: ringbuf-deny\n  description: test\nspec:\n  rules:\n    - name: no-port\n      operations: [connect]\n      destinations: [\"127.0.0.1/32:{port}\"]\n      action: deny\n"
        ),
    )?;
    let policy_dir = dir.path().display().to_string();
    let agent = Agent::start(&["--policy-dir", &policy_dir, "--detect-host"])?;
    let cg = Cgroup::new("ringbuf-full")?;
    let mut holder = Command::new("sleep");
    holder.arg("600");
    cg.enter_before_exec(&mut holder);
    let mut holder = holder.spawn()?;
    let cgpath = cg.path.display().to_string();
    let result = (|| -> Result<()> {
        register(&agent, &cg, holder.id(), "ringbuf-deny")?;
        // the rule works while the agent runs
        let warm = bench(&["connect-denied", "100", &port.to_string(), &cgpath])?;
        ensure!(field(&warm, "denied") == 100, "policy not enforced: {warm}");
        let before = counters(&agent.status()?);

        // SAFETY: kill(2) on our own agent child.
        unsafe { libc::kill(agent.pid() as i32, libc::SIGSTOP) };
        let stopped = Stopped(agent.pid());
        // fill the event ring buffer: refused connects to a closed port, one tcp_connect
        // record each, with nobody reading (a rare self-connect is just one more record)
        let closed = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let flood =
            std::thread::spawn(move || bench(&["connect-rate", "20000", "4", &closed.to_string()]));
        // meanwhile: 50,000 denied connects from the protected cgroup (decision records: the
        // 4 MiB decision ring fills after a few hundred)
        let denied = bench(&["connect-denied", "50000", &port.to_string(), &cgpath])?;
        let flood = flood.join().expect("flood thread")?;
        // and once more after the flood, with both buffers certainly full
        let after = bench(&["connect-denied", "5000", &port.to_string(), &cgpath])?;
        drop(stopped); // SIGCONT
        eprintln!(
            "frozen agent: {} / {}; flood: {}",
            denied.trim(),
            after.trim(),
            flood.trim()
        );
        for (what, line, n) in [
            ("during the flood", &denied, 50_000),
            ("after it", &after, 5_000),
        ] {
            ensure!(
                field(line, "denied") == n && field(line, "connected") == 0,
                "{what}: a denied connect was not denied with EPERM while the agent was frozen: {line}"
            );
        }
        // the agent catches up and reports what it could not read
        std::thread::sleep(Duration::from_secs(2));
        let now = counters(&agent.status()?);
        eprintln!("ring-buffer drops (events, decisions): before {before:?}, after {now:?}");
        ensure!(
            now.0 > before.0,
            "the event ring buffer never overflowed ({before:?} -> {now:?}): the flood did not fill it, so this test proved nothing"
        );
        ensure!(
            now.1 > before.1,
            "the decision ring buffer never overflowed ({before:?} -> {now:?}): this test proved nothing"
        );
        // and keeps enforcing
        let last = bench(&["connect-denied", "100", &port.to_string(), &cgpath])?;
        ensure!(field(&last, "denied") == 100, "after SIGCONT: {last}");
        Ok(())
    })();
    let _ = holder.kill();
    let _ = holder.wait();
    result
}
