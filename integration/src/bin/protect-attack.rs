//! Attacker for the self-protection lab test (`integration/lab/protect.sh`): tries, with raw
//! bpf(2) and plain syscalls, everything a root process with every capability could do to
//! palisade's kernel state, and prints one line per attempt:
//!
//!   ATTEMPT <what> <target> OBTAINED|DONE|REFUSED <errno name>
//!
//! then `SUMMARY attempts=N succeeded=S refused=R`. It never decides pass/fail itself: the lab
//! script runs it contained (must see everything refused) and from the host (control: must
//! obtain every fd, proving that the attempts can succeed).
//!
//!   protect-attack --status STATUS.json [--pins LIST] [--agent-pid PID] [--destructive]
//!   protect-attack --status STATUS.json --leaked-fds
//!   protect-attack --all-ids [--pins LIST]
//!
//! STATUS.json is `palisade status -o json` (its `self_protection.protected` ids name the
//! targets); LIST holds pin paths, one a line, directories with a trailing `/` (listed before
//! entering the namespace, since the directory itself is protected). `--destructive` also uses every fd obtained: deletes and
//! updates map elements, detaches links, unlinks and renames pins and SIGKILLs the agent.
//! `--leaked-fds` (run from the host) obtains fds of every map and link first, then enters a
//! new mount namespace (becoming contained) and uses them: an fd that leaked into a container.
//! `--all-ids` targets every map, program and link in the kernel instead (BPF_*_GET_NEXT_ID):
//! the control run against an agent with `--no-self-protect`.

use std::{ffi::CString, os::fd::RawFd};

use anyhow::{Context, Result};

const BPF_MAP_UPDATE_ELEM: libc::c_long = 2;
const BPF_MAP_DELETE_ELEM: libc::c_long = 3;
const BPF_MAP_GET_NEXT_KEY: libc::c_long = 4;
const BPF_OBJ_GET: libc::c_long = 7;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_MAP_GET_FD_BY_ID: libc::c_long = 14;
const BPF_OBJ_GET_INFO_BY_FD: libc::c_long = 15;
const BPF_LINK_GET_FD_BY_ID: libc::c_long = 30;
const BPF_LINK_DETACH: libc::c_long = 34;
const BPF_PROG_GET_NEXT_ID: libc::c_long = 11;
const BPF_MAP_GET_NEXT_ID: libc::c_long = 12;
const BPF_LINK_GET_NEXT_ID: libc::c_long = 31;

/// Every id of one object kind in the kernel.
fn all_ids(cmd: libc::c_long) -> Vec<u32> {
    let mut out = Vec::new();
    let mut id = 0u32;
    loop {
        let mut attr = [0u64; 16];
        attr[0] = u64::from(id);
        if bpf(cmd, &mut attr).is_err() {
            return out;
        }
        id = (attr[0] >> 32) as u32;
        out.push(id);
    }
}

fn bpf(cmd: libc::c_long, attr: &mut [u64; 16]) -> Result<RawFd, i32> {
    // SAFETY: attr is a zeroed 128-byte union bpf_attr, valid for the call.
    let r = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr.as_mut_ptr(), 128u32) };
    if r < 0 {
        Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    } else {
        Ok(r as RawFd)
    }
}

fn errno_name(e: i32) -> String {
    match e {
        libc::EPERM => "EPERM".into(),
        libc::EACCES => "EACCES".into(),
        libc::ENOENT => "ENOENT".into(),
        libc::ESRCH => "ESRCH".into(),
        libc::EINVAL => "EINVAL".into(),
        libc::EBUSY => "EBUSY".into(),
        e => format!("errno-{e}"),
    }
}

#[derive(Default)]
struct Tally {
    attempts: u32,
    succeeded: u32,
    refused: u32,
}

impl Tally {
    fn report(&mut self, what: &str, target: &str, r: Result<RawFd, i32>, ok_word: &str) {
        self.attempts += 1;
        match r {
            Ok(fd) => {
                self.succeeded += 1;
                println!("ATTEMPT {what} {target} {ok_word} fd={fd}");
            }
            Err(e) => {
                self.refused += 1;
                println!("ATTEMPT {what} {target} REFUSED {}", errno_name(e));
            }
        }
    }
}

fn ids(v: &serde_json::Value, key: &str) -> Vec<u32> {
    v["self_protection"]["protected"][key]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x.as_u64())
        .map(|x| x as u32)
        .collect()
}

