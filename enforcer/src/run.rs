//! `palisade run --policy NAME|FILE -- CMD...`: run a command in a fresh cgroup2 directory that
//! a policy is enforced on, standalone (the enforcer is loaded in this process).
//!
//! The child joins the cgroup in the window between fork and exec, so the command's very first
//! instruction already runs under the policy.

use std::ffi::CString;
use std::fs;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::enforce::{loader, BindMode, Enforcer, Force, Options};

/// Arguments of `palisade run`.
#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// Policy name (policy dirs, then the built-in library) or YAML file.
    #[arg(long, value_name = "NAME|FILE", required = true)]
    pub policy: Vec<String>,
    /// Directories searched for a policy NAME.
    #[arg(long, value_name = "DIR", default_value = "/etc/palisade/policies")]
    pub policy_dir: Vec<PathBuf>,
    /// Write decisions as JSON lines to FILE instead of standard error.
    #[arg(long, value_name = "FILE")]
    pub events: Option<PathBuf>,
    /// Report denies without preventing them.
    #[arg(long)]
    pub audit: bool,
    /// Force a file-enforcement mechanism instead of probing (auto, fmod-ret, tracepoint).
    #[arg(long, default_value = "auto", value_parser = ["auto", "fmod-ret", "tracepoint"])]
    pub mechanism: String,
    /// Run in this cgroup2 directory (created when missing, removed at exit only then) instead
    /// of a fresh one; other processes can join it to come under the policy.
    #[arg(long, value_name = "DIR")]
    pub cgroup: Option<PathBuf>,
    /// Testing aid: re-apply the policies every MS milliseconds while CMD runs (write the new
    /// sets, flip the binding, delete the old sets), to prove replacement leaves no gap.
    #[arg(long, value_name = "MS", hide = true)]
    pub reapply_every_ms: Option<u64>,
    /// The command and its arguments.
    #[arg(trailing_var_arg = true, required = true)]
    pub cmd: Vec<String>,
}

/// A cgroup2 directory removed (after killing what is left in it) on drop.
struct RunCgroup {
    dir: PathBuf,
    /// Created by us: removed at exit.
    owned: bool,
}

impl RunCgroup {
    fn create(given: Option<&Path>) -> Result<Self> {
        if let Some(dir) = given {
            if dir.is_dir() {
                return Ok(Self {
                    dir: dir.to_path_buf(),
                    owned: false,
                });
            }
            fs::create_dir_all(dir)
                .with_context(|| format!("creating cgroup {}", dir.display()))?;
            return Ok(Self {
                dir: dir.to_path_buf(),
                owned: true,
            });
        }
        let root = loader::cgroup2_root()?;
        let dir = root.join(format!("palisade-run-{}", std::process::id()));
        fs::create_dir(&dir).with_context(|| format!("creating cgroup {}", dir.display()))?;
        Ok(Self { dir, owned: true })
    }

    fn id(&self) -> Result<u64> {
        // the cgroup id the kernel reports is the inode number of the cgroup2 directory
        Ok(fs::metadata(&self.dir)?.ino())
    }
}

