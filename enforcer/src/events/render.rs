//! Builds exported events from kernel records and the process cache.

use std::sync::Arc;

use crate::{
    containers::ContainerRegistry,
    events::{
        clock::{exec_id, Clock},
        model::{
            BinaryProperties, Body, Capabilities, Credentials, Envelope, FileProperties,
            InodeProperties, Process, ProcessExec, ProcessExit,
        },
    },
    process::{
        cache::{CacheStats, ProcInfo, ProcessCache},
        caps,
        record::{join_args, ExecRecord, Record},
    },
};
use palisade_bpf::events::{flags, Exit, Fork};

const S_ISUID: u32 = 0o4000;
const S_ISGID: u32 = 0o2000;

/// Turns records into events; owns the process cache.
pub struct Renderer {
    node: String,
    clock: Clock,
    cache: ProcessCache,
    containers: Arc<ContainerRegistry>,
}

impl Renderer {
    /// A renderer for node `node`.
    pub fn new(node: String, cache: ProcessCache, containers: Arc<ContainerRegistry>) -> Self {
        Self {
            node,
            clock: Clock::new(),
            cache,
            containers,
        }
    }

    /// Node name used in exec ids and envelopes.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Cache counters.
    pub fn cache_stats(&self) -> CacheStats {
        self.cache.stats()
    }

    /// Seeds the cache (procfs scan at start-up).
    pub fn seed(&mut self, procs: Vec<ProcInfo>) {
        for p in procs {
            self.cache.insert(p);
        }
    }

    /// Wall-clock RFC 3339 of a kernel timestamp.
    pub fn time(&self, ktime: u64) -> String {
        self.clock.rfc3339(ktime)
    }

    /// Handles one record; returns the event to export, if the record makes one.
    pub fn on_record(&mut self, rec: Record) -> Option<Envelope> {
        match rec {
            Record::Exec(e) => Some(self.on_exec(*e)),
            Record::Exit(x) => self.on_exit(x),
            Record::Fork(f) => {
                self.on_fork(f);
                None
            }
        }
    }

    fn envelope(&self, body: Body, ktime: u64) -> Envelope {
        Envelope {
            body,
            node_name: self.node.clone(),
            time: self.clock.rfc3339(ktime),
        }
    }

    fn on_exec(&mut self, e: ExecRecord) -> Envelope {
        let r = &e.raw;
        let mut fl = vec!["execve"];
        if r.flags & flags::TRUNC_PATH != 0 {
            fl.push("truncFilename");
        }
        if r.flags & flags::TRUNC_ARGS != 0 {
            fl.push("truncArgs");
        }
        if r.flags & flags::ERR_ARGS != 0 {
            fl.push("errorArgs");
        }
        if r.flags & flags::TRUNC_CWD != 0 {
            fl.push("errorCWD");
        }
        if r.cwd_len == 1 && e.cwd == "/" {
            fl.push("rootCWD");
        }
        // A parent seen only through procfs carries a coarse start time; adopt the kernel's.
        if r.flags & flags::PARENT_MISS != 0 {
            if let Some(p) = self.cache.get(r.ppid) {
                if p.flags.contains(&"procFS") && p.ktime != r.parent_ktime {
                    let adopted = ProcInfo {
                        ktime: r.parent_ktime,
                        ..(*p).clone()
                    };
                    self.cache.insert(adopted);
                }
            }
        }
        let info = ProcInfo {
            pid: r.hdr.pid,
            ppid: r.ppid,
            ktime: r.hdr.ktime,
            parent_ktime: r.parent_ktime,
            binary: e.path.clone(),
            args: e.argv.iter().skip(1).cloned().collect(),
            cwd: e.cwd.clone(),
            flags: fl,
            creds: r.creds,
            auid: r.auid,
            cgroup_id: r.hdr.cgroup_id,
            ino: r.ino,
            nlink: r.nlink,
            mode: r.mode,
            file_uid: r.file_uid,
            file_gid: r.file_gid,
            secureexec: r.flags & flags::SECUREEXEC != 0,
        };
        let info = self.cache.insert(info);
        let process = self.process(&info, r.hdr.tid);
        let parent = self.parent_of(&info);
        self.envelope(
            Body::ProcessExec(ProcessExec { process, parent }),
            r.hdr.ktime,
        )
    }

    fn on_fork(&mut self, f: Fork) {
        let parent = self.cache.get(f.ppid);
        let base = parent.as_deref().cloned().unwrap_or_default();
        let mut flags = vec!["clone"];
        if parent.is_none() {
            flags.push("miss");
        }
        self.cache.insert(ProcInfo {
            pid: f.hdr.pid,
            ppid: f.ppid,
            ktime: f.hdr.ktime,
            parent_ktime: f.parent_ktime,
            flags,
            cgroup_id: f.hdr.cgroup_id,
            ..base
        });
    }

