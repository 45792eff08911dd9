//! Export sinks: JSON lines to stdout or to a file rotated by size.
//!
//! The pipeline never blocks on a slow sink: lines go through a bounded queue to a writer
//! thread, and a full queue drops the line and counts it (`palisade status` shows the count).

use std::{
    fs::{self, File, OpenOptions},
    io::{self, BufWriter, Write},
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicU64, Ordering},
        mpsc::{sync_channel, Receiver, SyncSender, TrySendError},
        Arc,
    },
    thread::JoinHandle,
};

/// Where lines go.
#[derive(Debug, Clone)]
pub enum Sink {
    /// Standard output.
    Stdout,
    /// A file, rotated to `PATH.1 .. PATH.keep` when it exceeds `max_bytes`.
    File {
        /// File path.
        path: PathBuf,
        /// Rotation size.
        max_bytes: u64,
        /// Rotated files kept.
        keep: u32,
    },
}

/// Handle to the writer thread.
pub struct Exporter {
    tx: Option<SyncSender<Arc<str>>>,
    dropped: Arc<AtomicU64>,
    written: Arc<AtomicU64>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl Exporter {
    /// Starts the writer with a queue of `capacity` lines.
    pub fn start(sink: Sink, capacity: usize) -> io::Result<Self> {
        let (tx, rx) = sync_channel(capacity);
        let written = Arc::new(AtomicU64::new(0));
        let w = Arc::clone(&written);
        let out: Box<dyn LineWriter> = match sink {
            Sink::Stdout => Box::new(BufWriter::new(io::stdout())),
            Sink::File {
                path,
                max_bytes,
                keep,
            } => Box::new(RotatingFile::open(path, max_bytes, keep)?),
        };
        let thread = std::thread::Builder::new()
            .name("palisade-export".into())
            .spawn(move || write_loop(rx, out, &w))?;
        Ok(Self {
            tx: Some(tx),
            dropped: Arc::new(AtomicU64::new(0)),
            written,
            thread: Some(thread),
        })
    }

    /// Queues a line; drops and counts it when the queue is full.
    pub fn send(&self, line: Arc<str>) {
        if let Some(tx) = &self.tx {
            match tx.try_send(line) {
                Ok(()) => {}
                Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// Lines dropped because the sink could not keep up.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Lines written.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    /// Flushes everything queued and stops the writer.
    pub fn close(mut self) -> io::Result<()> {
        self.tx.take();
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(io::Error::other("export thread panicked")),
            None => Ok(()),
        }
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

trait LineWriter: Send {
    fn write_line(&mut self, line: &str) -> io::Result<()>;
    fn flush(&mut self) -> io::Result<()>;
}

impl<W: Write + Send> LineWriter for BufWriter<W> {
    fn write_line(&mut self, line: &str) -> io::Result<()> {
        self.write_all(line.as_bytes())?;
        self.write_all(b"\n")
    }
    fn flush(&mut self) -> io::Result<()> {
        Write::flush(self)
    }
}

fn write_loop(
    rx: Receiver<Arc<str>>,
    mut out: Box<dyn LineWriter>,
    written: &AtomicU64,
) -> io::Result<()> {
    while let Ok(line) = rx.recv() {
        out.write_line(&line)?;
        written.fetch_add(1, Ordering::Relaxed);
        // flush when the queue is drained, so a quiet stream is still delivered promptly
        while let Ok(line) = rx.try_recv() {
            out.write_line(&line)?;
            written.fetch_add(1, Ordering::Relaxed);
        }
        out.flush()?;
    }
    out.flush()
}

struct RotatingFile {
    path: PathBuf,
    max_bytes: u64,
    keep: u32,
    size: u64,
    out: BufWriter<File>,
}

impl RotatingFile {
    fn open(path: PathBuf, max_bytes: u64, keep: u32) -> io::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir)?;
        }
        let f = OpenOptions::new().create(true).append(true).open(&path)?;
        let size = f.metadata()?.len();
        Ok(Self {
            path,
            max_bytes,
            keep,
            size,
            out: BufWriter::new(f),
        })
    }

    fn rotate(&mut self) -> io::Result<()> {
        Write::flush(&mut self.out)?;
        for i in (1..self.keep).rev() {
            let from = numbered(&self.path, i);
            if from.exists() {
                fs::rename(&from, numbered(&self.path, i + 1))?;
            }
        }
        if self.keep > 0 {
            fs::rename(&self.path, numbered(&self.path, 1))?;
        } else {
            fs::remove_file(&self.path)?;
        }
        self.out = BufWriter::new(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?,
        );
        self.size = 0;
        Ok(())
    }
}

fn numbered(path: &Path, i: u32) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{i}"));
    s.into()
}

impl LineWriter for RotatingFile {
    fn write_line(&mut self, line: &str) -> io::Result<()> {
        let n = line.len() as u64 + 1;
        if self.size > 0 && self.size + n > self.max_bytes {
            self.rotate()?;
        }
        self.out.write_all(line.as_bytes())?;
        self.out.write_all(b"\n")?;
        self.size += n;
        Ok(())
    }
    fn flush(&mut self) -> io::Result<()> {
        Write::flush(&mut self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_sink_rotates_and_keeps_every_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.log");
        let ex = Exporter::start(
            Sink::File {
                path: path.clone(),
                max_bytes: 100,
                keep: 10,
            },
            1000,
        )
        .unwrap();
        for i in 0..50 {
            ex.send(format!("{{\"n\":{i:04}}}").into());
        }
        assert_eq!(ex.dropped(), 0);
        ex.close().unwrap();
        let mut files: Vec<PathBuf> = (1..=10).rev().map(|i| numbered(&path, i)).collect();
        files.push(path.clone());
        let mut lines = Vec::new();
        for f in files.iter().filter(|f| f.exists()) {
            let s = fs::read_to_string(f).unwrap();
            assert!(s.len() <= 100, "{} has {} bytes", f.display(), s.len());
            lines.extend(s.lines().map(str::to_owned));
        }
        // 11-byte lines, 9 per 100-byte file: 6 files, all kept, in order
        let all: Vec<String> = (0..50).map(|i| format!("{{\"n\":{i:04}}}")).collect();
        assert_eq!(lines, all);
        assert!(numbered(&path, 5).exists() && !numbered(&path, 6).exists());
    }

    #[test]
    fn full_queue_counts_drops() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.log");
        let ex = Exporter::start(
            Sink::File {
                path,
                max_bytes: 1 << 20,
                keep: 1,
            },
            1,
        )
        .unwrap();
        for _ in 0..10_000 {
            ex.send("x".into());
        }
        let d = ex.dropped();
        let w = Arc::clone(&ex.written);
        ex.close().unwrap();
        let w = w.load(Ordering::Relaxed);
        assert_eq!(
            d + w,
            10_000,
            "every line is either written or counted as dropped"
        );
    }
}
