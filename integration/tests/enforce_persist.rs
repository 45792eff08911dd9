//! Issue 7, enforcement part: a policy bound to a cgroup stays enforced while no agent runs.
//! Network enforcement is inline on this host (cgroup connect programs), so an attacker in the
//! bound cgroup connects in a tight loop to a local listener while the agent is SIGKILLed,
//! restarted (pinned maps reused), stopped with SIGTERM and started again through the upgrade
//! path (`PALISADE_ENFORCE_MIGRATE=1`: fresh maps, every policy and binding re-written). Not
//! one connection may get through, the new agents report what they adopted, and the decisions
//! made while no agent ran are exported by the next one. Needs root.

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use palisade_integration::agent::{palisade_bin, require_root, Agent};
use palisade_integration::cgroup::Cgroup;
use serde_json::Value;

/// Removes the test's pin directory (and with it every pinned program) even on panic.
struct Pins(PathBuf);
impl Drop for Pins {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Kills the attacker if the test fails before it is told to stop.
struct Reaper(std::process::Child);
impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_file(p: &Path, timeout: Duration) -> Result<()> {
    let start = Instant::now();
    while !p.exists() {
        if start.elapsed() > timeout {
            bail!("{} did not appear within {timeout:?}", p.display());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

/// connect4 decisions to `port` in an agent's export.
fn decisions_to(agent: &Agent, port: u16) -> Result<usize> {
    let want = format!("127.0.0.1:{port}");
    // read the export directly: the agent may be writing its last line right now
    let text = std::fs::read_to_string(&agent.events).unwrap_or_default();
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| {
            let lsm = &e["process_lsm"];
            lsm["function_name"] == "cgroup/connect4"
                && lsm["args"][0]["string_arg"] == want.as_str()
                && lsm["enforcement"]["prevented"] == true
        })
        .count())
}

fn wait_decisions(agent: &Agent, port: u16, n: usize) -> Result<usize> {
    let start = Instant::now();
    loop {
        let got = decisions_to(agent, port)?;
        if got >= n || start.elapsed() > Duration::from_secs(20) {
            return Ok(got);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn adopted(agent: &Agent) -> Result<Value> {
    Ok(agent.status()?["enforcement"]["adopted"].clone())
}

/// The attacker makes BURST connects to the burst port and confirms, while no agent runs.
const BURST: usize = 100;

#[test]
fn connect_stays_denied_across_agent_kill_restart_and_upgrade() -> Result<()> {
    require_root();
    let listener = TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let burst_listener = TcpListener::bind("127.0.0.1:0")?;
    burst_listener.set_nonblocking(true)?;
    let (port, bport) = (
        listener.local_addr()?.port(),
        burst_listener.local_addr()?.port(),
    );
    let dir = tempfile::tempdir()?;
    let d = dir.path();
    let policies = d.join("policies");
    std::fs::create_dir(&policies)?;
    std::fs::write(
        policies.join("persist-deny.yaml"),
        format!(
            "apiVersion: palisade.dev/v1alpha1\nkind: Policy\nmetadata:\n  name: persist-deny\n  description: test\nspec:\n  rules:\n    - name: no-listener\n      operations: [connect]\n      destinations: [\"127.0.0.1/32:{port}\", \"127.0.0.1/32:{bport}\"]\n      action: deny\n"
        ),
    )?;
    let pins = Pins(PathBuf::from(format!(
        "/sys/fs/bpf/palisade-test/persist-{}",
        std::process::id()
    )));
    let _ = std::fs::remove_dir_all(&pins.0);
    let pin_s = pins.0.display().to_string();
    let pol_s = policies.display().to_string();
    let flags = ["--bpf-pin-dir", &pin_s, "--policy-dir", &pol_s];

    let first = Agent::start(&flags)?;
    let cg = Cgroup::new("persist")?;
    // attempts to `port` in a tight loop (paced to ~2000/s, which the agent keeps up with: a
    // faster loop keeps the 4 MiB decision ring buffer full, and the BURST records below would
    // be counted as drops instead of exported); on `burst`, exactly BURST attempts to `bport`
    let script = format!(
        "D={d}; mkfifo $D/pace; exec 9<>$D/pace
         while [ ! -e $D/go ]; do sleep 0.01; done; n=0; ok=0; b=0
         while [ ! -e $D/stop ]; do
           if [ -e $D/burst ]; then rm $D/burst
             for i in $(seq {BURST}); do n=$((n+1)); b=$((b+1)); if exec 3<>/dev/tcp/127.0.0.1/{bport}; then ok=$((ok+1)); exec 3>&-; fi; done
             touch $D/burst-done-$b
           fi
           n=$((n+1)); if exec 3<>/dev/tcp/127.0.0.1/{port}; then ok=$((ok+1)); exec 3>&-; fi
           read -t 0.0005 -u 9
         done 2>/dev/null; echo attempts=$n leaked=$ok",
        d = d.display()
    );
    let mut cmd = Command::new("bash");
    cmd.args(["-c", &script]).stdout(Stdio::piped());
    cg.enter_before_exec(&mut cmd);
    let mut attacker = Reaper(cmd.spawn().context("starting the attacker")?);
    let register = |id: &str, pid: u32| -> Result<()> {
        let state = format!(
            r#"{{"ociVersion":"1.0.2","id":"{id}","status":"creating","pid":{pid},"bundle":"{}","annotations":{{"palisade.dev/policies":"persist-deny"}}}}"#,
            d.display()
        );
        let mut hook = Command::new(palisade_bin()?)
            .arg("--socket")
            .arg(&first.socket)
            .arg("oci-hook")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()?;
        std::io::Write::write_all(&mut hook.stdin.take().context("stdin")?, state.as_bytes())?;
        assert!(
            hook.wait()?.success(),
            "oci-hook registration of {id} refused"
        );
        Ok(())
    };
    register("persist", attacker.0.id())?;
    // a second bound cgroup that is gone by the time the next agent starts
    let gone = Cgroup::new("persist-gone")?;
    let mut sleeper = Command::new("sleep");
    sleeper.arg("60");
    gone.enter_before_exec(&mut sleeper);
    let sleeper = Reaper(sleeper.spawn()?);
    register("persist-gone", sleeper.0.id())?;
    std::fs::write(d.join("go"), "")?;
    assert!(
        wait_decisions(&first, port, 50)? >= 50,
        "the first agent reports no denials"
    );

    // 1. crash: SIGKILL mid-loop, then BURST attempts while no agent runs
    first.kill()?;
    drop(sleeper);
    drop(gone);
    std::fs::write(d.join("burst"), "")?;
    wait_file(
        &d.join(format!("burst-done-{BURST}")),
        Duration::from_secs(20),
    )?;
    std::thread::sleep(Duration::from_millis(500)); // and the tight loop goes on, unobserved
    let second = Agent::start(&flags)?;
    let a = adopted(&second)?;
    assert_eq!(a["policies"], 1, "adopted: {a}");
    assert_eq!(a["cgroups"], 1, "adopted: {a}");
    assert_eq!(a["dropped_cgroups"], 1, "adopted: {a}");
    assert_eq!(a["path"], "reused", "adopted: {a}");
    let text = second.cli(&["status"])?;
    assert!(
        text.contains("enforcement adopted from a previous agent (1 policies, 1 cgroups"),
        "status text:\n{text}"
    );
    let list: Value = serde_json::from_str(&second.cli(&["policy", "list", "-o", "json"])?)?;
    assert!(
        list.to_string().contains("persist-deny"),
        "policy list: {list}"
    );
    assert_eq!(
        wait_decisions(&second, bport, BURST)?,
        BURST,
        "every decision made while no agent ran reaches the next agent's export"
    );
    let before = decisions_to(&second, port)?;
    assert!(
        wait_decisions(&second, port, before + 50)? >= before + 50,
        "the second agent reports new denials"
    );

    // 2. upgrade: clean stop (enforcement stays pinned), BURST more, then the migrate path
    std::thread::sleep(Duration::from_secs(2)); // the backlog from while no agent ran is drained
    second.stop()?;
    std::fs::write(d.join("burst"), "")?;
    wait_file(
        &d.join(format!("burst-done-{}", 2 * BURST)),
        Duration::from_secs(20),
    )?;
    std::env::set_var("PALISADE_ENFORCE_MIGRATE", "1");
    let third = Agent::start(&flags);
    std::env::remove_var("PALISADE_ENFORCE_MIGRATE");
    let third = third?;
    let a = adopted(&third)?;
    assert_eq!(a["path"], "migrated", "adopted: {a}");
    assert_eq!(a["policies"], 1, "adopted: {a}");
    assert_eq!(a["cgroups"], 1, "adopted: {a}");
    assert_eq!(
        wait_decisions(&third, bport, BURST)?,
        BURST,
        "the previous ring buffer is drained on the migrate path"
    );
    // the adopted binding is known by name: deleting its policy is refused, not half-done
    let del = third.cli(&["policy", "delete", "persist-deny"]);
    assert!(
        del.as_ref()
            .is_err_and(|e| e.to_string().contains("bound to 1 running cgroup")),
        "deleting a policy bound to an adopted cgroup: {del:?}"
    );
    let before = decisions_to(&third, port)?;
    assert!(
        wait_decisions(&third, port, before + 50)? >= before + 50,
        "the migrated maps deny"
    );

    std::fs::write(d.join("stop"), "")?;
    let mut out = String::new();
    attacker
        .0
        .stdout
        .take()
        .context("attacker stdout")?
        .read_to_string(&mut out)?;
    attacker.0.wait()?;
    let attempts: u64 = out
        .split("attempts=")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(out.contains("leaked=0"), "connections got through: {out}");
    assert!(attempts > 1000, "too few attempts to prove anything: {out}");
    let mut accepted = 0;
    for l in [&listener, &burst_listener] {
        while let Ok((mut s, _)) = l.accept() {
            let _ = s.read(&mut [0u8; 1]);
            accepted += 1;
        }
    }
    assert_eq!(accepted, 0, "the listeners saw connections");
    // every denial is either a record or a counted drop (old and new programs overlap for a
    // moment at each hand-over, so some attempts are decided twice)
    let c = &third.status()?["enforcement_counters"];
    let total = c["decisions"].as_u64().unwrap_or(0) + c["ringbuf_drops"].as_u64().unwrap_or(0);
    assert!(
        total >= attempts,
        "{attempts} attempts but only {total} decisions counted: {c}"
    );
    println!(
        "attempts={attempts} accepted=0 counters={c} (decisions exported by agent 2/3 from while none ran: {BURST}/{BURST})"
    );

    // removing the pins (what uninstall.sh does) really stops enforcement
    drop(third);
    drop(pins);
    let mut probe = Command::new("bash");
    probe.args(["-c", &format!("exec 3<>/dev/tcp/127.0.0.1/{port}")]);
    cg.enter_before_exec(&mut probe);
    assert!(
        probe.status()?.success(),
        "the cgroup is still denied after the pins were removed"
    );
    Ok(())
}
