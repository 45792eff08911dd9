//! What the NRI plugin adds to a pod start: RunPodSandbox + CreateContainer + StartContainer
//! timed over CRI with and without the plugin registered, alternating blocks in one run, plus
//! the handler's own time at StartContainer. Prints the figures; fails if the overhead is not
//! bounded.
//!
//! Needs containerd from `integration/containerd/start.sh` and no other NRI plugin connected.

mod nri_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Result};
use nri_support::{percentiles, spawn_plugin, Recorder};
use palisade_integration::cri::{Cri, PodSpec, BUSYBOX_IMAGE};
use palisade_nri::ConnectionState;

const BLOCKS: usize = 3;
const PER_BLOCK: usize = 10;

async fn pod_start(cri: &mut Cri, ns: &str, n: usize) -> Result<Duration> {
    let pod = PodSpec {
        name: format!("lat-{n}"),
        namespace: ns.into(),
        uid: format!("lat-{n}-{}", std::process::id()),
        ..Default::default()
    };
    let t0 = Instant::now();
    let pod_id = cri.run_pod(&pod).await?;
    let result = async {
        let id = cri
            .create_container(
                &pod_id,
                &pod,
                "c",
                BUSYBOX_IMAGE,
                &["sleep", "3600"],
                Default::default(),
            )
            .await?;
        cri.start_container(&id).await?;
        anyhow::Ok(t0.elapsed())
    }
    .await;
    cri.remove_pod(&pod_id).await?;
    result
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_overhead_per_pod_start_is_bounded() -> Result<()> {
    let mut cri = Cri::connect().await?;
    let ns = format!("palisade-it-lat-{}", std::process::id());
    let rec = Recorder::new(&ns, None)?;
    let (mut with, mut without) = (Vec::new(), Vec::new());
    let mut n = 0;
    pod_start(&mut cri, &ns, usize::MAX).await?; // warm-up: snapshots, caches
    for block in 0..BLOCKS * 2 {
        let plugin = (block % 2 == 1)
            .then(|| spawn_plugin(&format!("it-lat-{}", std::process::id()), Arc::clone(&rec)));
        if plugin.is_some() {
            rec.wait_state(
                ConnectionState::Registered,
                (block / 2 + 1) as u32,
                Duration::from_secs(10),
            )
            .await?;
        }
        for _ in 0..PER_BLOCK {
            let t = pod_start(&mut cri, &ns, n).await?;
            n += 1;
            if plugin.is_some() {
                with.push(t)
            } else {
                without.push(t)
            }
        }
        if let Some(p) = plugin {
            p.abort();
            let _ = p.await;
            // Let containerd notice the closed connection before the next unplugged block.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let seen = rec.lock().started.len();
    ensure!(
        seen == BLOCKS * PER_BLOCK,
        "handler saw {seen} StartContainer, expected {}",
        BLOCKS * PER_BLOCK
    );

    let (w50, w99, _) = percentiles(with);
    let (o50, o99, _) = percentiles(without);
    let (h50, h99, hmax) = percentiles(rec.lock().started.iter().map(|s| s.handler_time).collect());
    println!(
        "pod start (RunPodSandbox+CreateContainer+StartContainer), {} pods each:",
        BLOCKS * PER_BLOCK
    );
    println!("  without plugin: p50 {o50:.1} ms, p99 {o99:.1} ms");
    println!(
        "  with plugin:    p50 {w50:.1} ms, p99 {w99:.1} ms  (ratio of medians {:.3}, +{:.1} ms)",
        w50 / o50,
        w50 - o50
    );
    println!(
        "  handler time at StartContainer: p50 {h50:.3} ms, p99 {h99:.3} ms, max {hmax:.3} ms"
    );
    ensure!(
        w50 - o50 < 50.0,
        "plugin adds {:.1} ms per pod start (median)",
        w50 - o50
    );
    ensure!(h99 < 10.0, "handler p99 {h99:.3} ms");
    Ok(())
}
