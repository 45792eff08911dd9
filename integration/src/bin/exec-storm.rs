//! Exec storm load generator: runs `/bin/true` N times from W workers as fast as the machine
//! allows, optionally inside a cgroup, and prints the wall time. Used by integration/bench.
//!   exec-storm N [WORKERS] [CGROUP_DIR]

use std::{os::unix::process::CommandExt, process::Command, time::Instant};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args
        .get(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(20_000);
    let workers: usize = args
        .get(2)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(2)
        .max(1);
    let cgroup = args.get(3).cloned();
    if let Some(cg) = &cgroup {
        // join the cgroup ourselves: every child inherits it from fork on
        std::fs::write(format!("{cg}/cgroup.procs"), std::process::id().to_string())?;
    }
    let start = Instant::now();
    let handles: Vec<_> = (0..workers)
        .map(|w| {
            let count = n / workers + usize::from(w < n % workers);
            std::thread::spawn(move || -> std::io::Result<usize> {
                let mut failed = 0;
                for _ in 0..count {
                    let st = Command::new("/bin/true").arg0("true").status()?;
                    failed += usize::from(!st.success());
                }
                Ok(failed)
            })
        })
        .collect();
    let mut failed = 0;
    for h in handles {
        failed += h.join().map_err(|_| anyhow::anyhow!("worker panicked"))??;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "execs={n} workers={workers} failed={failed} seconds={secs:.3} rate={:.0}/s",
        n as f64 / secs
    );
    anyhow::ensure!(failed == 0, "{failed} execs failed");
    Ok(())
}
