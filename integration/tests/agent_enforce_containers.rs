//! Annotation-driven enforcement through the agent with real containerd (host): a pod annotated
//! `palisade.dev/policies` is bound to its policy at NRI StartContainer, before the entrypoint's
//! first instruction, and its forbidden connect() fails inline (cgroup BPF works on this host;
//! the file hooks are proven in the kernel lab). Needs root and containerd (see agent_nri.rs).

use std::{
    collections::HashMap,
    io::Read,
    net::TcpListener,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use anyhow::{ensure, Context, Result};
use palisade_integration::{
    agent::{require_root, Agent},
    cri::{Cri, PodSpec, BUSYBOX_IMAGE},
};
use serde_json::Value;

fn wait_registered(agent: &Agent) -> Result<()> {
    let start = Instant::now();
    while agent.status()?["nri"] != "registered" {
        ensure!(
            start.elapsed() < Duration::from_secs(15),
            "agent never registered with NRI"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// Counts connections accepted on a loopback port.
fn listener() -> Result<(u16, Arc<AtomicUsize>)> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    let port = l.local_addr()?.port();
    let n = Arc::new(AtomicUsize::new(0));
    let n2 = Arc::clone(&n);
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            n2.fetch_add(1, Ordering::SeqCst);
            let mut s = s;
            let _ = s.read(&mut [0u8; 16]);
        }
    });
    Ok((port, n))
}

fn exit_of<'a>(evs: &'a [Value], pod: &str) -> Option<&'a Value> {
    evs.iter().filter_map(|e| e.get("process_exit")).find(|x| {
        x["process"]["pod"]["name"] == pod
            && x["process"]["arguments"]
                .as_str()
                .is_some_and(|a| a.contains("nc "))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn annotated_pod_is_enforced_from_its_first_instruction() -> Result<()> {
    require_root();
    let mut cri = Cri::connect().await?;
    let agent = Agent::start(&["--nri-socket", "/var/run/nri/nri.sock"])?;
    wait_registered(&agent)?;
    let (port, accepted) = listener()?;
    let dir = tempfile::tempdir()?;
    let policy = dir.path().join("deny-port.yaml");
    std::fs::write(
        &policy,
        format!(
            "apiVersion: palisade.dev/v1alpha1\nkind: Policy\nmetadata:\n  name: deny-test-port\n  description: test\n\
             spec:\n  rules:\n    - name: no-test-port\n      operations: [connect]\n      destinations: [\"127.0.0.1/32:{port}\"]\n      action: deny\n"
        ),
    )?;
    agent.cli(&["policy", "add", policy.to_str().unwrap()])?;
    ensure!(agent.cli(&["policy", "list"])?.contains("deny-test-port"));

    let ns = format!("pal-enf-{}", std::process::id());
    // the entrypoint connects as its very first action
    let cmd = format!("nc 127.0.0.1 {port} </dev/null; echo rc=$?; exit 0");
    let mut pods = Vec::new();
    let run = |name: &str, annotations: HashMap<String, String>| {
        let spec = PodSpec {
            name: name.into(),
            namespace: ns.clone(),
            uid: format!("{ns}-{name}"),
            annotations,
            ..Default::default()
        };
        (spec, cmd.clone())
    };
    let protected = run(
        "protected",
        HashMap::from([(
            "palisade.dev/policies".to_owned(),
            "deny-test-port".to_owned(),
        )]),
    );
    let open = run("open", HashMap::new());
    let unknown = run(
        "unknown",
        HashMap::from([(
            "palisade.dev/policies".to_owned(),
            "no-such-policy".to_owned(),
        )]),
    );
    let outcome = async {
        let mut results = Vec::new();
        for (spec, cmd) in [&protected, &open, &unknown] {
            let pod_id = cri.run_pod(spec).await?;
            pods.push(pod_id.clone());
            let cid = cri
                .create_container(
                    &pod_id,
                    spec,
                    "app",
                    BUSYBOX_IMAGE,
                    &["/bin/sh", "-c", cmd],
                    HashMap::new(),
                )
                .await?;
            results.push(cri.start_container(&cid).await);
        }
        anyhow::Ok(results)
    }
    .await;
    let evs = agent.wait_events(Duration::from_secs(20), |e| {
        exit_of(e, "protected").is_some() && exit_of(e, "open").is_some()
    })?;
    for p in &pods {
        let _ = cri.remove_pod(p).await;
    }
    let results = outcome?;
    ensure!(
        results[0].is_ok() && results[1].is_ok(),
        "known pods start: {results:?}"
    );
    let refused = results[2]
        .as_ref()
        .expect_err("a pod naming an unknown policy must not start");
    ensure!(
        refused.message().contains("no-such-policy"),
        "refusal names the policy: {}",
        refused.message()
    );

    // the open pod connected, the protected one did not
    ensure!(
        accepted.load(Ordering::SeqCst) == 1,
        "exactly the unprotected pod's connection arrived"
    );
    let lsm: Vec<&Value> = evs.iter().filter_map(|e| e.get("process_lsm")).collect();
    let deny = lsm
        .iter()
        .find(|l| l["process"]["pod"]["name"] == "protected")
        .with_context(|| format!("no process_lsm event for the protected pod; got {lsm:?}"))?;
    ensure!(deny["policy_name"] == "deny-test-port", "{deny}");
    ensure!(deny["action"] == "KPROBE_ACTION_OVERRIDE", "{deny}");
    ensure!(
        deny["enforcement"]["prevented"] == true
            && deny["enforcement"]["mechanism"] == "cgroup_sock_addr",
        "{deny}"
    );
    ensure!(
        deny["process"]["pod"]["namespace"] == ns.as_str()
            && deny["process"]["pod"]["container"]["name"] == "app"
    );
    ensure!(
        !lsm.iter().any(|l| l["process"]["pod"]["name"] == "open"),
        "nothing denied in the open pod"
    );
    // the decision is counted in the metrics-backed status too
    let s = agent.status()?;
    ensure!(
        s["enforcement_counters"]["decisions"].as_u64().unwrap_or(0) >= 1,
        "{s}"
    );
    Ok(())
}
