//! palisade-nri against a real containerd 1.7 driven over CRI, like kubelet would.
//!
//! Needs a running containerd with NRI enabled: `integration/containerd/setup.sh` (once) and
//! `integration/containerd/start.sh`; fails with that instruction otherwise.

mod nri_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use nri_support::{map, percentiles, spawn_plugin, Recorder};
use palisade_integration::cri::{Cri, PodSpec, BUSYBOX_IMAGE};
use palisade_nri::{
    policy_binding, ConnectionState, ContainerState, Mode, MODE_ANNOTATION, POLICIES_ANNOTATION,
};

const PODS: usize = 12;
const REFUSED: &str = "refused";

struct Launched {
    pod: PodSpec,
    pod_id: String,
    container: String,
    container_id: String,
    cri_start: Duration,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_container_reaches_the_handler_before_the_entrypoint() -> Result<()> {
    let mut cri = Cri::connect().await?;
    let ns = format!("palisade-it-{}", std::process::id());
    let rec = Recorder::new(&ns, Some(REFUSED))?;
    let plugin = spawn_plugin(
        &format!("it-start-{}", std::process::id()),
        Arc::clone(&rec),
    );
    rec.wait_state(ConnectionState::Registered, 1, Duration::from_secs(10))
        .await?;

    let mut pod_ids = Vec::new();
    let outcome = exercise(&mut cri, &ns, &rec, &mut pod_ids).await;
    let mut cleanup = Ok(());
    for id in &pod_ids {
        if let Err(e) = cri.remove_pod(id).await {
            cleanup = Err(e);
        }
    }
    let launched = outcome?;
    cleanup?;

    // RemovePodSandbox removes the containers, each with an NRI RemoveContainer.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let removed = rec.lock().removed.clone();
        let missing: Vec<_> = launched
            .iter()
            .filter(|l| !removed.contains(&l.container_id))
            .collect();
        if missing.is_empty() {
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "no RemoveContainer for {:?}",
            missing.iter().map(|l| &l.container).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    plugin.abort();
    Ok(())
}

async fn exercise(
    cri: &mut Cri,
    ns: &str,
    rec: &Recorder,
    pod_ids: &mut Vec<String>,
) -> Result<Vec<Launched>> {
    let mut launched = Vec::new();
    for i in 0..PODS {
        let uid = format!("uid-{i}-{}", std::process::id());
        let mut pod = PodSpec {
            name: format!("pod-{i}"),
            namespace: ns.into(),
            uid: uid.clone(),
            labels: map(&[("app", "palisade-it")]),
            ..Default::default()
        };
        // Both cgroup layouts containerd produces with cgroupfs: its default and a kubelet-style parent.
        if i % 2 == 1 {
            pod.cgroup_parent = format!("/palisade-it/pod{uid}");
        }
        if i % 2 == 0 {
            pod.annotations = map(&[(POLICIES_ANNOTATION, "pod-pol"), (MODE_ANNOTATION, "audit")]);
        }
        let ctr_annotations = if i % 3 == 0 {
            map(&[(POLICIES_ANNOTATION, "ctr-a,ctr-b")])
        } else {
            map(&[])
        };
        let pod_id = cri.run_pod(&pod).await?;
        pod_ids.push(pod_id.clone());
        let container = format!("ctr-{i}");
        let container_id = cri
            .create_container(
                &pod_id,
                &pod,
                &container,
                BUSYBOX_IMAGE,
                &["sleep", "3600"],
                ctr_annotations,
            )
            .await?;
        let t0 = Instant::now();
        cri.start_container(&container_id)
            .await
            .with_context(|| format!("StartContainer {container}"))?;
        let cri_start = t0.elapsed();
        ensure!(
            cri.container_state(&container_id).await? == 1,
            "{container} is not RUNNING after StartContainer"
        );
        launched.push(Launched {
            pod,
            pod_id,
            container,
            container_id,
            cri_start,
        });
    }

    let record = rec.lock().started.clone();
    for l in &launched {
        let seen: Vec<_> = record
            .iter()
            .filter(|s| s.info.id == l.container_id)
            .collect();
        ensure!(
            seen.len() == 1,
            "{}: StartContainer seen {} times",
            l.container,
            seen.len()
        );
        let s = seen[0];
        let c = &s.info;
        ensure!(c.name == l.container, "{}: name {:?}", l.container, c.name);
        ensure!(
            c.pod_id == l.pod_id,
            "{}: pod id {:?}",
            l.container,
            c.pod_id
        );
        ensure!(
            (
                c.pod_name.as_str(),
                c.pod_namespace.as_str(),
                c.pod_uid.as_str()
            ) == (
                l.pod.name.as_str(),
                l.pod.namespace.as_str(),
                l.pod.uid.as_str()
            ),
            "{}: pod identity {}/{} uid {}",
            l.container,
            c.pod_namespace,
            c.pod_name,
            c.pod_uid
        );
        ensure!(
            c.image == BUSYBOX_IMAGE,
            "{}: image {:?}",
            l.container,
            c.image
        );
        ensure!(
            c.pod_labels.get("app").map(String::as_str) == Some("palisade-it"),
            "{}: pod labels {:?}",
            l.container,
            c.pod_labels
        );
        let parent = if l.pod.cgroup_parent.is_empty() {
            "/k8s.io"
        } else {
            l.pod.cgroup_parent.as_str()
        };
        let want_path = format!("{parent}/{}", l.container_id);
        ensure!(
            c.cgroups_path == want_path,
            "{}: cgroups_path {:?}, want {want_path:?}",
            l.container,
            c.cgroups_path
        );
        ensure!(c.pid != 0, "{}: no init pid at StartContainer", l.container);
        ensure!(
            s.cgroup_existed,
            "{}: cgroup dir {} absent at StartContainer",
            l.container,
            s.cgroup_dir.display()
        );
        ensure!(
            s.pid_in_cgroup,
            "{}: init pid {} not in {}",
            l.container,
            c.pid,
            s.cgroup_dir.display()
        );
        // runc's init keeps this name until it execs the entrypoint (after our reply).
        ensure!(
            s.init_comm == "runc:[2:INIT]",
            "{}: init process already runs {:?}",
            l.container,
            s.init_comm
        );

        let b = policy_binding(c).map_err(|e| anyhow::anyhow!("{}: {e}", l.container))?;
        let i: usize = l.container[4..].parse()?;
        let want_policies: Vec<&str> = match (i % 3 == 0, i % 2 == 0) {
            (true, _) => vec!["ctr-a", "ctr-b"],
            (false, true) => vec!["pod-pol"],
            (false, false) => vec![],
        };
        ensure!(
            b.policies == want_policies,
            "{}: policies {:?}",
            l.container,
            b.policies
        );
        ensure!(
            b.mode
                == if i % 2 == 0 {
                    Mode::Audit
                } else {
                    Mode::Enforce
                },
            "{}: mode {:?}",
            l.container,
            b.mode
        );
    }

    let handler: Vec<_> = record.iter().map(|s| s.handler_time).collect();
    let (h50, h99, hmax) = percentiles(handler);
    let (c50, c99, cmax) = percentiles(launched.iter().map(|l| l.cri_start).collect());
    println!("handler time at StartContainer over {PODS} containers: p50 {h50:.3} ms, p99 {h99:.3} ms, max {hmax:.3} ms");
    println!("CRI StartContainer round trip: p50 {c50:.1} ms, p99 {c99:.1} ms, max {cmax:.1} ms");
    ensure!(hmax < 50.0, "handler took {hmax:.1} ms at StartContainer");

    // A handler error refuses the start (fail closed).
    let pod = PodSpec {
        name: "pod-refused".into(),
        namespace: ns.into(),
        uid: format!("uid-r-{}", std::process::id()),
        ..Default::default()
    };
    let pod_id = cri.run_pod(&pod).await?;
    pod_ids.push(pod_id.clone());
    let id = cri
        .create_container(
            &pod_id,
            &pod,
            REFUSED,
            BUSYBOX_IMAGE,
            &["sleep", "3600"],
            map(&[]),
        )
        .await?;
    let err = match cri.start_container(&id).await {
        Ok(()) => {
            anyhow::bail!("containerd started a container whose StartContainer the plugin refused")
        }
        Err(status) => status,
    };
    println!(
        "refused StartContainer -> CRI error: code {:?}: {}",
        err.code(),
        err.message()
    );
    ensure!(
        err.message()
            .contains("palisade test refuses container refused"),
        "unexpected error: {}",
        err.message()
    );
    let state = cri.container_state(&id).await?;
    println!("refused container's CRI state afterwards: {state} (0 created, 1 running, 2 exited)");
    ensure!(state != 1, "refused container is RUNNING");
    let refused_pid = rec
        .lock()
        .started
        .iter()
        .find(|s| s.info.id == id)
        .map(|s| s.info.pid)
        .context("refused start not recorded")?;
    ensure!(
        !std::path::Path::new(&format!("/proc/{refused_pid}")).exists(),
        "refused container's init {refused_pid} still exists"
    );
    Ok(launched)
}

/// containerd's per-call deadline (plugin_request_timeout, 2 s here) bounds a handler: past it
/// containerd drops the plugin and starts the container anyway (fail open), so a handler must
/// answer well within it. The plugin reconnects and its Synchronize then lists the container.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_past_the_runtime_deadline_is_dropped_and_the_start_proceeds() -> Result<()> {
    let mut cri = Cri::connect().await?;
    let ns = format!("palisade-it-slow-{}", std::process::id());
    let rec = Recorder::with_slow(&ns, None, Some(("slow", Duration::from_secs(3))))?;
    let plugin = spawn_plugin(&format!("it-slow-{}", std::process::id()), Arc::clone(&rec));
    rec.wait_state(ConnectionState::Registered, 1, Duration::from_secs(10))
        .await?;
    let pod = PodSpec {
        name: "pod-slow".into(),
        namespace: ns.clone(),
        uid: format!("uid-s-{}", std::process::id()),
        ..Default::default()
    };
    let pod_id = cri.run_pod(&pod).await?;
    let outcome = async {
        let id = cri
            .create_container(
                &pod_id,
                &pod,
                "slow",
                BUSYBOX_IMAGE,
                &["sleep", "3600"],
                map(&[]),
            )
            .await?;
        let t0 = Instant::now();
        let started = cri.start_container(&id).await;
        let took = t0.elapsed();
        let state = cri.container_state(&id).await?;
        println!(
            "StartContainer with a 3 s handler: {:?} after {took:?}, CRI state {state}",
            started.as_ref().map_err(|s| s.message())
        );
        ensure!(
            started.is_ok() && state == 1,
            "expected containerd to start the container after dropping the plugin"
        );
        ensure!(
            took >= Duration::from_millis(1900) && took < Duration::from_secs(3),
            "start took {took:?}: not cut at the 2 s deadline"
        );
        rec.wait_state(ConnectionState::Registered, 2, Duration::from_secs(10))
            .await?;
        let synced = rec
            .lock()
            .syncs
            .last()
            .and_then(|s| s.iter().find(|c| c.id == id).map(|c| (c.pid, c.state)));
        ensure!(
            matches!(synced, Some((pid, ContainerState::Running)) if pid != 0),
            "after reconnecting, Synchronize lists it as {synced:?}"
        );
        anyhow::Ok(())
    }
    .await;
    cri.remove_pod(&pod_id).await?;
    plugin.abort();
    outcome
}
