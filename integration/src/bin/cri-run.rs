//! Minimal CRI driver for shell scripts (there is no crictl in the registries reachable here),
//! used inside the kernel lab guest by `integration/lab-containers/guest.sh`:
//!
//!   cri-run start NAME [--annotation K=V]... [--image IMAGE] -- CMD...
//!       RunPodSandbox (host network, namespace `lab`, uid `lab-NAME`, the annotations on the pod)
//!       + CreateContainer `app` + StartContainer. Prints `pod=<id> container=<id>`. If
//!       StartContainer is refused, prints `start-refused: <message>`, removes the pod, exits 3.
//!   cri-run rm POD                     StopPodSandbox + RemovePodSandbox
//!   cri-run add POD NAME CNAME [--image IMAGE] -- CMD...
//!       CreateContainer CNAME + StartContainer in the running pod POD that `start NAME` made.
//!       Prints `container=<id>`; a refused start prints `start-refused: <message>`, removes the
//!       container and exits 3. Its output is in /tmp/palisade-it-logs/lab-NAME/CNAME.log.
//!
//! The container's output is in containerd's CRI log: /tmp/palisade-it-logs/lab-NAME/app.log.
//! The socket is `$PALISADE_CONTAINERD_SOCKET` or /run/containerd/containerd.sock.

use std::collections::HashMap;

use anyhow::{bail, Context, Result};
use palisade_integration::cri::{Cri, PodSpec, BUSYBOX_IMAGE};

struct Start {
    name: String,
    annotations: HashMap<String, String>,
    image: String,
    command: Vec<String>,
}

fn parse_start(args: &[String]) -> Result<Start> {
    let mut it = args.iter();
    let name = it.next().context("start: NAME missing")?.clone();
    let mut s = Start {
        name,
        annotations: HashMap::new(),
        image: BUSYBOX_IMAGE.into(),
        command: Vec::new(),
    };
    while let Some(a) = it.next() {
        match a.as_str() {
            "--annotation" => {
                let kv = it.next().context("--annotation needs K=V")?;
                let (k, v) = kv.split_once('=').context("--annotation needs K=V")?;
                s.annotations.insert(k.into(), v.into());
            }
            "--image" => s.image = it.next().context("--image needs a value")?.clone(),
            "--" => {
                s.command = it.cloned().collect();
                break;
            }
            other => bail!("start: unknown argument {other}"),
        }
    }
    if s.command.is_empty() {
        bail!("start: no command after --");
    }
    Ok(s)
}

async fn start(cri: &mut Cri, s: Start) -> Result<i32> {
    let pod = PodSpec {
        name: s.name.clone(),
        namespace: "lab".into(),
        uid: format!("lab-{}", s.name),
        annotations: s.annotations,
        ..Default::default()
    };
    let pod_id = cri.run_pod(&pod).await?;
    let cmd: Vec<&str> = s.command.iter().map(String::as_str).collect();
    let cid = match cri
        .create_container(&pod_id, &pod, "app", &s.image, &cmd, HashMap::new())
        .await
    {
        Ok(c) => c,
        Err(e) => {
            let _ = cri.remove_pod(&pod_id).await;
            return Err(e);
        }
    };
    match cri.start_container(&cid).await {
        Ok(()) => {
            println!("pod={pod_id} container={cid}");
            Ok(0)
        }
        Err(status) => {
            println!("start-refused: {}", status.message());
            cri.remove_pod(&pod_id).await?;
            Ok(3)
        }
    }
}

async fn add(cri: &mut Cri, pod_id: &str, cname: &str, s: Start) -> Result<i32> {
    let pod = PodSpec {
        name: s.name.clone(),
        namespace: "lab".into(),
        uid: format!("lab-{}", s.name),
        ..Default::default()
    };
    let cmd: Vec<&str> = s.command.iter().map(String::as_str).collect();
    let cid = cri
        .create_container(pod_id, &pod, cname, &s.image, &cmd, s.annotations)
        .await?;
    match cri.start_container(&cid).await {
        Ok(()) => {
            println!("container={cid}");
            Ok(0)
        }
        Err(status) => {
            println!("start-refused: {}", status.message());
            let _ = cri.remove_container(&cid).await;
            Ok(3)
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (verb, rest) = args.split_first().context("usage: cri-run start|rm ...")?;
    let mut cri = Cri::connect().await?;
    let code = match verb.as_str() {
        "start" => start(&mut cri, parse_start(rest)?).await?,
        "rm" => {
            cri.remove_pod(rest.first().context("rm: POD missing")?)
                .await?;
            0
        }
        "add" => {
            let (pod_id, rest) = rest.split_first().context("add: POD missing")?;
            let (name, rest) = rest.split_first().context("add: NAME missing")?;
            let (cname, rest) = rest.split_first().context("add: CNAME missing")?;
            let mut args = vec![name.clone()];
            args.extend_from_slice(rest);
            add(&mut cri, pod_id, cname, parse_start(&args)?).await?
        }
        other => bail!("unknown verb {other}: start|rm|add"),
    };
    std::process::exit(code)
}
