//! Issue 4: restarts. (1) The agent dies and comes back: a container started while it was down
//! starts unprotected (containerd does not wait for an absent plugin) and is bound to its
//! policies when the new agent registers and containerd's Synchronize lists it. (2) containerd
//! is killed and restarted: the agent re-registers by itself and new pods are enforced again.
//! Needs root and containerd (see agent_nri.rs).

use std::{
    collections::HashMap,
    net::TcpListener,
    time::{Duration, Instant},
};

use anyhow::{ensure, Context, Result};
use palisade_integration::{
    agent::{require_root, Agent},
    cri::{containerd_pid, run_script, Cri, PodSpec, BUSYBOX_IMAGE},
};
use serde_json::Value;

fn wait_nri(agent: &Agent, want: &str, timeout: Duration) -> Result<()> {
    let start = Instant::now();
    while agent.status()?["nri"] != want {
        ensure!(
            start.elapsed() < timeout,
            "agent NRI state never became {want}: {}",
            agent.status()?
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

fn policy(dir: &std::path::Path, port: u16) -> Result<std::path::PathBuf> {
    let p = dir.join("deny-restart-port.yaml");
    std::fs::write(
        &p,
        format!(
            "apiVersion: palisade.dev/v1alpha1\nkind: Policy\nmetadata:\n  name: deny-restart-port\n  description: t\n\
             spec:\n  rules:\n    - name: r\n      operations: [connect]\n      destinations: [\"127.0.0.1/32:{port}\"]\n      action: deny\n"
        ),
    )?;
    Ok(p)
}

fn denied_in(evs: &[Value], pod: &str) -> bool {
    evs.iter()
        .filter_map(|e| e.get("process_lsm"))
        .any(|l| l["process"]["pod"]["name"] == pod)
}

/// Runs pod `name` with one container running `cmd`; records the pod id for clean-up.
async fn start_pod(
    cri: &mut Cri,
    pods: &mut Vec<String>,
    ns: &str,
    name: &str,
    annotations: &HashMap<String, String>,
    cmd: &str,
) -> Result<()> {
    let spec = PodSpec {
        name: name.into(),
        namespace: ns.into(),
        uid: format!("{ns}-{name}"),
        annotations: annotations.clone(),
        ..Default::default()
    };
    let pod = cri.run_pod(&spec).await?;
    pods.push(pod.clone());
    let c = cri
        .create_container(
            &pod,
            &spec,
            "app",
            BUSYBOX_IMAGE,
            &["/bin/sh", "-c", cmd],
            HashMap::new(),
        )
        .await?;
    cri.start_container(&c).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_and_containerd_restarts_are_survived() -> Result<()> {
    require_root();
    let mut cri = Cri::connect().await?;
    // accept and close at once, counting: a connection left in the backlog would block nc
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let acc = std::sync::Arc::clone(&accepted);
    std::thread::spawn(move || {
        for s in listener.incoming() {
            drop(s);
            acc.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    let dir = tempfile::tempdir()?;
    let pdir = dir.path().join("policies");
    std::fs::create_dir(&pdir)?;
    policy(&pdir, port)?;
    let pd = pdir.to_str().unwrap().to_owned();
    let ns = format!("pal-restart-{}", std::process::id());
    let annotations = HashMap::from([(
        "palisade.dev/policies".to_owned(),
        "deny-restart-port".to_owned(),
    )]);
    // the container keeps trying to connect, once per 300 ms
    let cmd = format!("while true; do nc -w 1 127.0.0.1 {port} </dev/null; sleep 0.3; done");
    let mut pods = Vec::new();

    let first = Agent::start(&["--nri-socket", "/var/run/nri/nri.sock", "--policy-dir", &pd])?;
    wait_nri(&first, "registered", Duration::from_secs(15))?;
    first.kill()?; // SIGKILL: the plugin connection drops with it

    let result = async {
        // (1) started while no agent runs: containerd starts it anyway
        start_pod(&mut cri, &mut pods, &ns, "while-down", &annotations, &cmd)
            .await
            .context("start while the agent is down")?;
        std::thread::sleep(Duration::from_secs(1));
        let connected = accepted.load(std::sync::atomic::Ordering::SeqCst);
        ensure!(
            connected > 0,
            "with no agent the container is not protected (documented guarantee)"
        );

        let second = Agent::start(&["--nri-socket", "/var/run/nri/nri.sock", "--policy-dir", &pd])?;
        wait_nri(&second, "registered", Duration::from_secs(15))?;
        let evs = second.wait_events(Duration::from_secs(10), |e| denied_in(e, "while-down"))?;
        ensure!(
            denied_in(&evs, "while-down"),
            "after re-registration the running container is bound (Synchronize); agent log:\n{}",
            std::fs::read_to_string(&second.log).unwrap_or_default()
        );

        // (2) containerd killed and restarted: the agent re-registers on its own
        let pid = containerd_pid()?;
        // SAFETY: kill(2) on the containerd started by start.sh.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        wait_nri(&second, "disconnected", Duration::from_secs(10))?;
        run_script("start.sh")?;
        wait_nri(&second, "registered", Duration::from_secs(20))?;
        let mut cri = Cri::connect().await?;
        start_pod(
            &mut cri,
            &mut pods,
            &ns,
            "after-ctrd-restart",
            &annotations,
            &cmd,
        )
        .await?;
        let evs = second.wait_events(Duration::from_secs(10), |e| {
            denied_in(e, "after-ctrd-restart")
        })?;
        ensure!(
            denied_in(&evs, "after-ctrd-restart"),
            "a pod started after containerd's restart is enforced"
        );
        for p in &pods {
            let _ = cri.remove_pod(p).await;
        }
        anyhow::Ok(())
    }
    .await;
    if result.is_err() {
        if let Ok(mut cri) = Cri::connect().await {
            for p in &pods {
                let _ = cri.remove_pod(p).await;
            }
        }
    }
    result
}
