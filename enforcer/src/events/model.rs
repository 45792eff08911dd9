//! Exported event types. Field names follow Tetragon's JSON export (protobuf JSON with snake_case
//! names, see shared/research/tetragon.md §1), so jq filters written for Tetragon keep working.
//! palisade-only fields (`cgroup_id`, `enforcement`) are additions, never renames.

use serde::Serialize;

/// One exported line: `{"process_exec": {...}, "node_name": "...", "time": "..."}`.
#[derive(Debug, Clone, Serialize)]
pub struct Envelope {
    /// The event body, keyed by its kind.
    #[serde(flatten)]
    pub body: Body,
    /// Node the event comes from.
    pub node_name: String,
    /// RFC 3339 time with nanoseconds, UTC.
    pub time: String,
}

/// Event kinds (JSON key = Tetragon's oneof name).
#[allow(clippy::enum_variant_names)] // the names are Tetragon's
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Body {
    /// A program was executed.
    ProcessExec(ProcessExec),
    /// A thread group exited.
    ProcessExit(ProcessExit),
    /// A hook fired and a policy decided (enforcement or audit).
    ProcessLsm(Box<ProcessLsm>),
    /// A detection hook fired (observe only): privilege changes, BPF, modules, TCP.
    ProcessKprobe(Box<ProcessKprobe>),
    /// A process mapped a file executable (shared library loading).
    ProcessLoader(Box<ProcessLoader>),
}

impl Body {
    /// Tetragon's EventType name, used by `--event-types` filters.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::ProcessExec(_) => "PROCESS_EXEC",
            Self::ProcessExit(_) => "PROCESS_EXIT",
            Self::ProcessLsm(_) => "PROCESS_LSM",
            Self::ProcessKprobe(_) => "PROCESS_KPROBE",
            Self::ProcessLoader(_) => "PROCESS_LOADER",
        }
    }

    /// The process the event is about, mutably.
    pub fn process_mut(&mut self) -> &mut Process {
        match self {
            Self::ProcessExec(e) => &mut e.process,
            Self::ProcessExit(e) => &mut e.process,
            Self::ProcessLsm(e) => &mut e.process,
            Self::ProcessKprobe(e) => &mut e.process,
            Self::ProcessLoader(e) => &mut e.process,
        }
    }

    /// The parent of the process the event is about, mutably.
    pub fn parent_mut(&mut self) -> Option<&mut Process> {
        match self {
            Self::ProcessExec(e) => e.parent.as_mut(),
            Self::ProcessExit(e) => e.parent.as_mut(),
            Self::ProcessLsm(e) => e.parent.as_mut(),
            Self::ProcessKprobe(e) => e.parent.as_mut(),
            Self::ProcessLoader(e) => e.parent.as_mut(),
        }
    }

    /// The process the event is about.
    pub fn process(&self) -> &Process {
        match self {
            Self::ProcessExec(e) => &e.process,
            Self::ProcessExit(e) => &e.process,
            Self::ProcessLsm(e) => &e.process,
            Self::ProcessKprobe(e) => &e.process,
            Self::ProcessLoader(e) => &e.process,
        }
    }
}

/// `process_exec`.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessExec {
    /// The new program.
    pub process: Process,
    /// Its parent, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<Process>,
}

/// `process_exit`.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessExit {
    /// The exiting process.
    pub process: Process,
    /// Its parent, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<Process>,
    /// Signal name when killed by a signal (`SIGKILL`), else absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
    /// Exit status (0..255); 0 when killed by a signal.
    pub status: u32,
    /// Time of exit.
    pub time: String,
}

/// `process_lsm`: a policy decision at an LSM (or fallback) hook.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessLsm {
    /// Acting process.
    pub process: Process,
    /// Its parent, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<Process>,
    /// Hook name as Tetragon prints it (`security_path_unlink`).
    pub function_name: String,
    /// Policy that decided.
    pub policy_name: String,
    /// Tetragon action spelling: KPROBE_ACTION_OVERRIDE (deny), _SIGKILL, _POST (audit).
    pub action: String,
    /// Hook arguments (paths, addresses).
    pub args: Vec<serde_json::Value>,
    /// What palisade did, and how.
    pub enforcement: Enforcement,
}

/// `process_kprobe`: a detection hook fired. palisade attaches tracepoints, not kprobes; the
/// shape is Tetragon's so that filters on `function_name`/`args` keep working, and `hook` says
/// which tracepoint produced the event.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessKprobe {
    /// Acting process (credentials as of the event).
    pub process: Process,
    /// Its parent, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<Process>,
    /// Syscall (`__x64_sys_setuid`) or kernel function (`tcp_connect`) the event stands for.
    pub function_name: String,
    /// KprobeArgument-shaped objects (`{"int_arg": 0, "label": "uid"}`, `{"sock_arg": {...}}`).
    pub args: Vec<serde_json::Value>,
    /// Result (`{"int_arg": -1}`), when the hook sees one.
    #[serde(rename = "return", skip_serializing_if = "Option::is_none")]
    pub r#return: Option<serde_json::Value>,
    /// `KPROBE_ACTION_POST`: detections only report.
    pub action: String,
    /// Detection (policy-library entry) that produced the event.
    pub policy_name: String,
    /// Human summary.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// palisade: the hook that fired (`tp_btf/sys_exit`, `tp_btf/inet_sock_set_state`...).
    pub hook: String,
}