fn info_len(fd: RawFd) -> (u32, u32) {
    // struct bpf_map_info: type, id, key_size, value_size
    let mut info = [0u32; 20];
    let mut attr = [0u64; 16];
    attr[0] = fd as u64 | (std::mem::size_of_val(&info) as u64) << 32;
    attr[1] = info.as_mut_ptr() as u64;
    let _ = bpf(BPF_OBJ_GET_INFO_BY_FD, &mut attr);
    (info[2], info[3])
}

/// Deletes the first element of a map and writes a zero value under a zero key.
fn vandalize_map(t: &mut Tally, fd: RawFd, target: &str) {
    let (ks, vs) = info_len(fd);
    let mut key = vec![0u8; ks.max(4) as usize];
    let mut next = vec![0u8; ks.max(4) as usize];
    let val = vec![0u8; (vs as usize).max(8) * 512]; // per-CPU maps need one slot per CPU
    let mut attr = [0u64; 16];
    attr[0] = fd as u64;
    attr[1] = key.as_mut_ptr() as u64;
    attr[2] = next.as_mut_ptr() as u64;
    if bpf(BPF_MAP_GET_NEXT_KEY, &mut attr).is_ok() {
        let mut attr = [0u64; 16];
        attr[0] = fd as u64;
        attr[1] = next.as_ptr() as u64;
        t.report(
            "map-delete",
            target,
            bpf(BPF_MAP_DELETE_ELEM, &mut attr),
            "DONE",
        );
    }
    let mut attr = [0u64; 16];
    attr[0] = fd as u64;
    attr[1] = key.as_ptr() as u64;
    attr[2] = val.as_ptr() as u64;
    t.report(
        "map-update",
        target,
        bpf(BPF_MAP_UPDATE_ELEM, &mut attr),
        "DONE",
    );
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let destructive = args.iter().any(|a| a == "--destructive");
    let all = args.iter().any(|a| a == "--all-ids");
    let status_path = arg("--status").unwrap_or_default();
    let status: serde_json::Value = if all {
        serde_json::json!({"self_protection": {"protected": {
            "maps": all_ids(BPF_MAP_GET_NEXT_ID),
            "progs": all_ids(BPF_PROG_GET_NEXT_ID),
            "links": all_ids(BPF_LINK_GET_NEXT_ID),
        }}})
    } else {
        anyhow::ensure!(
            !status_path.is_empty(),
            "--status STATUS.json or --all-ids is required"
        );
        serde_json::from_slice(
            &std::fs::read(&status_path).with_context(|| format!("reading {status_path}"))?,
        )
        .with_context(|| format!("{status_path} is not JSON"))?
    };
    let pins: Vec<String> = match arg("--pins") {
        Some(p) => std::fs::read_to_string(&p)
            .with_context(|| format!("reading {p}"))?
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect(),
        None => Vec::new(),
    };
    let agent: i32 = arg("--agent-pid").map_or(Ok(0), |p| p.parse())?;
    let mut t = Tally::default();
    if args.iter().any(|a| a == "--leaked-fds") {
        return leaked_fds(&status);
    }
    let (maps, progs, links) = (
        ids(&status, "maps"),
        ids(&status, "progs"),
        ids(&status, "links"),
    );
    anyhow::ensure!(
        !maps.is_empty() && !progs.is_empty() && !links.is_empty(),
        "{status_path} lists no protected maps/progs/links: self-protection is not active"
    );
    for id in maps {
        let mut attr = [0u64; 16];
        attr[0] = u64::from(id);
        let r = bpf(BPF_MAP_GET_FD_BY_ID, &mut attr);
        t.report("map-fd-by-id", &id.to_string(), r, "OBTAINED");
        if let (Ok(fd), true) = (r, destructive) {
            vandalize_map(&mut t, fd, &id.to_string());
        }
    }
    for id in progs {
        let mut attr = [0u64; 16];
        attr[0] = u64::from(id);
        t.report(
            "prog-fd-by-id",
            &id.to_string(),
            bpf(BPF_PROG_GET_FD_BY_ID, &mut attr),
            "OBTAINED",
        );
    }
    for id in links {
        let mut attr = [0u64; 16];
        attr[0] = u64::from(id);
        let r = bpf(BPF_LINK_GET_FD_BY_ID, &mut attr);
        t.report("link-fd-by-id", &id.to_string(), r, "OBTAINED");
        if let (Ok(fd), true) = (r, destructive) {
            let mut attr = [0u64; 16];
            attr[0] = fd as u64;
            t.report(
                "link-detach",
                &id.to_string(),
                bpf(BPF_LINK_DETACH, &mut attr),
                "DONE",
            );
        }
    }
    for p in pins.iter().filter(|p| !p.ends_with('/')) {
        let c = CString::new(p.as_str())?;
        let mut attr = [0u64; 16];
        attr[0] = c.as_ptr() as u64;
        let r = bpf(BPF_OBJ_GET, &mut attr);
        t.report("pin-obj-get", p, r, "OBTAINED");
        if let (Ok(fd), true) = (r, destructive) {
            // a pinned link detached through its pin
            let mut attr = [0u64; 16];
            attr[0] = fd as u64;
            if p.rsplit('/').next().is_some_and(|n| n.starts_with("link")) {
                t.report(
                    "pin-link-detach",
                    p,
                    bpf(BPF_LINK_DETACH, &mut attr),
                    "DONE",
                );
            }
        }
    }
    if destructive {
        // deepest first, so that directories are tried after their contents
        for p in pins.iter().rev() {
            let p = p.trim_end_matches('/');
            let c = CString::new(p)?;
            let moved = CString::new(format!("{p}.moved"))?;
            // SAFETY: valid NUL-terminated paths.
            let r = unsafe { libc::rename(c.as_ptr(), moved.as_ptr()) };
            t.report("pin-rename", p, errno_of(r), "DONE");
            // SAFETY: as above.
            let r = unsafe { libc::unlink(c.as_ptr()) };
            let r = if errno_of(r) == Err(libc::EISDIR) {
                // SAFETY: as above.
                errno_of(unsafe { libc::rmdir(c.as_ptr()) })
            } else {
                errno_of(r)
            };
            t.report("pin-unlink", p, r, "DONE");
        }
        if agent > 0 {
            let environ = CString::new(format!("/proc/{agent}/environ"))?;
            // SAFETY: valid path; the fd is leaked on purpose (process exits soon).
            let r = unsafe { libc::open(environ.as_ptr(), libc::O_RDONLY) };
            t.report(
                "agent-proc-environ",
                &agent.to_string(),
                errno_of(r),
                "DONE",
            );
            // SAFETY: plain syscall.
            let r = unsafe { libc::ptrace(libc::PTRACE_ATTACH, agent, 0, 0) };
            t.report(
                "agent-ptrace",
                &agent.to_string(),
                errno_of(r as i32),
                "DONE",
            );
            // SAFETY: plain syscall.
            let r = unsafe { libc::kill(agent, libc::SIGKILL) };
            t.report("agent-sigkill", &agent.to_string(), errno_of(r), "DONE");
            // SAFETY: plain syscall.
            let r = unsafe { libc::kill(agent, libc::SIGTERM) };
            t.report("agent-sigterm", &agent.to_string(), errno_of(r), "DONE");
        }
    }
    println!(
        "SUMMARY attempts={} succeeded={} refused={}",
        t.attempts, t.succeeded, t.refused
    );
    Ok(())
}