impl Drop for RunCgroup {
    fn drop(&mut self) {
        if !self.owned {
            return;
        }
        // leftover background processes: cgroup.kill (5.14+), else one by one
        if fs::write(self.dir.join("cgroup.kill"), "1").is_err() {
            if let Ok(procs) = fs::read_to_string(self.dir.join("cgroup.procs")) {
                for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                    // SAFETY: kill(2) with a pid read from our own cgroup.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
        }
        for _ in 0..50 {
            if fs::remove_dir(&self.dir).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        tracing::warn!("could not remove cgroup {}", self.dir.display());
    }
}

fn open_sink(path: Option<&Path>) -> Result<Box<dyn Write + Send>> {
    Ok(match path {
        Some(p) => Box::new(
            fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .with_context(|| format!("opening {}", p.display()))?,
        ),
        None => Box::new(std::io::stderr()),
    })
}

/// Runs the command; returns its exit status (128 + signal when killed).
pub fn run(args: RunArgs) -> Result<i32> {
    let policies = args
        .policy
        .iter()
        .map(|p| crate::policy::resolve(p, &args.policy_dir).map_err(|e| anyhow::anyhow!("{e}")))
        .collect::<Result<Vec<_>>>()?;
    let force = match args.mechanism.as_str() {
        "fmod-ret" => Force::FmodRet,
        "tracepoint" => Force::Tracepoint,
        _ => Force::Auto,
    };
    let enforcer = Enforcer::load(Options {
        force,
        // standalone: nothing outlives `palisade run`
        ..Default::default()
    })?;
    let mech = enforcer.mechanisms();
    if !mech.file.prevents() {
        eprintln!(
            "palisade run: WARNING: file enforcement is {} on this kernel: denied file operations are NOT prevented ({})",
            mech.file.as_str(),
            mech.notes.join("; ")
        );
    }
    let mut handles = policies
        .iter()
        .map(|p| enforcer.apply(p))
        .collect::<Result<Vec<_>>>()?;
    let cg = RunCgroup::create(args.cgroup.as_deref())?;
    let cg_id = cg.id()?;
    let mode = if args.audit {
        BindMode::Audit
    } else {
        BindMode::Enforce
    };
    enforcer.bind_cgroup(cg_id, &handles, mode)?;
    tracing::debug!(cgroup = cg_id, sets = ?handles.iter().map(|h| h.set_id()).collect::<Vec<_>>(), "policies bound");

    let rx = enforcer.decisions()?;
    let done = Arc::new(AtomicBool::new(false));
    let printer = {
        let done = Arc::clone(&done);
        let mut sink = open_sink(args.events.as_deref())?;
        let mut rx = rx;
        std::thread::spawn(move || loop {
            match rx.try_recv() {
                Ok(d) => {
                    if let Ok(line) = serde_json::to_string(&d) {
                        let _ = writeln!(sink, "{line}");
                        let _ = sink.flush();
                    }
                }
                Err(_) if done.load(Ordering::Acquire) => break,
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        })
    };

    let mut reapplied = 0u64;
    let status = match args.reapply_every_ms {
        None => spawn_in_cgroup(&args.cmd, &cg.dir).and_then(|mut c| Ok(c.wait()?)),
        Some(ms) => spawn_in_cgroup(&args.cmd, &cg.dir).and_then(|mut child| loop {
            if let Some(st) = child.try_wait()? {
                eprintln!("palisade run: re-applied {reapplied} times");
                break Ok(st);
            }
            reapplied += 1;
            std::thread::sleep(Duration::from_millis(ms));
            // new sets first, then one flip, then the old sets go
            let fresh = policies
                .iter()
                .map(|p| enforcer.apply(p))
                .collect::<Result<Vec<_>>>()?;
            enforcer.bind_cgroup(cg_id, &fresh, mode)?;
            for h in std::mem::replace(&mut handles, fresh) {
                enforcer.remove(h)?;
            }
        }),
    };
    // decisions made just before exit are still in the ring buffer: let the reader catch up
    std::thread::sleep(Duration::from_millis(250));
    done.store(true, Ordering::Release);
    let _ = printer.join();
    if let Ok(c) = enforcer.counters() {
        if c.ringbuf_drops > 0 {
            eprintln!("palisade run: {} decision records were lost (ring buffer full); the decisions were still enforced", c.ringbuf_drops);
        }
    }
    let _ = enforcer.unbind_cgroup(cg_id);
    drop(cg);
    for h in handles {
        let _ = enforcer.remove(h);
    }
    let status = status?;
    Ok(status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)))
}

fn spawn_in_cgroup(cmd: &[String], dir: &Path) -> Result<std::process::Child> {
    let Some((prog, rest)) = cmd.split_first() else {
        bail!("no command given")
    };
    let procs = CString::new(dir.join("cgroup.procs").as_os_str().as_bytes())?;
    let mut c = std::process::Command::new(prog);
    c.args(rest);
    // SAFETY: the closure only makes async-signal-safe calls (open, write, close, signal) on
    // memory prepared before fork.
    unsafe {
        c.pre_exec(move || {
            let fd = libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            // "0" = the writing process itself
            let n = libc::write(fd, b"0".as_ptr().cast(), 1);
            let err = std::io::Error::last_os_error();
            libc::close(fd);
            if n != 1 {
                return Err(err);
            }
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            libc::signal(libc::SIGQUIT, libc::SIG_DFL);
            Ok(())
        });
    }
    // the child gets ^C; we stay to clean up
    // SAFETY: setting a signal disposition to SIG_IGN.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGQUIT, libc::SIG_IGN);
    }
    c.spawn()
        .with_context(|| format!("starting {prog} in {}", dir.display()))
}
