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
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Body {
    /// A program was executed.
    ProcessExec(ProcessExec),
    /// A thread group exited.
    ProcessExit(ProcessExit),
    /// A hook fired and a policy decided (enforcement or audit).
    ProcessLsm(Box<ProcessLsm>),
}

impl Body {
    /// Tetragon's EventType name, used by `--event-types` filters.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::ProcessExec(_) => "PROCESS_EXEC",
            Self::ProcessExit(_) => "PROCESS_EXIT",
            Self::ProcessLsm(_) => "PROCESS_LSM",
        }
    }

    /// The process the event is about.
    pub fn process(&self) -> &Process {
        match self {
            Self::ProcessExec(e) => &e.process,
            Self::ProcessExit(e) => &e.process,
            Self::ProcessLsm(e) => &e.process,
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
    /// Inode number.
    pub number: u64,
    /// Link count (0 = fileless / deleted).
    pub links: u32,
}
