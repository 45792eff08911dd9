//! Syscall-heavy microbenchmarks for integration/bench/run.sh, timed from user space:
//!
//!     syscall-bench open|exec|connect ITERATIONS ROUNDS [CGROUP_DIR]
//!
//! open:    open(TMP/f, O_RDWR) + close (a write-open: the agent's file rules are looked up)
//! exec:    fork + execve(/bin/true) + wait
//! connect: TCP connect to a listener on 127.0.0.1 (accepted by a thread) + close
//!
//! With CGROUP_DIR the process joins that cgroup first (the agent binds the policy there).
//! Prints `<op> min_ns median_ns` per operation over ROUNDS rounds of ITERATIONS operations.
//!
//! A second mode offers refused loopback connects at a fixed rate, for the event pipeline steps:
//!
//!     syscall-bench connect-rate RATE SECONDS PORT [CGROUP_DIR]
//!
//! It prints `offered=<n> refused=<n> seconds=<s> achieved=<rate>/s`; the caller compares the
//! achieved rate with the one it asked for. And for tests/enforce_ringbuf_full.rs:
//!
//!     syscall-bench connect-denied N PORT [CGROUP_DIR]

use std::{
    net::{TcpListener, TcpStream},
    os::unix::process::CommandExt,
    process::Command,
    time::{Duration, Instant},
};

use anyhow::{bail, ensure, Context, Result};

fn arg<T: std::str::FromStr>(args: &[String], i: usize, what: &str) -> Result<T>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    args.get(i)
        .with_context(|| format!("{what} missing"))?
        .parse()
        .with_context(|| format!("bad {what}"))
}

fn open_close(dir: &std::path::Path) -> Result<impl FnMut() -> Result<()>> {
    let f = dir.join("f");
    std::fs::write(&f, b"x")?;
    let c = std::ffi::CString::new(f.as_os_str().as_encoded_bytes())?;
    Ok(move || {
        // SAFETY: plain open/close on a NUL-terminated path we own.
        let fd = unsafe { libc::open(c.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
        ensure!(fd >= 0, "open: {}", std::io::Error::last_os_error());
        // SAFETY: fd was just returned by open.
        unsafe { libc::close(fd) };
        Ok(())
    })
}

fn exec_true() -> impl FnMut() -> Result<()> {
    || {
        let st = Command::new("/bin/true").arg0("true").status()?;
        ensure!(st.success(), "/bin/true failed: {st}");
        Ok(())
    }
}

fn connect_loop() -> Result<impl FnMut() -> Result<()>> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    // a deep backlog (capped by net.core.somaxconn): on a busy 2-core box the acceptor thread
    // may not run for a while, and every SYN dropped on a full queue costs a 1 s retransmit
    // SAFETY: listen(2) again on our own listening socket only raises its backlog.
    let rc = unsafe { libc::listen(std::os::fd::AsRawFd::as_raw_fd(&l), 65535) };
    ensure!(rc == 0, "listen: {}", std::io::Error::last_os_error());
    let addr = l.local_addr()?;
    std::thread::spawn(move || {
        // accept and drop at once: a slow acceptor would fill the backlog, and a dropped SYN
        // costs a 1 s retransmit that swamps the figure
        for s in l.incoming() {
            drop(s);
        }
    });
    Ok(move || {
        let s = TcpStream::connect(addr).context("connect to the local listener")?;
        // abortive close: no TIME_WAIT pile-up over 100k connects
        let lg = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: setsockopt on our own socket with a correctly sized linger struct.
        unsafe {
            libc::setsockopt(
                std::os::fd::AsRawFd::as_raw_fd(&s),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&lg as *const libc::linger).cast(),
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            )
        };
        drop(s);
        Ok(())
    })
}

