//! Benchmark floor on hosts without BPF LSM: attaches do-nothing programs
//! (`bpf/src/bench_empty_host.bpf.c`) on every hook the agent uses there (process and detection
//! tp_btf, tracepoint-enforcement `sys_enter_*`, cgroup connect/sendmsg on the cgroup2 root),
//! runs CMD, detaches, exits with CMD's status.
//!
//!     host-floor -- CMD...

use std::mem::MaybeUninit;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};
use libbpf_rs::btf::{types::Typedef, Btf};
use libbpf_rs::skel::{OpenSkel, Skel, SkelBuilder};
use palisade_bpf::bench_empty_host::BenchEmptyHostSkelBuilder;

fn mount_tracefs() {
    let t = Path::new("/sys/kernel/tracing");
    if t.join("events").exists() || Path::new("/sys/kernel/debug/tracing/events").exists() {
        return;
    }
    let (src, dir) = (c"tracefs", c"/sys/kernel/tracing");
    // SAFETY: mount(2) with NUL-terminated constant strings and no data.
    let rc = unsafe {
        libc::mount(
            src.as_ptr(),
            dir.as_ptr(),
            src.as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        eprintln!(
            "host-floor: mounting tracefs: {}",
            std::io::Error::last_os_error()
        );
    }
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).skip_while(|a| a == "--").collect();
    let Some((prog, rest)) = args.split_first() else {
        bail!("usage: host-floor -- CMD...")
    };
    let root = palisade_integration::cgroup::cgroup2_root()?;
    let cg = std::fs::File::open(&root).with_context(|| format!("opening {}", root.display()))?;
    let mut storage = MaybeUninit::uninit();
    let mut open = BenchEmptyHostSkelBuilder::default()
        .open(&mut storage)
        .context("opening bench_empty_host")?;
    // module tracepoints need CONFIG_MODULES: the agent skips them when absent, so does the floor
    let btf = Btf::from_vmlinux().ok();
    let has = |tp: &str| {
        btf.as_ref().is_some_and(|b| {
            b.type_by_name::<Typedef<'_>>(&format!("btf_trace_{tp}"))
                .is_some()
        })
    };
    // tp/syscalls programs attach through tracefs (the agent mounts it too when nobody has), and
    // like the agent's loader the floor skips syscalls this kernel has no tracepoint for
    mount_tracefs();
    for mut prog in open.open_object_mut().progs_mut() {
        let name = prog.name().to_string_lossy().into_owned();
        if let Some(sc) = name.strip_prefix("floor_tp_") {
            let exists = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]
                .iter()
                .any(|t| Path::new(&format!("{t}/events/syscalls/sys_enter_{sc}")).exists());
            prog.set_autoload(exists);
        }
    }
    open.progs
        .floor_module_load
        .set_autoload(has("module_load"));
    open.progs
        .floor_module_request
        .set_autoload(has("module_request"));
    let mut skel = open.load().context("loading the empty floor programs")?;
    let mut links = Vec::new();
    for prog in skel.object_mut().progs_mut() {
        let name = prog.name().to_string_lossy().into_owned();
        if !prog.autoload() {
            continue;
        }
        let link = if name.starts_with("floor_connect") || name.starts_with("floor_sendmsg") {
            prog.attach_cgroup(cg.as_raw_fd())
        } else {
            prog.attach()
        };
        links.push(link.with_context(|| format!("attaching {name}"))?);
    }
    let status = Command::new(prog)
        .args(rest)
        .status()
        .with_context(|| format!("running {prog}"))?;
    drop(links);
    std::process::exit(status.code().unwrap_or(1))
}
