//! Issue 4 end to end on the host: the real agent registered with real containerd over NRI,
//! pods driven over CRI; every container's events carry its pod and container from the
//! entrypoint's first exec on.
//!
//! Needs containerd running (`integration/containerd/setup.sh` once, then `start.sh`); fails
//! with that instruction otherwise. Needs root.

use std::{
    collections::{HashMap, HashSet},
    time::{Duration, Instant},
};

use anyhow::{Context, Result};
use palisade_integration::{
    agent::{require_root, Agent},
    cri::{Cri, PodSpec, BUSYBOX_IMAGE},
};
use serde_json::Value;

const PODS: usize = 50;

fn wait_registered(agent: &Agent) -> Result<()> {
    let start = Instant::now();
    loop {
        let s = agent.status()?;
        if s["nri"] == "registered" {
            return Ok(());
        }
        anyhow::ensure!(
            start.elapsed() < Duration::from_secs(15),
            "agent never registered with NRI: {s}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn process_of(ev: &Value) -> Option<&Value> {
    ["process_exec", "process_exit", "process_lsm"]
        .iter()
        .find_map(|k| ev.get(*k))
        .map(|b| &b["process"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_pods_back_to_back_carry_pod_metadata_from_the_first_exec() -> Result<()> {
    require_root();
    let mut cri = Cri::connect().await?;
    let agent = Agent::start(&["--nri-socket", "/var/run/nri/nri.sock"])?;
    wait_registered(&agent)?;
    let ns = format!("pal-agent-{}", std::process::id());
    let mut pods = Vec::new();
    let mut expected: HashMap<String, (String, String)> = HashMap::new(); // container id -> (pod, container name)
    let run = async {
        for i in 0..PODS {
            let spec = PodSpec {
                name: format!("web-{i}"),
                namespace: ns.clone(),
                uid: format!("{ns}-uid-{i}"),
                ..Default::default()
            };
            let pod_id = cri.run_pod(&spec).await?;
            pods.push(pod_id.clone());
            let name = format!("app-{i}");
            let cid = cri
                .create_container(
                    &pod_id,
                    &spec,
                    &name,
                    BUSYBOX_IMAGE,
                    &["/bin/sh", "-c", "echo started; exit 0"],
                    HashMap::new(),
                )
                .await?;
            cri.start_container(&cid)
                .await
                .with_context(|| format!("StartContainer {name}"))?;
            expected.insert(cid, (spec.name.clone(), name));
        }
        anyhow::Ok(())
    };
    let outcome = run.await;
    // wait until every entrypoint's exec and exit were exported
    let evs = agent.wait_events(Duration::from_secs(30), |evs| {
        let seen: HashSet<String> = evs
            .iter()
            .filter(|e| e.get("process_exit").is_some())
            .filter_map(|e| {
                process_of(e)?["pod"]["container"]["id"]
                    .as_str()
                    .map(str::to_owned)
            })
            .collect();
        expected
            .keys()
            .all(|id| seen.contains(&format!("containerd://{id}")))
    })?;
    for p in &pods {
        let _ = cri.remove_pod(p).await;
    }
    outcome?;

    // cgroup ids of the containers, learnt from their own events
    let mut cgroups: HashMap<u64, String> = HashMap::new();
    for (cid, (pod, cname)) in &expected {
        let full = format!("containerd://{cid}");
        let execs: Vec<&Value> = evs
            .iter()
            .filter_map(|e| e.get("process_exec"))
            .filter(|e| e["process"]["pod"]["container"]["id"] == full.as_str())
            .collect();
        anyhow::ensure!(
            !execs.is_empty(),
            "no process_exec for container {cname} ({cid})"
        );
        let entry = execs[0];
        let p = &entry["process"];
        anyhow::ensure!(
            p["arguments"] == "-c \"echo started; exit 0\"",
            "first exec of {cname} is not the entrypoint: {p}"
        );
        anyhow::ensure!(
            p["pod"]["name"] == pod.as_str() && p["pod"]["namespace"] == ns.as_str(),
            "{p}"
        );
        anyhow::ensure!(p["pod"]["container"]["name"] == cname.as_str(), "{p}");
        anyhow::ensure!(
            p["pod"]["container"]["image"]["name"] == BUSYBOX_IMAGE,
            "image: {p}"
        );
        anyhow::ensure!(
            p["docker"].as_str().is_some_and(|d| cid.starts_with(d)),
            "docker field: {p}"
        );
        cgroups.insert(p["cgroup_id"].as_u64().context("cgroup_id")?, cname.clone());
    }
    // no exec/exit in those cgroups lacks the pod
    let bare: Vec<&Value> = evs
        .iter()
        .filter(|e| {
            process_of(e).is_some_and(|p| {
                p["cgroup_id"]
                    .as_u64()
                    .is_some_and(|c| cgroups.contains_key(&c))
                    && p.get("pod").is_none()
            })
        })
        .collect();
    anyhow::ensure!(
        bare.is_empty(),
        "{} container events without pod metadata, e.g. {}",
        bare.len(),
        bare[0]
    );
    let s = agent.status()?;
    eprintln!(
        "status after {PODS} pods: containers tracked {}, events {}",
        s["containers"], s["events"]
    );
    Ok(())
}