    fn on_exit(&mut self, x: Exit) -> Option<Envelope> {
        let info = match self.cache.exit(x.hdr.pid) {
            Some(i) => i,
            // Unknown process (started and lost before we saw it): still report the exit.
            None => Arc::new(ProcInfo {
                pid: x.hdr.pid,
                ppid: x.ppid,
                ktime: x.exec_ktime,
                flags: vec!["miss"],
                cgroup_id: x.hdr.cgroup_id,
                ..Default::default()
            }),
        };
        let sig = x.exit_code & 0x7f;
        let process = self.process(&info, x.hdr.pid);
        let parent = self.parent_of(&info);
        let time = self.clock.rfc3339(x.hdr.ktime);
        let body = Body::ProcessExit(ProcessExit {
            process,
            parent,
            signal: (sig != 0).then(|| signal_name(sig)),
            status: if sig != 0 {
                0
            } else {
                (x.exit_code >> 8) & 0xff
            },
            time,
        });
        Some(self.envelope(body, x.hdr.ktime))
    }

    fn parent_of(&mut self, info: &ProcInfo) -> Option<Process> {
        if info.ppid == 0 {
            return None;
        }
        let p = self.cache.get(info.ppid)?;
        Some(self.process(&p, p.pid))
    }

    /// The `process` object for a cached process (used by enforcement events too).
    pub fn process_by_pid(&mut self, pid: u32, tid: u32) -> Option<Process> {
        let info = self.cache.get(pid)?;
        Some(self.process(&info, tid))
    }

    /// The parent `process` object of a cached process.
    pub fn parent_by_pid(&mut self, pid: u32) -> Option<Process> {
        let info = self.cache.get(pid)?;
        self.parent_of(&info)
    }

    fn process(&self, i: &ProcInfo, tid: u32) -> Process {
        let container = self.containers.get(i.cgroup_id);
        Process {
            exec_id: exec_id(&self.node, i.ktime, i.pid),
            pid: i.pid,
            uid: i.creds.euid,
            cwd: i.cwd.clone(),
            binary: i.binary.clone(),
            arguments: join_args(&i.args),
            flags: i.flags.join(" "),
            start_time: self.clock.rfc3339(i.ktime),
            auid: i.auid,
            docker: container.as_ref().map(|c| c.id.chars().take(31).collect()),
            pod: container.map(|c| c.pod.clone()),
            parent_exec_id: if i.ppid == 0 {
                String::new()
            } else {
                exec_id(&self.node, i.parent_ktime, i.ppid)
            },
            cap: Capabilities {
                permitted: caps::names(i.creds.cap_permitted),
                effective: caps::names(i.creds.cap_effective),
                inheritable: caps::names(i.creds.cap_inheritable),
            },
            tid,
            process_credentials: Credentials {
                uid: i.creds.uid,
                gid: i.creds.gid,
                euid: i.creds.euid,
                egid: i.creds.egid,
                suid: i.creds.suid,
                sgid: i.creds.sgid,
                fsuid: i.creds.fsuid,
                fsgid: i.creds.fsgid,
            },
            binary_properties: binary_properties(i),
            cgroup_id: i.cgroup_id,
        }
    }
}

/// Tetragon's `binary_properties` for an exec, or None when there is nothing to say.
fn binary_properties(i: &ProcInfo) -> Option<BinaryProperties> {
    let mut bp = BinaryProperties::default();
    if i.flags.contains(&"execve") {
        if i.mode & S_ISUID != 0 && i.creds.euid == i.file_uid && i.creds.uid != i.creds.euid {
            bp.setuid = Some(i.file_uid);
            bp.privileges_changed
                .push("PRIVILEGES_RAISED_EXEC_FILE_SETUID");
        }
        if i.mode & S_ISGID != 0 && i.creds.egid == i.file_gid && i.creds.gid != i.creds.egid {
            bp.setgid = Some(i.file_gid);
            bp.privileges_changed
                .push("PRIVILEGES_RAISED_EXEC_FILE_SETGID");
        }
        if i.secureexec && bp.privileges_changed.is_empty() {
            bp.privileges_changed
                .push("PRIVILEGES_RAISED_EXEC_FILE_CAP");
        }
        if i.nlink == 0 {
            bp.file = Some(FileProperties {
                inode: InodeProperties {
                    number: i.ino,
                    links: 0,
                },
                path: i.binary.clone(),
            });
        }
    }
    (bp != BinaryProperties::default()).then_some(bp)
}

/// `SIGKILL` for 9, etc.
pub fn signal_name(sig: u32) -> String {
    nix::sys::signal::Signal::try_from(sig as i32)
        .map(|s| s.as_str().to_owned())
        .unwrap_or_else(|_| format!("SIG{sig}"))
}
