//! Prometheus metrics on `--metrics-addr` (text exposition format 0.0.4).
//!
//! A hand-written exposition keeps the dependency list short; the format is a few lines per
//! family and is checked by a test against the parser rules that matter (HELP/TYPE, labels,
//! histogram buckets ending in +Inf).

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use anyhow::{Context, Result};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
    task::JoinHandle,
};

use crate::agent::Shared;

/// Upper bounds (seconds) of the NRI handler latency histogram.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// A latency histogram.
#[derive(Debug, Default, Clone)]
pub struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&mut self, d: Duration) {
        let s = d.as_secs_f64();
        for (i, b) in BUCKETS.iter().enumerate() {
            if s <= *b {
                self.counts[i] += 1;
            }
        }
        self.sum += s;
        self.count += 1;
    }
}

/// Counters the agent updates as it works.
#[derive(Debug, Default)]
pub struct Metrics {
    events: Mutex<BTreeMap<&'static str, u64>>,
    enforcement: Mutex<BTreeMap<(String, String, String), u64>>,
    nri_handler: Mutex<Histogram>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Metrics {
    /// Counts an exported event of Tetragon type `kind` (`PROCESS_EXEC`...).
    pub fn event(&self, kind: &'static str) {
        *lock(&self.events).entry(kind).or_default() += 1;
    }

    /// Counts an enforcement decision.
    pub fn enforcement(&self, policy: &str, action: &str, mechanism: &str) {
        *lock(&self.enforcement)
            .entry((policy.into(), action.into(), mechanism.into()))
            .or_default() += 1;
    }

    /// Records the time an NRI StartContainer took in palisade's handler.
    pub fn nri_handler(&self, d: Duration) {
        lock(&self.nri_handler).observe(d);
    }

    /// NRI handler latency snapshot.
    pub fn nri_histogram(&self) -> Histogram {
        lock(&self.nri_handler).clone()
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// Renders every family.
pub fn render(shared: &Shared) -> String {
    let m = &shared.metrics;
    let st = shared.status();
    let mut out = String::new();
    family(
        &mut out,
        "palisade_events_total",
        "counter",
        "Events exported, by Tetragon event type.",
    );
    for (k, v) in lock(&m.events).iter() {
        let _ = writeln!(out, "palisade_events_total{{type=\"{k}\"}} {v}");
    }
    family(
        &mut out,
        "palisade_enforcement_actions_total",
        "counter",
        "Policy decisions, by policy, action and mechanism.",
    );
    for ((p, a, mech), v) in lock(&m.enforcement).iter() {
        let _ = writeln!(
            out,
            "palisade_enforcement_actions_total{{policy=\"{}\",action=\"{}\",mechanism=\"{}\"}} {v}",
            escape(p),
            escape(a),
            escape(mech)
        );
    }
    family(
        &mut out,
        "palisade_ringbuf_drops_total",
        "counter",
        "Kernel records lost because the ring buffer was full.",
    );
    let _ = writeln!(
        out,
        "palisade_ringbuf_drops_total {}",
        st.kernel_counters.ringbuf_drops
    );
    family(
        &mut out,
        "palisade_export_drops_total",
        "counter",
        "Events dropped because the export sink was too slow.",
    );
    let _ = writeln!(out, "palisade_export_drops_total {}", st.export_dropped);
    family(
        &mut out,
        "palisade_decode_errors_total",
        "counter",
        "Kernel records that could not be decoded.",
    );
    let _ = writeln!(out, "palisade_decode_errors_total {}", st.decode_errors);
    family(
        &mut out,
        "palisade_containers_tracked",
        "gauge",
        "Containers known to the agent.",
    );
    let _ = writeln!(out, "palisade_containers_tracked {}", st.containers);
    family(
        &mut out,
        "palisade_processes_tracked",
        "gauge",
        "Running processes in the process cache.",
    );
    let _ = writeln!(out, "palisade_processes_tracked {}", st.process_cache.live);
    family(
        &mut out,
        "palisade_bpf_map_entries",
        "gauge",
        "Entries in palisade's BPF maps.",
    );
    family(
        &mut out,
        "palisade_bpf_map_capacity",
        "gauge",
        "Capacity of palisade's BPF maps.",
    );
    for (name, entries, cap) in shared.map_fill() {
        let _ = writeln!(out, "palisade_bpf_map_entries{{map=\"{name}\"}} {entries}");
        let _ = writeln!(out, "palisade_bpf_map_capacity{{map=\"{name}\"}} {cap}");
    }
    let h = m.nri_histogram();
    family(
        &mut out,
        "palisade_nri_handler_seconds",
        "histogram",
        "Time palisade's NRI StartContainer handler took.",
    );
    for (b, c) in BUCKETS.iter().zip(h.counts) {
        let _ = writeln!(out, "palisade_nri_handler_seconds_bucket{{le=\"{b}\"}} {c}");
    }
    let _ = writeln!(
        out,
        "palisade_nri_handler_seconds_bucket{{le=\"+Inf\"}} {}",
        h.count
    );
    let _ = writeln!(out, "palisade_nri_handler_seconds_sum {}", h.sum);
    let _ = writeln!(out, "palisade_nri_handler_seconds_count {}", h.count);
    out
}

/// Serves `GET /metrics` on `addr` in a background task.
pub async fn serve(addr: SocketAddr, shared: Arc<Shared>) -> Result<JoinHandle<()>> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding metrics address {addr}"))?;
    Ok(tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                continue;
            };
            let shared = Arc::clone(&shared);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let n =
                    match tokio::time::timeout(Duration::from_secs(5), sock.read(&mut buf)).await {
                        Ok(Ok(n)) => n,
                        _ => return,
                    };
                let req = String::from_utf8_lossy(&buf[..n]);
                let path = req.split_whitespace().nth(1).unwrap_or("");
                let (status, body) = if path == "/metrics" || path.starts_with("/metrics?") {
                    ("200 OK", render(&shared))
                } else {
                    ("404 Not Found", "see /metrics\n".to_owned())
                };
                let resp = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(resp.as_bytes()).await;
            });
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let mut h = Histogram::default();
        h.observe(Duration::from_micros(300));
        h.observe(Duration::from_millis(20));
        h.observe(Duration::from_secs(10));
        assert_eq!(h.counts[0], 1); // <= 0.5 ms
        assert_eq!(h.counts[5], 2); // <= 25 ms
        assert_eq!(h.counts[11], 2); // <= 2.5 s: the 10 s one is only in +Inf
        assert_eq!(h.count, 3);
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
