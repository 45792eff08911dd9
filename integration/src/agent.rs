//! Runs a real `palisade agent` for a test: its own API socket and export file, stopped on drop.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use serde_json::Value;

/// The `palisade` binary under test: `$PALISADE_BIN`, else `target/{release,debug}/palisade`
/// (the newer of the two). Build it first (`cargo build --workspace`).
pub fn palisade_bin() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("PALISADE_BIN") {
        return Ok(p.into());
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let newest = ["release", "debug"]
        .iter()
        .map(|p| target.join(p).join("palisade"))
        .filter_map(|p| Some((fs::metadata(&p).ok()?.modified().ok()?, p)))
        .max();
    match newest {
        Some((_, p)) => Ok(p),
        None => bail!(
            "no palisade binary under {}: run `cargo build --workspace` first",
            target.display()
        ),
    }
}

/// Fails the test unless running as root (these tests load BPF).
pub fn require_root() {
    // SAFETY: geteuid has no preconditions.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "this end-to-end test loads BPF and must run as root (CI runs as root)"
    );
}

/// A running agent.
pub struct Agent {
    child: Child,
    /// Its API socket.
    pub socket: PathBuf,
    /// Its JSON-lines export file.
    pub events: PathBuf,
    /// Its stderr log.
    pub log: PathBuf,
    own_pins: Option<PathBuf>,
    _dir: tempfile::TempDir,
}

impl Agent {
    /// Starts an agent with `extra` flags and waits until its API answers.
    pub fn start(extra: &[&str]) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let socket = dir.path().join("palisade.sock");
        let events = dir.path().join("events.json");
        let log = dir.path().join("agent.log");
        let mut cmd = Command::new(palisade_bin()?);
        cmd.arg("--socket")
            .arg(&socket)
            .arg("agent")
            .arg("--export-file")
            .arg(&events);
        // NRI only when the test asks for it: several agents must not race for containerd
        if !extra.contains(&"--nri-socket") {
            cmd.args(["--nri-socket", "none"]);
        }
        // pins are per agent unless the test manages them (persistence tests)
        let own_pins = (!extra.contains(&"--bpf-pin-dir")).then(|| {
            static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
            let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            PathBuf::from(format!(
                "/sys/fs/bpf/palisade-test/{}-{n}",
                std::process::id()
            ))
        });
        if let Some(p) = &own_pins {
            cmd.arg("--bpf-pin-dir").arg(p);
        }
        let child = cmd
            .args(extra)
            .stdout(Stdio::null())
            .stderr(fs::File::create(&log)?)
            .spawn()
            .context("starting palisade agent")?;
        let mut agent = Self {
            child,
            socket,
            events,
            log,
            own_pins,
            _dir: dir,
        };
        agent.wait_ready(Duration::from_secs(30))?;
        Ok(agent)
    }

    fn wait_ready(&mut self, timeout: Duration) -> Result<()> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Some(st) = self.child.try_wait()? {
                bail!(
                    "agent exited with {st} during start-up:\n{}",
                    fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            if self.cli(&["status", "-o", "json"]).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        bail!(
            "agent not ready after {timeout:?}:\n{}",
            fs::read_to_string(&self.log).unwrap_or_default()
        )
    }

    /// Runs a `palisade` CLI command against this agent; stdout on success.
    pub fn cli(&self, args: &[&str]) -> Result<String> {
        let out = Command::new(palisade_bin()?)
            .arg("--socket")
            .arg(&self.socket)
            .args(args)
            .output()?;
        if !out.status.success() {
            bail!(
                "palisade {args:?} failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8(out.stdout)?)
    }

    /// The agent's status as JSON.
    pub fn status(&self) -> Result<Value> {
        Ok(serde_json::from_str(&self.cli(&["status", "-o", "json"])?)?)
    }

    /// Every exported event so far.
    pub fn events(&self) -> Result<Vec<Value>> {
        let text = fs::read_to_string(&self.events).unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str(l).with_context(|| format!("bad JSON line: {l}")))
            .collect()
    }

    /// Polls the export file until `pred` holds for the set of events, or times out.
    pub fn wait_events(
        &self,
        timeout: Duration,
        pred: impl Fn(&[Value]) -> bool,
    ) -> Result<Vec<Value>> {
        let start = Instant::now();
        loop {
            let evs = self.events()?;
            if pred(&evs) {
                return Ok(evs);
            }
            if start.elapsed() > timeout {
                return Ok(evs);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Pid of the agent.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the agent with SIGKILL (no clean-up at all), as a crash would.
    pub fn kill(mut self) -> Result<std::process::ExitStatus> {
        self.child.kill()?;
        Ok(self.child.wait()?)
    }

    /// Stops the agent with SIGTERM and waits.
    pub fn stop(mut self) -> Result<std::process::ExitStatus> {
        self.terminate()
    }

    fn terminate(&mut self) -> Result<std::process::ExitStatus> {
        // SAFETY: plain kill(2) on our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Some(st) = self.child.try_wait()? {
                return Ok(st);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.child.kill()?;
        Ok(self.child.wait()?)
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.terminate();
        }
        if let Some(p) = &self.own_pins {
            let _ = std::fs::remove_dir_all(p);
        }
    }
}
