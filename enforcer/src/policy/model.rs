//! The validated policy model (`apiVersion: palisade.dev/v1alpha1`, `kind: Policy`).
//!
//! The parser (`parse.rs`) produces these types only after every check passed, so the compiler
//! never sees a half-valid policy. Field meanings are documented in README.md ("Policies").

use std::net::IpAddr;

/// A whole policy document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// `metadata.name`: unique, `[a-z0-9-]`, at most 63 bytes.
    pub name: String,
    /// `metadata.description`.
    pub description: String,
    /// `spec.mode`: enforce (default) or audit (every deny becomes an audit event).
    pub mode: Mode,
    /// `spec.defaultAction`: what happens to an operation of a *listed* kind that no rule matches.
    /// `None` = allow (deny-list mode). `Some(Deny)` makes the policy an allow-list for the
    /// operations its rules name.
    pub default_action: Option<Action>,
    /// `spec.selector`: which workloads; empty means "only where bound explicitly"
    /// (`palisade run`, annotations).
    pub selector: Selector,
    /// `spec.rules`, in file order (first match wins).
    pub rules: Vec<Rule>,
}

/// Policy-wide mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Denies are denied.
    #[default]
    Enforce,
    /// Denies are only reported.
    Audit,
}

/// Which workloads a policy covers when not bound explicitly.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selector {
    /// cgroup2 directories (absolute paths) whose processes are covered.
    pub cgroups: Vec<String>,
    /// Container names (as in Kubernetes `containers[].name`).
    pub containers: Vec<String>,
    /// Pod label equality matches, all must hold.
    pub pod_labels: Vec<(String, String)>,
    /// Pod namespaces.
    pub namespaces: Vec<String>,
}

/// One rule: operations x matchers -> action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// `name`, or `rule-<index>` when omitted.
    pub name: String,
    /// Operations the rule applies to; never empty.
    pub operations: Vec<Operation>,
    /// Path matchers (file and exec operations). Empty = any path.
    pub paths: PathMatch,
    /// Binary (resolved executable path of the acting process) matchers. Empty = any binary.
    pub binaries: PathMatch,
    /// Effective uids the rule applies to. Empty = any uid.
    pub uids: Vec<u32>,
    /// The acting process's pid as seen in its own pid namespace (1 = a container's init).
    /// None = any process.
    pub ns_pids: Option<NsPids>,
    /// Network destinations (connect only). Empty = any destination.
    pub destinations: Vec<Destination>,
    /// What to do on a match.
    pub action: Action,
}

/// `nsPids`: which processes, by their pid in their own pid namespace, a rule applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NsPids {
    /// `NotIn`: the rule applies to processes whose pid is not listed.
    pub negate: bool,
    /// Pids (at most [`NsPids::MAX`]).
    pub values: Vec<u32>,
}

impl NsPids {
    /// Values per rule (Tetragon's matchPIDs limit too).
    pub const MAX: usize = 4;
}

/// Path matchers; a path matches when any listed matcher matches.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PathMatch {
    /// Whole path equals.
    pub exact: Vec<String>,
    /// Path starts with (a trailing `/` means "inside this directory").
    pub prefix: Vec<String>,
    /// Path ends with.
    pub suffix: Vec<String>,
}

impl PathMatch {
    /// No matcher at all (matches everything).
    pub fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.prefix.is_empty() && self.suffix.is_empty()
    }
}

/// Operations a rule can name (YAML spelling in `as_str`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    /// open for reading.
    Read,
    /// open for writing (incl. O_APPEND).
    Write,
    /// create a file (open with O_CREAT of a new file, mknod).
    Create,
    /// unlink a file.
    Unlink,
    /// rename: both the old and the new name are checked.
    Rename,
    /// hard link: both the existing file and the new name.
    Link,
    /// create a symlink at the path.
    Symlink,
    /// truncate / O_TRUNC / ftruncate.
    Truncate,
    /// chmod / fchmod.
    Chmod,
    /// chown / fchown.
    Chown,
    /// setxattr / removexattr.
    Setxattr,
    /// mkdir.
    Mkdir,
    /// rmdir.
    Rmdir,
    /// execute a binary at the path.
    Exec,
    /// mmap/mprotect with PROT_EXEC of a file at the path.
    MmapExec,
    /// connect / sendmsg to a destination.
    Connect,
}

impl Operation {
    /// Every operation, in declaration order.
    pub const ALL: [Self; 16] = [
        Self::Read,
        Self::Write,
        Self::Create,
        Self::Unlink,
        Self::Rename,
        Self::Link,
        Self::Symlink,
        Self::Truncate,
        Self::Chmod,
        Self::Chown,
        Self::Setxattr,
        Self::Mkdir,
        Self::Rmdir,
        Self::Exec,
        Self::MmapExec,
        Self::Connect,
    ];

    /// YAML spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Create => "create",
            Self::Unlink => "unlink",
            Self::Rename => "rename",
            Self::Link => "link",
            Self::Symlink => "symlink",
            Self::Truncate => "truncate",
            Self::Chmod => "chmod",
            Self::Chown => "chown",
            Self::Setxattr => "setxattr",
            Self::Mkdir => "mkdir",
            Self::Rmdir => "rmdir",
            Self::Exec => "exec",
            Self::MmapExec => "mmap-exec",
            Self::Connect => "connect",
        }
    }

    /// Parses the YAML spelling.
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|op| op.as_str() == s)
    }

    /// True for the file/exec operations matched by path.
    pub fn is_path_op(self) -> bool {
        !matches!(self, Self::Connect)
    }
}

/// What happens on a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Let it happen (useful before a broader deny, or as `defaultAction`).
    Allow,
    /// The syscall fails with EPERM and nothing happens.
    Deny,
    /// Deny inline and SIGKILL the process in the same hook.
    DenyAndKill,
    /// Let it happen and report it.
    Audit,
}

impl Action {
    /// YAML spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Deny => "deny",
            Self::DenyAndKill => "deny-and-kill",
            Self::Audit => "audit",
        }
    }
}

/// A network destination: address or CIDR, optional port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// Network address.
    pub addr: IpAddr,
    /// Prefix length (32/128 for a single address).
    pub prefix_len: u8,
    /// Destination port; `None` = any port.
    pub port: Option<u16>,
}
