//! Mechanism ladder: probe the running kernel, load the enforcement object with only the
//! programs that can work here, attach them.
//!
//! Order (DESIGN.md): BPF LSM when `bpf` is an active LSM and the programs load; else fmod_ret
//! on the security_* functions (trampolines without the bpf LSM); else the sys_enter tracepoints
//! with SIGKILL, which cannot prevent anything and is reported as such. The cgroup sock_addr
//! programs (connect/sendmsg) are independent of that ladder.

use std::fs;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use libbpf_rs::skel::{OpenSkel, Skel, SkelBuilder};
use libbpf_rs::{Link, MapHandle};
use palisade_bpf::enforce::{EnforceSkel, EnforceSkelBuilder};
use serde::Serialize;

use super::persist::Pinned;

/// How file and exec operations are enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileMechanism {
    /// BPF LSM programs: inline deny.
    BpfLsm,
    /// fmod_ret programs on security_* functions: inline deny.
    FmodRet,
    /// sys_enter tracepoints + SIGKILL: the operation still happens.
    TracepointKill,
    /// Nothing could be loaded: file rules are not enforced at all.
    None,
}

impl FileMechanism {
    /// Name used in events and status.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BpfLsm => "bpf_lsm",
            Self::FmodRet => "fmod_ret",
            Self::TracepointKill => "tracepoint_sigkill",
            Self::None => "none",
        }
    }

    /// Whether a denied operation is actually prevented.
    pub fn prevents(self) -> bool {
        matches!(self, Self::BpfLsm | Self::FmodRet)
    }
}

/// What `Enforcer::load` found and attached (for `palisade status`).
#[derive(Debug, Clone, Serialize)]
pub struct Mechanisms {
    /// File/exec enforcement mechanism.
    pub file: FileMechanism,
    /// Whether connect/sendmsg are denied by cgroup programs.
    pub network_cgroup: bool,
    /// Active LSMs (`/sys/kernel/security/lsm`).
    pub lsm_list: String,
    /// Hooks attached, by program name.
    pub hooks: Vec<String>,
    /// Why higher rungs of the ladder were not used.
    pub notes: Vec<String>,
    /// cgroup2 mount the network programs are attached to.
    pub cgroup2_root: Option<PathBuf>,
    /// Where the programs and maps are pinned (they outlive the agent); None: they do not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pinned: Option<PathBuf>,
    /// What was taken over from a previous agent's pinned enforcement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adopted: Option<Adoption>,
}

/// Enforcement taken over from a previous agent (`palisade status`).
#[derive(Debug, Clone, Serialize)]
pub struct Adoption {
    /// Policies adopted.
    pub policies: usize,
    /// Cgroups whose bindings were adopted.
    pub cgroups: usize,
    /// Bindings dropped because their cgroup no longer exists.
    pub dropped_cgroups: usize,
    /// `reused` (the pinned maps were compatible) or `migrated` (re-written into new maps).
    pub path: &'static str,
    /// Why the maps were migrated rather than reused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Which rungs to try (tests and the lab force a rung to prove it works).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Force {
    /// Best available.
    #[default]
    Auto,
    /// Only fmod_ret (fails if it cannot load).
    FmodRet,
    /// Only the tracepoint fallback.
    Tracepoint,
}

/// Loaded programs: links keep them attached; map handles outlive the skeleton.
pub(crate) struct Loaded {
    /// By program name (the name of its pin).
    pub links: Vec<(String, Link)>,
    pub maps: Maps,
    pub mechanisms: Mechanisms,
}

/// Duplicated fds of the enforcement maps.
pub(crate) struct Maps {
    pub bindings: MapHandle,
    pub sets: MapHandle,
    pub trie: MapHandle,
    pub uids: MapHandle,
    pub aliases: MapHandle,
    pub net: MapHandle,
    pub decisions: MapHandle,
    pub stats: MapHandle,
    pub setup_tasks: MapHandle,
}

