//! The fail-closed guard on this host (real containerd over CRI, palisade over NRI): BPF LSM
//! and fmod_ret are refused here, so the guard runs on its tracepoint fallback, which SIGKILLs
//! an unregistered container's new image before its first instruction. With
//! `--fail-closed deny` and the agent SIGKILLed, a new pod's command never runs (its CRI log
//! stays empty of its marker) while a registered pod keeps exec'ing; the restarted agent
//! disarms the guard, a new pod runs, and the guard's records from while no agent ran are
//! exported as `palisade-fail-closed` events (tracepoint_sigkill, killed, not prevented).
//! The inline (LSM) variant is proven in the kernel lab (lab_guard.rs). Needs root and
//! containerd (integration/containerd/start.sh).

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::{ensure, Context, Result};
use palisade_integration::{
    agent::{require_root, Agent},
    cri::{Cri, PodSpec, BUSYBOX_IMAGE},
};
use serde_json::Value;

/// Own cgroup tree for the test's pods: the guard's automatic root, shared with no one.
const PARENT: &str = "/palisade-guard-test";

fn wait_registered(agent: &Agent) -> Result<()> {
    let start = Instant::now();
    while agent.status()?["nri"] != "registered" {
        ensure!(
            start.elapsed() < Duration::from_secs(20),
            "agent never registered with NRI"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// Removes the pinned guard (and everything else pinned) when the test ends, however it ends:
/// a deny-mode guard left behind would keep guarding the test's cgroup tree.
struct Pins(PathBuf);
impl Drop for Pins {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn log_of(spec: &PodSpec) -> PathBuf {
    Path::new("/tmp/palisade-it-logs")
        .join(&spec.uid)
        .join("app.log")
}

fn log_has(spec: &PodSpec, what: &str) -> bool {
    std::fs::read_to_string(log_of(spec)).is_ok_and(|t| t.contains(what))
}

fn spec(ns: &str, name: &str) -> PodSpec {
    PodSpec {
        name: name.into(),
        namespace: ns.into(),
        uid: format!("{ns}-{name}"),
        cgroup_parent: PARENT.into(),
        ..Default::default()
    }
}

/// RunPodSandbox + CreateContainer + StartContainer; the pod id (if the sandbox was created)
/// and the first error.
async fn start_pod(cri: &mut Cri, spec: &PodSpec, cmd: &str) -> (Option<String>, Result<()>) {
    let _ = std::fs::remove_file(log_of(spec));
    let pod = match cri.run_pod(spec).await {
        Ok(p) => p,
        Err(e) => return (None, Err(e)),
    };
    let res = async {
        let cid = cri
            .create_container(
                &pod,
                spec,
                "app",
                BUSYBOX_IMAGE,
                &["/bin/sh", "-c", cmd],
                HashMap::new(),
            )
            .await?;
        cri.start_container(&cid)
            .await
            .map_err(|s| anyhow::anyhow!("StartContainer: {}", s.message()))
    }
    .await;
    (Some(pod), res)
}

fn guard_events(evs: &[Value]) -> Vec<&Value> {
    evs.iter()
        .filter_map(|e| e.get("process_lsm"))
        .filter(|l| l["policy_name"] == "palisade-fail-closed")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unregistered_pod_does_not_run_while_the_agent_is_dead() -> Result<()> {
    require_root();
    let mut cri = Cri::connect().await?;
    let pin = PathBuf::from(format!(
        "/sys/fs/bpf/palisade-test/guard-{}",
        std::process::id()
    ));
    let _pins = Pins(pin.clone());
    let pin_s = pin.to_str().unwrap().to_owned();
    let args = [
        "--nri-socket",
        "/var/run/nri/nri.sock",
        "--bpf-pin-dir",
        pin_s.as_str(),
        "--fail-closed",
        "deny",
    ];
    let ns = format!("pal-guard-{}", std::process::id());
    let mut pods = Vec::new();
    let outcome = async {
        let agent = Agent::start(&args)?;
        wait_registered(&agent)?;
        let a = spec(&ns, "known");
        let (pod, res) = start_pod(
            &mut cri,
            &a,
            "echo A-RAN; while true; do /bin/busybox echo A-TICK; sleep 0.3; done",
        )
        .await;
        pods.extend(pod);
        res.context("the registered pod must start")?;
        let s = agent.status()?;
        let g = &s["guard"];
        ensure!(g["mode"] == "deny" && g["active"] == false, "{g}");
        ensure!(g["mechanism"] == "tracepoint_sigkill", "{g}");
        ensure!(
            g["roots"].as_array().is_some_and(|r| r
                .iter()
                .any(|r| r.as_str().is_some_and(|r| r.ends_with(PARENT)))),
            "the pods' tree {PARENT} is a guard root: {g}"
        );

        agent.kill()?;
        std::thread::sleep(Duration::from_millis(500));
        let ticks =
            || std::fs::read_to_string(log_of(&a)).map_or(0, |t| t.matches("A-TICK").count());
        let before = ticks();
        let b = spec(&ns, "stranger");
        let (pod, res) = start_pod(&mut cri, &b, "echo B-RAN; sleep 30").await;
        pods.extend(pod);
        std::thread::sleep(Duration::from_secs(3));
        ensure!(
            !log_has(&b, "B-RAN"),
            "the unregistered pod's command ran while the agent was dead (start: {res:?})"
        );
        let after = ticks();
        ensure!(
            after > before,
            "the registered pod kept exec'ing while the guard was on ({before} -> {after})"
        );

        let agent = Agent::start(&args)?;
        wait_registered(&agent)?;
        let s = agent.status()?;
        ensure!(
            s["guard"]["active"] == false,
            "disarmed after re-registration: {}",
            s["guard"]
        );
        let d = spec(&ns, "after");
        let (pod, res) = start_pod(&mut cri, &d, "echo D-RAN; sleep 30").await;
        pods.extend(pod);
        res.context("a pod starts once the agent is back")?;
        let start = Instant::now();
        while !log_has(&d, "D-RAN") {
            ensure!(
                start.elapsed() < Duration::from_secs(15),
                "pod `after` never ran its command"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        let evs = agent.wait_events(Duration::from_secs(10), |e| !guard_events(e).is_empty())?;
        let g = guard_events(&evs);
        let e = g
            .first()
            .context("no palisade-fail-closed event exported after the restart")?;
        ensure!(
            e["enforcement"]["mechanism"] == "tracepoint_sigkill"
                && e["enforcement"]["killed"] == true
                && e["enforcement"]["prevented"] == false
                && e["enforcement"]["action"] == "deny"
                && e["enforcement"]["rule"] == "unregistered-container",
            "{e}"
        );
        ensure!(
            !e["args"][0]["path_arg"]["path"]
                .as_str()
                .unwrap_or("")
                .is_empty(),
            "the event names the binary: {e}"
        );
        let st = agent.status()?;
        ensure!(
            st["guard"]["killed"].as_u64().unwrap_or(0) >= 1,
            "{}",
            st["guard"]
        );
        drop(agent);
        anyhow::Ok(())
    }
    .await;
    for p in &pods {
        let _ = cri.remove_pod(p).await;
    }
    outcome
}
