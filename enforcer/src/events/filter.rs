//! Event filters of `palisade events` (the `tetra getevents` flags), applied to JSON events.

use serde_json::Value;

/// Filters; every one that is set must match.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Pod namespaces (any of).
    pub namespaces: Vec<String>,
    /// Pod names (any of).
    pub pods: Vec<String>,
    /// Container names (any of).
    pub containers: Vec<String>,
    /// Event types, Tetragon spelling (`PROCESS_EXEC`) or JSON key (`process_exec`).
    pub event_types: Vec<String>,
}

const KINDS: [&str; 5] = [
    "process_exec",
    "process_exit",
    "process_lsm",
    "process_kprobe",
    "process_loader",
];

impl Filter {
    /// True when the event passes.
    pub fn matches(&self, ev: &Value) -> bool {
        let Some(kind) = KINDS.iter().find(|k| ev.get(**k).is_some()) else {
            return false;
        };
        if !self.event_types.is_empty()
            && !self
                .event_types
                .iter()
                .any(|t| t.eq_ignore_ascii_case(kind))
        {
            return false;
        }
        let pod = ev[kind]["process"].get("pod");
        let field = |path: &[&str]| {
            pod.and_then(|p| path.iter().try_fold(p, |v, k| v.get(k)))
                .and_then(Value::as_str)
        };
        let any = |want: &[String], got: Option<&str>| {
            want.is_empty() || got.is_some_and(|g| want.iter().any(|w| w == g))
        };
        any(&self.namespaces, field(&["namespace"]))
            && any(&self.pods, field(&["name"]))
            && any(&self.containers, field(&["container", "name"]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn filters_by_kind_and_pod() {
        let ev = json!({"process_exec": {"process": {"pod": {"namespace": "ns1", "name": "p1",
            "container": {"name": "c1"}}}}});
        let host = json!({"process_exit": {"process": {}}});
        assert!(Filter::default().matches(&ev));
        let f = Filter {
            namespaces: vec!["ns1".into()],
            ..Default::default()
        };
        assert!(f.matches(&ev) && !f.matches(&host));
        let f = Filter {
            containers: vec!["c2".into()],
            ..Default::default()
        };
        assert!(!f.matches(&ev));
        let f = Filter {
            event_types: vec!["PROCESS_EXIT".into()],
            ..Default::default()
        };
        assert!(!f.matches(&ev) && f.matches(&host));
    }
}
