//! Kernel monotonic nanoseconds to wall-clock RFC 3339, and exec ids.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;

/// Converts `bpf_ktime_get_ns()` / `task->start_time` (CLOCK_MONOTONIC) to wall time.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// realtime - monotonic, in ns, measured at construction.
    offset_ns: i128,
}

fn clock_ns(id: libc::clockid_t) -> i128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid clock id and a valid out pointer.
    unsafe { libc::clock_gettime(id, &mut ts) };
    ts.tv_sec as i128 * 1_000_000_000 + ts.tv_nsec as i128
}

impl Clock {
    /// Measures the realtime/monotonic offset now.
    pub fn new() -> Self {
        let mono = clock_ns(libc::CLOCK_MONOTONIC);
        let real = clock_ns(libc::CLOCK_REALTIME);
        Self {
            offset_ns: real - mono,
        }
    }

    /// Wall time of a monotonic timestamp.
    pub fn wall(&self, ktime_ns: u64) -> SystemTime {
        let ns = (ktime_ns as i128 + self.offset_ns).max(0) as u128;
        UNIX_EPOCH + Duration::from_nanos(ns as u64)
    }

    /// RFC 3339 (nanoseconds, `Z`) of a monotonic timestamp.
    pub fn rfc3339(&self, ktime_ns: u64) -> String {
        rfc3339(self.wall(ktime_ns))
    }

    /// Current monotonic time.
    #[cfg(test)]
    pub fn now_ktime() -> u64 {
        clock_ns(libc::CLOCK_MONOTONIC) as u64
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

/// RFC 3339 with nanoseconds, UTC.
pub fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_nanos(t).to_string()
}

/// Tetragon's exec id: base64 of `"<node>:<ktime>:<pid>"`.
pub fn exec_id(node: &str, ktime: u64, pid: u32) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{node}:{ktime}:{pid}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_id_is_tetragon_shaped() {
        let id = exec_id("node1", 123, 42);
        let raw = base64::engine::general_purpose::STANDARD
            .decode(id)
            .unwrap();
        assert_eq!(raw, b"node1:123:42");
    }

    #[test]
    fn wall_clock_is_close_to_now() {
        let c = Clock::new();
        let now = Clock::now_ktime();
        let d = c
            .wall(now)
            .duration_since(SystemTime::now())
            .unwrap_or_else(|e| e.duration());
        assert!(d < Duration::from_secs(1));
        assert!(c.rfc3339(now).ends_with('Z'));
    }
}