impl Maps {
    /// The persistent maps by name (see `persist::PERSISTENT`).
    pub fn named(&self) -> [(&'static str, &MapHandle); 9] {
        [
            ("pal_bindings", &self.bindings),
            ("pal_sets", &self.sets),
            ("pal_trie", &self.trie),
            ("pal_rule_uids", &self.uids),
            ("pal_aliases", &self.aliases),
            ("pal_net", &self.net),
            ("pal_decisions", &self.decisions),
            ("pal_enf_stats", &self.stats),
            ("pal_setup_tasks", &self.setup_tasks),
        ]
    }
}

const SECURITYFS: &str = "/sys/kernel/security";

/// Active LSM list, mounting securityfs first when it is not.
pub fn lsm_list() -> Result<String> {
    let lsm = Path::new(SECURITYFS).join("lsm");
    if !lsm.exists() {
        nix::mount::mount(
            Some("securityfs"),
            SECURITYFS,
            Some("securityfs"),
            nix::mount::MsFlags::empty(),
            None::<&str>,
        )
        .context("mounting securityfs")?;
    }
    Ok(fs::read_to_string(&lsm)
        .with_context(|| format!("reading {}", lsm.display()))?
        .trim()
        .to_string())
}

/// The cgroup2 mount point (pure v2: /sys/fs/cgroup; hybrid: /sys/fs/cgroup/unified).
pub fn cgroup2_root() -> Result<PathBuf> {
    let info = fs::read_to_string("/proc/self/mountinfo").context("reading mountinfo")?;
    for line in info.lines() {
        // mountinfo: ... mount_point ... - fstype source options
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        if post.split_whitespace().next() == Some("cgroup2") {
            if let Some(mp) = pre.split_whitespace().nth(4) {
                return Ok(PathBuf::from(mp));
            }
        }
    }
    bail!("no cgroup2 filesystem mounted")
}

fn kernel_has_func(btf: &libbpf_rs::btf::Btf<'_>, name: &str) -> bool {
    btf.type_by_name::<libbpf_rs::btf::types::Func<'_>>(name)
        .is_some()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Rung {
    Lsm,
    Fmod,
    Tp,
    /// No file programs: maps and the cgroup programs only.
    NetOnly,
}

type Attached = (Vec<(String, Link)>, Maps, Vec<String>);

fn try_load(rung: Rung, net: bool, reuse: Option<&Pinned>) -> Result<Attached> {
    let btf = libbpf_rs::btf::Btf::from_vmlinux().context("reading kernel BTF")?;
    if rung == Rung::Tp {
        ensure_tracefs();
    }
    let mut storage = MaybeUninit::uninit();
    let mut open = EnforceSkelBuilder::default()
        .open(&mut storage)
        .context("opening enforce BPF object")?;
    let mut wanted = Vec::new();
    for mut prog in open.open_object_mut().progs_mut() {
        let name = prog.name().to_string_lossy().into_owned();
        let load = if let Some(hook) = name.strip_prefix("pal_lsm_") {
            // a hook this kernel lacks (file_truncate before 6.2) must not fail the whole object
            rung == Rung::Lsm && kernel_has_func(&btf, &format!("bpf_lsm_{}", lsm_hook_name(hook)))
        } else if let Some(hook) = name.strip_prefix("pal_fmod_") {
            rung == Rung::Fmod && kernel_has_func(&btf, &security_fn(hook))
        } else if let Some(sc) = name.strip_prefix("pal_tp_") {
            // syscalls differ by architecture and version (no open/rename on some)
            rung == Rung::Tp && syscall_tracepoint_exists(sc)
        } else if name.starts_with("pal_connect") || name.starts_with("pal_sendmsg") {
            net
        } else {
            // cgroup inheritance of bindings: a tracepoint, loads everywhere
            name == "pal_cgroup_mkdir"
        };
        prog.set_autoload(load);
        if load {
            wanted.push(name);
        }
    }
    if let Some(p) = reuse {
        // the previous agent's maps, policies and bindings in place: the new programs enforce
        // exactly what the old ones did from their first instruction
        for mut m in open.open_object_mut().maps_mut() {
            let name = m.name().to_string_lossy().into_owned();
            if let Some(h) = p.maps.get(name.as_str()) {
                m.reuse_fd(h.as_fd())
                    .with_context(|| format!("reusing pinned map {name}"))?;
            }
        }
    }
    let file_progs = wanted
        .iter()
        .filter(|n| {
            n.starts_with("pal_lsm_") || n.starts_with("pal_fmod_") || n.starts_with("pal_tp_")
        })
        .count();
    if rung != Rung::NetOnly && file_progs == 0 {
        bail!("no program of this kind exists for this kernel");
    }
    let mut skel = open.load().with_context(|| {
        format!(
            "loading {} enforcement programs (verifier log: PALISADE_LOG=debug)",
            wanted.len()
        )
    })?;
    let links = attach(&mut skel, net)?;
    let m = &skel.maps;
    let maps = Maps {
        bindings: MapHandle::try_from(&m.pal_bindings)?,
        sets: MapHandle::try_from(&m.pal_sets)?,
        trie: MapHandle::try_from(&m.pal_trie)?,
        uids: MapHandle::try_from(&m.pal_rule_uids)?,
        aliases: MapHandle::try_from(&m.pal_aliases)?,
        net: MapHandle::try_from(&m.pal_net)?,
        decisions: MapHandle::try_from(&m.pal_decisions)?,
        stats: MapHandle::try_from(&m.pal_enf_stats)?,
        setup_tasks: MapHandle::try_from(&m.pal_setup_tasks)?,
    };
    Ok((links, maps, wanted))
}

/// libbpf attaches `tp/` programs through tracefs; mount it when nobody has.
fn ensure_tracefs() {
    let t = Path::new("/sys/kernel/tracing");
    if t.join("events").exists() || Path::new("/sys/kernel/debug/tracing/events").exists() {
        return;
    }
    if let Err(e) = nix::mount::mount(
        Some("tracefs"),
        t,
        Some("tracefs"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    ) {
        tracing::debug!("mounting tracefs: {e}");
    }
}

fn syscall_tracepoint_exists(syscall: &str) -> bool {
    ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]
        .iter()
        .any(|t| {
            Path::new(t)
                .join("events/syscalls")
                .join(format!("sys_enter_{syscall}"))
                .exists()
        })
}

/// `pal_lsm_<x>` program suffix -> LSM hook name.
fn lsm_hook_name(prog_suffix: &str) -> &str {
    match prog_suffix {
        "bprm_check" => "bprm_check_security",
        s => s,
    }
}

/// `pal_fmod_<x>` program suffix -> security_* function.
fn security_fn(prog_suffix: &str) -> String {
    match prog_suffix {
        "bprm_check" => "security_bprm_check".into(),
        s => format!("security_{s}"),
    }
}

fn attach(skel: &mut EnforceSkel<'_>, net: bool) -> Result<Vec<(String, Link)>> {
    let mut links = Vec::new();
    let cg = if net {
        Some(fs::File::open(cgroup2_root()?).context("opening cgroup2 root")?)
    } else {
        None
    };
    for prog in skel.object_mut().progs_mut() {
        let name = prog.name().to_string_lossy().into_owned();
        if !prog.autoload() {
            continue;
        }
        let link = if name.starts_with("pal_connect") || name.starts_with("pal_sendmsg") {
            let fd = cg
                .as_ref()
                .expect("net programs load only with a cgroup root")
                .as_raw_fd();
            prog.attach_cgroup(fd)
        } else {
            prog.attach()
        };
        let link = link.with_context(|| format!("attaching {name}"))?;
        links.push((name, link));
    }
    Ok(links)
}

/// Runs the ladder.
/// Runs the ladder; with `reuse`, the programs use those pinned maps instead of new ones.
pub(crate) fn load(force: Force, reuse: Option<&Pinned>) -> Result<Loaded> {
    // Failed rungs are expected on many kernels: libbpf's own messages (verifier logs included)
    // go to debug logging, and the ladder's outcome is reported in `Mechanisms::notes`.
    libbpf_rs::set_print(Some((
        libbpf_rs::PrintLevel::Debug,
        |_level, msg| tracing::debug!(target: "libbpf", "{}", msg.trim_end()),
    )));
    let lsm_list = lsm_list().unwrap_or_else(|e| format!("unknown ({e:#})"));
    let root = cgroup2_root().ok();
    let mut notes = Vec::new();
    let rungs: &[(Rung, FileMechanism)] = match force {
        Force::Auto => &[
            (Rung::Lsm, FileMechanism::BpfLsm),
            (Rung::Fmod, FileMechanism::FmodRet),
            (Rung::Tp, FileMechanism::TracepointKill),
        ],
        Force::FmodRet => &[(Rung::Fmod, FileMechanism::FmodRet)],
        Force::Tracepoint => &[(Rung::Tp, FileMechanism::TracepointKill)],
    };
    let net = root.is_some();
    if !net {
        notes.push("no cgroup2 mount: connect rules are not enforced".into());
    }
    for (rung, mech) in rungs {
        if *rung == Rung::Lsm && !lsm_list.split(',').any(|l| l == "bpf") {
            notes.push(format!("bpf_lsm: `bpf` is not an active LSM ({lsm_list})"));
            continue;
        }
        match try_load(*rung, net, reuse) {
            Ok((links, maps, hooks)) => {
                if !mech.prevents() {
                    tracing::warn!(
                        "file enforcement falls back to tracepoints + SIGKILL: denied operations are NOT prevented, the caller is killed after the fact"
                    );
                }
                return Ok(Loaded {
                    links,
                    maps,
                    mechanisms: Mechanisms {
                        file: *mech,
                        network_cgroup: net,
                        lsm_list,
                        hooks,
                        notes,
                        cgroup2_root: root,
                        pinned: None,
                        adopted: None,
                    },
                });
            }
            Err(e) => notes.push(format!("{}: {e:#}", mech.as_str())),
        }
    }
    // Nothing for files: still deny connects if the cgroup programs load.
    let (links, maps, hooks) = try_load(Rung::NetOnly, net, reuse)
        .context("even the maps and cgroup programs fail to load")?;
    tracing::error!(
        "no file enforcement mechanism loads on this kernel: {}",
        notes.join("; ")
    );
    Ok(Loaded {
        links,
        maps,
        mechanisms: Mechanisms {
            file: FileMechanism::None,
            network_cgroup: net,
            lsm_list,
            hooks,
            notes,
            cgroup2_root: root,
            pinned: None,
            adopted: None,
        },
    })
}
