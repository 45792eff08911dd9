//! Seeds the process cache from /proc for processes that started before the agent.

use std::{fs, os::unix::fs::MetadataExt, path::Path};

use super::cache::ProcInfo;

/// Clock ticks per second for /proc/<pid>/stat times.
fn ticks_per_sec() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}

fn status_ids(status: &str, key: &str) -> Option<[u32; 4]> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    let v: Vec<u32> = line[key.len()..]
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    Some([*v.first()?, *v.get(1)?, *v.get(2)?, *v.get(3)?])
}

fn status_hex(status: &str, key: &str) -> u64 {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(0)
}

/// Reads one process from `proc_root/<pid>`; `cgroup2_root` resolves its cgroup id.
pub fn read_process(proc_root: &Path, pid: u32, cgroup2_root: Option<&Path>) -> Option<ProcInfo> {
    let dir = proc_root.join(pid.to_string());
    let stat = fs::read_to_string(dir.join("stat")).ok()?;
    // fields after the last ')' : state ppid ... starttime is field 22 overall (index 19 after comm)
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ppid = f.get(1)?.parse().ok()?;
    let start_ticks: u64 = f.get(19)?.parse().ok()?;
    let status = fs::read_to_string(dir.join("status")).ok()?;
    let [uid, euid, suid, fsuid] = status_ids(&status, "Uid:")?;
    let [gid, egid, sgid, fsgid] = status_ids(&status, "Gid:")?;
    let cmdline = fs::read(dir.join("cmdline")).unwrap_or_default();
    let mut args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    if args.last().is_some_and(String::is_empty) {
        args.pop();
    }
    let binary = fs::read_link(dir.join("exe"))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| args.first().cloned().unwrap_or_default());
    let cwd = fs::read_link(dir.join("cwd"))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let cgroup_id = cgroup2_root
        .and_then(|root| {
            let cg = fs::read_to_string(dir.join("cgroup")).ok()?;
            let rel = cg.lines().find_map(|l| l.strip_prefix("0::"))?;
            fs::metadata(root.join(rel.trim_start_matches('/')))
                .ok()
                .map(|m| m.ino())
        })
        .unwrap_or(0);
    let auid = fs::read_to_string(dir.join("loginuid"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(u32::MAX);
    let (ino, nlink, mode, file_uid, file_gid) = fs::metadata(dir.join("exe"))
        .map(|m| (m.ino(), m.nlink() as u32, m.mode(), m.uid(), m.gid()))
        .unwrap_or_default();
    Some(ProcInfo {
        pid,
        ppid,
        ktime: start_ticks * (1_000_000_000 / ticks_per_sec()),
        parent_ktime: 0,
        binary,
        args: args.into_iter().skip(1).collect(),
        cwd,
        flags: vec!["procFS"],
        creds: palisade_bpf::events::Creds {
            uid,
            gid,
            euid,
            egid,
            suid,
            sgid,
            fsuid,
            fsgid,
            cap_permitted: status_hex(&status, "CapPrm:"),
            cap_effective: status_hex(&status, "CapEff:"),
            cap_inheritable: status_hex(&status, "CapInh:"),
        },
        auid,
        cgroup_id,
        ino,
        nlink,
        mode,
        file_uid,
        file_gid,
        secureexec: false,
    })
}

/// Every process (thread group) under `proc_root`.
pub fn scan(proc_root: &Path, cgroup2_root: Option<&Path>) -> Vec<ProcInfo> {
    let Ok(rd) = fs::read_dir(proc_root) else {
        return Vec::new();
    };
    let mut out: Vec<ProcInfo> = rd
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| read_process(proc_root, pid, cgroup2_root))
        .collect();
    // parents first so parent ktimes resolve
    out.sort_by_key(|p| p.ktime);
    let ktimes: std::collections::HashMap<u32, u64> =
        out.iter().map(|p| (p.pid, p.ktime)).collect();
    for p in &mut out {
        p.parent_ktime = ktimes.get(&p.ppid).copied().unwrap_or(0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_fake_proc_entry() {
        let root = tempfile::tempdir().unwrap();
        let d = root.path().join("42");
        fs::create_dir(&d).unwrap();
        fs::write(
            d.join("stat"),
            "42 (my (odd) comm) S 7 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 250 0 0",
        )
        .unwrap();
        fs::write(
            d.join("status"),
            "Name:\tx\nUid:\t1\t2\t3\t4\nGid:\t5\t6\t7\t8\nCapEff:\t0000000000000003\n",
        )
        .unwrap();
        fs::write(d.join("cmdline"), b"/bin/sleep\x0010\x00").unwrap();
        let p = read_process(root.path(), 42, None).unwrap();
        assert_eq!((p.pid, p.ppid), (42, 7));
        assert_eq!(p.ktime, 250 * (1_000_000_000 / ticks_per_sec()));
        assert_eq!((p.creds.uid, p.creds.euid, p.creds.fsgid), (1, 2, 8));
        assert_eq!(p.creds.cap_effective, 3);
        assert_eq!(p.binary, "/bin/sleep");
        assert_eq!(p.args, ["10"]);
        assert_eq!(p.flags, ["procFS"]);
    }
}
