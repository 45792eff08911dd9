//! Network enforcement on this host, for real: `palisade run` with a connect rule denies
//! connect()/sendto() inline (EPERM) through the cgroup sock_addr programs, only for the
//! destinations the policy names and only inside its cgroup, and keeps denying while the
//! policy is replaced over and over (no window between old and new). Needs root.

use std::io::Read;
use std::net::{TcpListener, UdpSocket};
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use anyhow::{Context, Result};
use palisade_integration::agent::{palisade_bin, require_root};
use serde_json::Value;

fn policy(dir: &Path, name: &str, dest: &str) -> Result<std::path::PathBuf> {
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(
        &path,
        format!(
            "apiVersion: palisade.dev/v1alpha1\nkind: Policy\nmetadata:\n  name: {name}\n  description: test\nspec:\n  rules:\n    - name: no-dest\n      operations: [connect]\n      destinations: [\"{dest}\"]\n      action: deny\n"
        ),
    )?;
    Ok(path)
}

fn run(policy: &Path, events: &Path, extra: &[&str], cmd: &[&str]) -> Result<Output> {
    let mut c = Command::new(palisade_bin()?);
    c.arg("run")
        .arg("--policy")
        .arg(policy)
        .arg("--events")
        .arg(events);
    c.args(extra).arg("--").args(cmd);
    c.output().context("running palisade run")
}

fn decisions(events: &Path) -> Vec<Value> {
    std::fs::read_to_string(events)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn need(tool: &str) {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output();
    assert!(
        found.is_ok_and(|o| o.status.success()),
        "this test needs `{tool}` on PATH (apt-get install {tool})"
    );
}

#[test]
fn tcp_connect_to_a_denied_destination_fails_inline_and_others_work() -> Result<()> {
    require_root();
    need("bash");
    let denied = TcpListener::bind("127.0.0.1:0")?;
    let allowed = TcpListener::bind("127.0.0.1:0")?;
    let (dport, aport) = (denied.local_addr()?.port(), allowed.local_addr()?.port());
    let dir = tempfile::tempdir()?;
    let pol = policy(
        dir.path(),
        "deny-one-port",
        &format!("127.0.0.1/32:{dport}"),
    )?;
    let ev = dir.path().join("events.json");

    let script = format!(
        "exec 3<>/dev/tcp/127.0.0.1/{aport} || exit 10; exec 3>&-; exec 4<>/dev/tcp/127.0.0.1/{dport} && exit 0; exit 20"
    );
    let out = run(&pol, &ev, &[], &["bash", "-c", &script])?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(20),
        "allowed port must connect, denied must fail; stderr:\n{stderr}"
    );
    assert!(
        stderr.contains("Operation not permitted"),
        "denied connect must fail with EPERM:\n{stderr}"
    );

    let d = decisions(&ev);
    let hit = d
        .iter()
        .find(|e| e["hook"] == "connect4")
        .unwrap_or_else(|| panic!("no connect4 decision in {d:?}"));
    assert_eq!(hit["path"], format!("127.0.0.1:{dport}"));
    assert_eq!(hit["policy"], "deny-one-port");
    assert_eq!(hit["rule"], "no-dest");
    assert_eq!(hit["mechanism"], "cgroup_sock_addr");
    assert_eq!(hit["prevented"], true);
    assert_eq!(hit["errno"], 1);
    assert!(
        d.iter().all(|e| e["path"] != format!("127.0.0.1:{aport}")),
        "the allowed destination produced a decision: {d:?}"
    );

    // outside the policy's cgroup the same destination is reachable
    std::net::TcpStream::connect(("127.0.0.1", dport))
        .context("connect from outside the cgroup")?;
    Ok(())
}

#[test]
fn udp_sendto_to_a_denied_destination_fails_inline() -> Result<()> {
    require_root();
    need("python3");
    let sink = UdpSocket::bind("127.0.0.1:0")?;
    sink.set_read_timeout(Some(Duration::from_millis(300)))?;
    let port = sink.local_addr()?.port();
    let dir = tempfile::tempdir()?;
    let pol = policy(dir.path(), "deny-udp", &format!("127.0.0.1/32:{port}"))?;
    let ev = dir.path().join("events.json");
    let py = format!(
        "import socket,sys\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ntry:\n  s.sendto(b'x',('127.0.0.1',{port}))\nexcept PermissionError:\n  sys.exit(20)\nsys.exit(0)"
    );
    let out = run(&pol, &ev, &[], &["python3", "-c", &py])?;
    assert_eq!(
        out.status.code(),
        Some(20),
        "sendto must fail with EPERM: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut buf = [0u8; 8];
    assert!(
        sink.recv(&mut buf).is_err(),
        "the datagram arrived although it was denied"
    );
    assert!(
        decisions(&ev)
            .iter()
            .any(|e| e["hook"] == "sendmsg4" && e["prevented"] == true),
        "no sendmsg4 decision: {:?}",
        decisions(&ev)
    );
    Ok(())
}

/// The policy is re-applied every few milliseconds (new set written, binding flipped in one
/// update, old set deleted after a grace period) while the workload connects in a tight loop:
/// not a single connection may get through.
#[test]
fn connect_stays_denied_while_the_policy_is_replaced() -> Result<()> {
    require_root();
    need("bash");
    let denied = TcpListener::bind("127.0.0.1:0")?;
    denied.set_nonblocking(true)?;
    let port = denied.local_addr()?.port();
    let dir = tempfile::tempdir()?;
    let pol = policy(dir.path(), "swap", &format!("127.0.0.1/32:{port}"))?;
    let ev = dir.path().join("events.json");
    // three seconds of attempts: dozens of replacements happen meanwhile
    let script = format!(
        "n=0; ok=0; end=$((SECONDS+3)); while [ $SECONDS -lt $end ]; do n=$((n+1)); if exec 3<>/dev/tcp/127.0.0.1/{port}; then ok=$((ok+1)); exec 3>&-; fi; done 2>/dev/null; echo attempts=$n leaked=$ok"
    );
    let out = run(
        &pol,
        &ev,
        &["--reapply-every-ms", "2"],
        &["bash", "-c", &script],
    )?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stdout.contains("leaked=0"),
        "connections got through during replacement: {stdout}\n{stderr}"
    );
    let swaps: u64 = stderr
        .split("re-applied ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        swaps >= 10,
        "the policy was replaced only {swaps} times; the test proves nothing:\n{stderr}"
    );
    let attempts: usize = stdout
        .split("attempts=")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(attempts > 100, "too few attempts ({attempts}): {stdout}");
    let denials = decisions(&ev)
        .iter()
        .filter(|e| e["hook"] == "connect4")
        .count();
    assert_eq!(
        denials, attempts,
        "every attempt must be denied and reported"
    );
    let mut accepted = 0;
    while let Ok((mut s, _)) = denied.accept() {
        let _ = s.read(&mut [0u8; 1]);
        accepted += 1;
    }
    assert_eq!(accepted, 0, "the listener saw connections");
    Ok(())
}