/// Fds obtained while not contained, used after `unshare(CLONE_NEWNS)`.
fn leaked_fds(status: &serde_json::Value) -> Result<()> {
    let mut held = Vec::new();
    for (key, cmd) in [
        ("maps", BPF_MAP_GET_FD_BY_ID),
        ("links", BPF_LINK_GET_FD_BY_ID),
    ] {
        for id in ids(status, key) {
            let mut attr = [0u64; 16];
            attr[0] = u64::from(id);
            match bpf(cmd, &mut attr) {
                Ok(fd) => held.push((key, id, fd)),
                Err(e) => anyhow::bail!("not leaked: {key} {id}: {}", errno_name(e)),
            }
        }
    }
    println!("LEAKED {} fds", held.len());
    // SAFETY: plain syscall; single-threaded here.
    anyhow::ensure!(
        unsafe { libc::unshare(libc::CLONE_NEWNS) } == 0,
        "unshare(CLONE_NEWNS): {}",
        std::io::Error::last_os_error()
    );
    let mut t = Tally::default();
    for (key, id, fd) in held {
        if key == "maps" {
            vandalize_map(&mut t, fd, &id.to_string());
        } else {
            let mut attr = [0u64; 16];
            attr[0] = fd as u64;
            t.report(
                "leaked-link-detach",
                &id.to_string(),
                bpf(BPF_LINK_DETACH, &mut attr),
                "DONE",
            );
        }
    }
    println!(
        "SUMMARY attempts={} succeeded={} refused={}",
        t.attempts, t.succeeded, t.refused
    );
    Ok(())
}

fn errno_of(r: i32) -> Result<RawFd, i32> {
    if r < 0 {
        Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    } else {
        Ok(r)
    }
}