fn bench(op: &str, iters: usize, rounds: usize, mut f: impl FnMut() -> Result<()>) -> Result<()> {
    for _ in 0..iters.min(1000) {
        f()?; // warm-up: page cache, listener backlog, allocator
    }
    let mut per = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t = Instant::now();
        for _ in 0..iters {
            f()?;
        }
        per.push(t.elapsed().as_nanos() as f64 / iters as f64);
    }
    per.sort_by(f64::total_cmp);
    println!("{op} {:.0} {:.0}", per[0], per[rounds / 2]);
    Ok(())
}

/// Refused connects to 127.0.0.1:PORT (nobody listens; PORT outside the ephemeral range, or a
/// connect may meet itself and succeed), paced to RATE per second over two
/// threads (one thread tops out below 20k/s here).
fn connect_rate(rate: u64, secs: f64, port: u16) -> Result<()> {
    const THREADS: u64 = 2;
    let per_thread = rate as f64 / THREADS as f64;
    let total = (rate as f64 * secs) as u64;
    let start = Instant::now();
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let n = total / THREADS + u64::from(t < total % THREADS);
            std::thread::spawn(move || {
                let mut refused = 0u64;
                for i in 0..n {
                    let due = Duration::from_secs_f64(i as f64 / per_thread);
                    let now = start.elapsed();
                    if due > now + Duration::from_micros(200) {
                        std::thread::sleep(due - now);
                    }
                    if TcpStream::connect(("127.0.0.1", port)).is_err() {
                        refused += 1;
                    }
                }
                refused
            })
        })
        .collect();
    let mut refused = 0;
    for w in workers {
        refused += w
            .join()
            .map_err(|_| anyhow::anyhow!("generator panicked"))?;
    }
    let took = start.elapsed().as_secs_f64();
    let achieved = total as f64 / took;
    // the caller compares achieved with the rate it asked for
    println!("offered={total} refused={refused} seconds={took:.2} achieved={achieved:.0}/s");
    Ok(())
}

/// N connects to 127.0.0.1:PORT that a policy denies; counts the outcomes. Joins CGROUP_DIR
/// first when given. Prints `denied=<EPERM> connected=<n> other=<n>`.
fn connect_denied(n: u64, port: u16) -> Result<()> {
    let (mut denied, mut connected, mut other) = (0u64, 0u64, 0u64);
    for _ in 0..n {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(_) => connected += 1,
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => denied += 1,
            Err(_) => other += 1,
        }
    }
    println!("denied={denied} connected={connected} other={other}");
    Ok(())
}

fn join_cgroup(cg: &str) -> Result<()> {
    std::fs::write(format!("{cg}/cgroup.procs"), std::process::id().to_string())
        .with_context(|| format!("joining cgroup {cg}"))
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let op = args.get(1).map(String::as_str).unwrap_or("");
    if op == "connect-rate" {
        if let Some(cg) = args.get(5) {
            join_cgroup(cg)?;
        }
        return connect_rate(
            arg(&args, 2, "RATE")?,
            arg(&args, 3, "SECONDS")?,
            arg(&args, 4, "PORT")?,
        );
    }
    if op == "connect-denied" {
        if let Some(cg) = args.get(4) {
            join_cgroup(cg)?;
        }
        return connect_denied(arg(&args, 2, "N")?, arg(&args, 3, "PORT")?);
    }
    let iters: usize = arg(&args, 2, "ITERATIONS")?;
    let rounds: usize = arg(&args, 3, "ROUNDS")?;
    ensure!(iters > 0 && rounds > 0, "ITERATIONS and ROUNDS must be > 0");
    if let Some(cg) = args.get(4) {
        join_cgroup(cg)?;
    }
    let dir = tempfile::tempdir()?;
    match op {
        "open" => bench(op, iters, rounds, open_close(dir.path())?),
        "exec" => bench(op, iters, rounds, exec_true()),
        "connect" => bench(op, iters, rounds, connect_loop()?),
        _ => bail!("usage: syscall-bench open|exec|connect ITERATIONS ROUNDS [CGROUP_DIR] | connect-rate RATE SECONDS PORT [CGROUP_DIR] | connect-denied N PORT [CGROUP_DIR]"),
    }
}
