//! `-o compact`: one human line per event, in the shape of `tetra getevents -o compact`
//! (`<emoji> <verb> <namespace/pod or node> <binary> <details>`).

use serde_json::Value;

fn s<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    path.iter().try_fold(v, |v, k| v.get(k)).and_then(Value::as_str).unwrap_or("")
}

fn source(ev: &Value, process: &Value) -> String {
    match process.get("pod") {
        Some(pod) => format!("{}/{}", s(pod, &["namespace"]), s(pod, &["name"])),
        None => s(ev, &["node_name"]).to_owned(),
    }
}

fn with_args(process: &Value) -> String {
    let bin = s(process, &["binary"]);
    match s(process, &["arguments"]) {
        "" => bin.to_owned(),
        a => format!("{bin} {a}"),
    }
}

/// Formats one JSON event; None for kinds compact output does not show.
pub fn format(ev: &Value) -> Option<String> {
    if let Some(e) = ev.get("process_exec") {
        let p = &e["process"];
        return Some(format!("🚀 process {} {}", source(ev, p), with_args(p)));
    }
    if let Some(e) = ev.get("process_exit") {
        let p = &e["process"];
        let tail = match e.get("signal").and_then(Value::as_str) {
            Some(sig) => sig.to_owned(),
            None => e.get("status").and_then(Value::as_u64).unwrap_or(0).to_string(),
        };
        return Some(format!("💥 exit    {} {} {}", source(ev, p), with_args(p), tail));
    }
    if let Some(e) = ev.get("process_lsm") {
        let p = &e["process"];
        let enf = &e["enforcement"];
        let args: Vec<String> = e["args"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a.as_object()?.values().next()?.get("path").and_then(Value::as_str).map(str::to_owned))
            .collect();
        let verdict = match (s(enf, &["action"]), enf["prevented"].as_bool()) {
            ("audit", _) => "audited".to_owned(),
            (a, Some(true)) => format!("{a} prevented"),
            (a, _) => format!("{a} NOT prevented"),
        };
        return Some(format!(
            "🔒 LSM     {} {} {} {} {} [{} via {}]",
            source(ev, p),
            s(p, &["binary"]),
            s(e, &["function_name"]),
            args.join(" "),
            s(e, &["policy_name"]),
            verdict,
            s(enf, &["mechanism"]),
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn exec_exit_and_lsm_lines() {
        let exec = json!({"process_exec": {"process": {"binary": "/usr/bin/curl", "arguments": "https://x",
            "pod": {"namespace": "default", "name": "xwing"}}}, "node_name": "n1"});
        assert_eq!(super::format(&exec).unwrap(), "🚀 process default/xwing /usr/bin/curl https://x");
        let exit = json!({"process_exit": {"process": {"binary": "/bin/true", "arguments": ""}, "status": 0},
            "node_name": "n1"});
        assert_eq!(super::format(&exit).unwrap(), "💥 exit    n1 /bin/true 0");
        let killed = json!({"process_exit": {"process": {"binary": "/bin/sleep", "arguments": "9"},
            "signal": "SIGKILL", "status": 0}, "node_name": "n1"});
        assert!(super::format(&killed).unwrap().ends_with("/bin/sleep 9 SIGKILL"));
        let lsm = json!({"process_lsm": {"process": {"binary": "/bin/rm"}, "function_name": "security_path_unlink",
            "policy_name": "protect-etc", "args": [{"path_arg": {"path": "/etc/shadow"}}],
            "enforcement": {"action": "deny", "prevented": true, "mechanism": "bpf-lsm"}}, "node_name": "n1"});
        assert_eq!(
            super::format(&lsm).unwrap(),
            "🔒 LSM     n1 /bin/rm security_path_unlink /etc/shadow protect-etc [deny prevented via bpf-lsm]"
        );
    }
}
