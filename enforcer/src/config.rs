//! `palisade agent --config FILE`: TOML whose keys are the agent's long flags with `_` for `-`
//! (`policy_dir`, `nri_socket`, ...). A flag given on the command line wins over the file.
//! Unknown keys and wrong types are errors with the file's line and column: a typo in a
//! security agent's configuration must not be silently ignored.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result};
use serde::Deserialize;

/// The configuration file.
#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// `--policy-dir`.
    pub policy_dir: Option<PathBuf>,
    /// `--nri-socket` (`none` disables).
    pub nri_socket: Option<PathBuf>,
    /// `--export-stdout`.
    pub export_stdout: Option<bool>,
    /// `--export-file`.
    pub export_file: Option<PathBuf>,
    /// `--export-file-max-mib`.
    pub export_file_max_mib: Option<u64>,
    /// `--export-file-keep`.
    pub export_file_keep: Option<u32>,
    /// `--metrics-addr`.
    pub metrics_addr: Option<SocketAddr>,
    /// `--node-name`.
    pub node_name: Option<String>,
    /// `--bpf-pin-dir` (`none` disables).
    pub bpf_pin_dir: Option<PathBuf>,
    /// `--log`.
    pub log: Option<String>,
    /// `--no-self-protect`.
    pub no_self_protect: Option<bool>,
    /// `--fail-closed` (`off`, `audit`, `deny`).
    pub fail_closed: Option<crate::guard::Mode>,
    /// `--guard-cgroup` (a list).
    pub guard_cgroup: Option<Vec<PathBuf>>,
}

/// Parses configuration text; errors name `file:line:col`.
pub fn parse(text: &str, file: &str) -> Result<AgentConfig> {
    toml::from_str(text).map_err(|e| {
        let pos = e.span().map(|s| {
            let before = &text[..s.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("{line}:{col}")
        });
        anyhow::anyhow!(
            "{file}:{}: error: {}",
            pos.unwrap_or_else(|| "1:1".into()),
            e.message()
        )
    })
}

/// Reads and parses a configuration file.
pub fn load(path: &Path) -> Result<AgentConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading config {}", path.display()))?;
    parse(&text, &path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_config_parses() {
        let text = include_str!("../../install/config/palisade.toml");
        let c = parse(text, "palisade.toml").unwrap();
        assert_eq!(
            c.policy_dir.as_deref(),
            Some(Path::new("/etc/palisade/policies"))
        );
        assert_eq!(c.metrics_addr, Some("127.0.0.1:9567".parse().unwrap()));
        assert_eq!(c.export_file_keep, Some(5));
    }

    #[test]
    fn unknown_keys_and_bad_types_are_located() {
        let e = parse("policy_dir = \"/x\"\npolcy_dir = \"/y\"\n", "c.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("c.toml:2:1: error:"), "{e}");
        assert!(e.contains("polcy_dir"), "{e}");
        let e = parse("export_file_keep = \"five\"\n", "c.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("c.toml:1:20: error:"), "{e}");
    }

    #[test]
    fn guard_keys() {
        let c = parse(
            "fail_closed = \"deny\"\nguard_cgroup = [\"/kubepods.slice\"]\n",
            "c.toml",
        )
        .unwrap();
        assert_eq!(c.fail_closed, Some(crate::guard::Mode::Deny));
        assert_eq!(c.guard_cgroup, Some(vec![PathBuf::from("/kubepods.slice")]));
        let e = parse("fail_closed = \"maybe\"\n", "c.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown variant"), "{e}");
    }
}
