//! Benchmark baseline: attaches do-nothing BPF LSM programs (`bpf/src/bench_empty.bpf.c`) on
//! file_open, path_mknod and path_unlink, runs CMD, detaches, exits with CMD's status.
//!
//!     lsm-empty -- CMD...

use std::mem::MaybeUninit;
use std::process::Command;

use anyhow::{bail, Context, Result};
use libbpf_rs::skel::{OpenSkel, Skel, SkelBuilder};
use palisade_bpf::bench_empty::BenchEmptySkelBuilder;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).skip_while(|a| a == "--").collect();
    let Some((prog, rest)) = args.split_first() else {
        bail!("usage: lsm-empty -- CMD...")
    };
    let mut storage = MaybeUninit::uninit();
    let open = BenchEmptySkelBuilder::default()
        .open(&mut storage)
        .context("opening bench_empty")?;
    let mut skel = open
        .load()
        .context("loading empty LSM programs (needs BPF LSM)")?;
    skel.attach().context("attaching empty LSM programs")?;
    let status = Command::new(prog)
        .args(rest)
        .status()
        .with_context(|| format!("running {prog}"))?;
    std::process::exit(status.code().unwrap_or(1))
}