/// `process_loader`: a file mapped executable by a process (once per process image and file).
#[derive(Debug, Clone, Serialize)]
pub struct ProcessLoader {
    /// The process.
    pub process: Process,
    /// Its parent, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<Process>,
    /// Path of the mapped file.
    pub path: String,
    /// palisade: the path was longer or deeper than the resolver's bounds.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    /// palisade: the hook that fired.
    pub hook: String,
}

/// palisade's account of an enforcement decision.
#[derive(Debug, Clone, Serialize)]
pub struct Enforcement {
    /// `deny`, `deny-and-kill`, `audit`.
    pub action: String,
    /// `bpf-lsm`, `fmod-ret`, `tracepoint-sigkill`, `cgroup-bpf`.
    pub mechanism: String,
    /// True when the operation did not happen (inline deny); false for audit and for the
    /// SIGKILL-after-the-fact fallback.
    pub prevented: bool,
    /// Rule within the policy.
    pub rule: String,
    /// Operation class (`unlink`, `write`, `exec`...).
    pub operation: String,
    /// Error returned to the caller (`EPERM`), when denied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// SIGKILL was sent in the same hook.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub killed: bool,
    /// The path could not be resolved completely and the decision failed closed.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub fail_closed: bool,
    /// Matched through the file's identity (a hard link of a protected file).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub by_inode: bool,
}

/// Tetragon's `Process` message (the fields palisade fills).
#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct Process {
    /// base64("node:ktime:pid").
    pub exec_id: String,
    /// Thread group id, host pid namespace.
    pub pid: u32,
    /// Effective uid.
    pub uid: u32,
    /// Working directory at exec.
    pub cwd: String,
    /// Absolute path of the executed file.
    pub binary: String,
    /// Arguments without argv[0], space-joined, quoted where needed.
    pub arguments: String,
    /// Space-separated flags (`execve`, `procFS`, `clone`, `truncFilename`, `truncArgs`...).
    pub flags: String,
    /// Process start (exec) time.
    pub start_time: String,
    /// Audit login uid (4294967295 = unset).
    pub auid: u32,
    /// Pod and container, for container processes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod: Option<Pod>,
    /// Container id, first 31 characters (Tetragon's `docker` field).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub docker: Option<String>,
    /// exec_id of the parent.
    pub parent_exec_id: String,
    /// Capabilities at exec.
    pub cap: Capabilities,
    /// Thread id.
    pub tid: u32,
    /// Full credentials.
    pub process_credentials: Credentials,
    /// Exec-time properties of the binary (setuid, fileless...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binary_properties: Option<BinaryProperties>,
    /// palisade: cgroup v2 id of the process.
    pub cgroup_id: u64,
}

/// `Pod`.
#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct Pod {
    /// Namespace.
    pub namespace: String,
    /// Pod name.
    pub name: String,
    /// Pod uid.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub uid: String,
    /// The container.
    pub container: Container,
    /// Pod labels.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub pod_labels: std::collections::BTreeMap<String, String>,
}

/// `Container`.
#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct Container {
    /// Runtime-prefixed id (`containerd://<64 hex>`).
    pub id: String,
    /// Container name.
    pub name: String,
    /// Image.
    pub image: Image,
    /// Container start time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
}

/// `Image`.
#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct Image {
    /// Image id (digest).
    pub id: String,
    /// Image name (reference).
    pub name: String,
}

/// `Capabilities`.
#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct Capabilities {
    /// Permitted set names.
    pub permitted: Vec<&'static str>,
    /// Effective set names.
    pub effective: Vec<&'static str>,
    /// Inheritable set names.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub inheritable: Vec<&'static str>,
}

/// `process_credentials`.
#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct Credentials {
    /// Real uid.
    pub uid: u32,
    /// Real gid.
    pub gid: u32,
    /// Effective uid.
    pub euid: u32,
    /// Effective gid.
    pub egid: u32,
    /// Saved uid.
    pub suid: u32,
    /// Saved gid.
    pub sgid: u32,
    /// Filesystem uid.
    pub fsuid: u32,
    /// Filesystem gid.
    pub fsgid: u32,
}

/// `binary_properties`.
#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct BinaryProperties {
    /// Owner uid of a setuid binary that changed the euid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub setuid: Option<u32>,
    /// Group of a setgid binary that changed the egid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub setgid: Option<u32>,
    /// `PRIVILEGES_RAISED_EXEC_FILE_SETUID`, `..._SETGID`, `..._CAP`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub privileges_changed: Vec<&'static str>,
    /// Set for fileless or deleted binaries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<FileProperties>,
}

/// `binary_properties.file`.
#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct FileProperties {
    /// Inode.
    pub inode: InodeProperties,
    /// Path as resolved.
    pub path: String,
}

/// `binary_properties.file.inode`.
#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct InodeProperties {
    /// Inode number, a JSON string as protobuf JSON writes uint64 (`"number":"45021"`), which
    /// Tetragon's documented output shows.
    #[serde(serialize_with = "u64_string")]
    pub number: u64,
    /// Link count (0 = fileless / deleted).
    pub links: u32,
}

fn u64_string<S: serde::Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}
