//! `-o compact`: one human line per event, in the shape of `tetra getevents -o compact`
//! (`<emoji> <verb> <namespace/pod or node> <binary> <details>`).

use serde_json::Value;

fn s<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    path.iter()
        .try_fold(v, |v, k| v.get(k))
        .and_then(Value::as_str)
        .unwrap_or("")
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
            None => e
                .get("status")
                .and_then(Value::as_u64)
                .unwrap_or(0)
                .to_string(),
        };
        return Some(format!(
            "💥 exit    {} {} {}",
            source(ev, p),
            with_args(p),
            tail
        ));
    }
    if let Some(e) = ev.get("process_lsm") {
        let p = &e["process"];
        let enf = &e["enforcement"];
        let args: Vec<String> = e["args"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| {
                a.as_object()?
                    .values()
                    .next()?
                    .get("path")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
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
    if let Some(e) = ev.get("process_kprobe") {
        return Some(kprobe_line(ev, e));
    }
    if let Some(e) = ev.get("process_loader") {
        let p = &e["process"];
        return Some(format!(
            "🧬 loader  {} {} {}",
            source(ev, p),
            s(p, &["binary"]),
            s(e, &["path"])
        ));
    }
    None
}

/// The value of the first argument shaped `{kind: ...}`.
fn arg<'a>(e: &'a Value, kind: &str) -> &'a Value {
    e["args"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|a| a.get(kind))
        .unwrap_or(&Value::Null)
}

/// `tcp 127.0.0.1:40000 -> 127.0.0.1:8080`.
fn tcp(sock: &Value) -> String {
    let n = |k: &str| sock[k].as_u64().unwrap_or(0);
    format!(
        "tcp {}:{} -> {}:{}",
        s(sock, &["saddr"]),
        n("sport"),
        s(sock, &["daddr"]),
        n("dport")
    )
}

/// Lines of the detections (`process_kprobe`), by function as `tetra getevents -o compact`
/// prints them (🔑 setuid, 🔌 connect, 🧹 close, 🐝 bpf_load ...), plus the result when it failed.
fn kprobe_line(ev: &Value, e: &Value) -> String {
    let p = &e["process"];
    let func = s(e, &["function_name"]);
    // `__x64_sys_capset` and `__sys_setuid` both name the syscall `sys_...`
    let syscall = func
        .strip_prefix("__x64_")
        .or_else(|| func.strip_prefix("__"))
        .unwrap_or(func);
    let ints = || -> String {
        let v: Vec<String> = e["args"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a.get("int_arg")?.as_i64().map(|i| i.to_string()))
            .collect();
        v.join(" ")
    };
    let (emoji, verb, detail) = match syscall {
        "sys_setuid" | "sys_setgid" | "sys_setreuid" | "sys_setregid" | "sys_setresuid"
        | "sys_setresgid" | "sys_setfsuid" | "sys_setfsgid" => ("🔑", &syscall[4..], ints()),
        "sys_capset" => (
            "🔑",
            "capset",
            format!(
                "effective={} permitted={}",
                arg(e, "cap_effective_arg").as_str().unwrap_or(""),
                arg(e, "cap_permitted_arg").as_str().unwrap_or("")
            ),
        ),
        "create_user_ns" => (
            "🔧",
            "userns",
            arg(e, "string_arg").as_str().unwrap_or("").to_owned(),
        ),
        "bpf_check" => {
            let a = arg(e, "bpf_attr_arg");
            (
                "🐝",
                "bpf_load",
                format!(
                    "{} {} instruction count {}",
                    s(a, &["ProgType"]),
                    s(a, &["ProgName"]),
                    a["InsnCnt"]
                ),
            )
        }
        "security_bpf_map_create" => {
            let m = arg(e, "bpf_map_arg");
            (
                "🗺",
                "bpf_map_create",
                format!(
                    "{} {} key size {} value size {} max entries {}",
                    s(m, &["MapType"]),
                    s(m, &["MapName"]),
                    m["KeySize"],
                    m["ValueSize"],
                    m["MaxEntries"]
                ),
            )
        }
        "sys_init_module" | "sys_finit_module" => (
            "🧩",
            &syscall[4..],
            s(arg(e, "file_arg"), &["path"]).to_owned(),
        ),
        "do_init_module" => (
            "🧩",
            "module_load",
            s(arg(e, "module_arg"), &["name"]).to_owned(),
        ),
        "security_kernel_module_request" => (
            "🧩",
            "module_request",
            arg(e, "string_arg").as_str().unwrap_or("").to_owned(),
        ),
        "tcp_connect" => ("🔌", "connect", tcp(arg(e, "sock_arg"))),
        "tcp_close" => ("🧹", "close", tcp(arg(e, "sock_arg"))),
        "inet_csk_accept" => ("🤝", "accept", tcp(arg(e, "sock_arg"))),
        _ => ("❓", "syscall", func.to_owned()),
    };
    let failed = match e["return"]
        .as_object()
        .and_then(|r| r.values().next())
        .and_then(Value::as_i64)
    {
        Some(r) if (-4095..0).contains(&r) => format!(
            " (failed: {})",
            nix::errno::Errno::from_raw(-r as i32).desc()
        ),
        _ => String::new(),
    };
    format!(
        "{emoji} {verb:<7} {} {} {detail}{failed}",
        source(ev, p),
        s(p, &["binary"])
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn exec_exit_and_lsm_lines() {
        let exec = json!({"process_exec": {"process": {"binary": "/usr/bin/curl", "arguments": "https://x",
            "pod": {"namespace": "default", "name": "xwing"}}}, "node_name": "n1"});
        assert_eq!(
            super::format(&exec).unwrap(),
            "🚀 process default/xwing /usr/bin/curl https://x"
        );
        let exit = json!({"process_exit": {"process": {"binary": "/bin/true", "arguments": ""}, "status": 0},
            "node_name": "n1"});
        assert_eq!(super::format(&exit).unwrap(), "💥 exit    n1 /bin/true 0");
        let killed = json!({"process_exit": {"process": {"binary": "/bin/sleep", "arguments": "9"},
            "signal": "SIGKILL", "status": 0}, "node_name": "n1"});
        assert!(super::format(&killed)
            .unwrap()
            .ends_with("/bin/sleep 9 SIGKILL"));
        let lsm = json!({"process_lsm": {"process": {"binary": "/bin/rm"}, "function_name": "security_path_unlink",
            "policy_name": "protect-etc", "args": [{"path_arg": {"path": "/etc/shadow"}}],
            "enforcement": {"action": "deny", "prevented": true, "mechanism": "bpf-lsm"}}, "node_name": "n1"});
        assert_eq!(
            super::format(&lsm).unwrap(),
            "🔒 LSM     n1 /bin/rm security_path_unlink /etc/shadow protect-etc [deny prevented via bpf-lsm]"
        );
    }

    #[test]
    fn detection_lines() {
        let setuid = json!({"process_kprobe": {"process": {"binary": "/tmp/su"}, "function_name": "__sys_setuid",
            "args": [{"int_arg": 0, "label": "id"}], "return": {"int_arg": -1}}, "node_name": "n1"});
        assert_eq!(
            super::format(&setuid).unwrap(),
            "🔑 setuid  n1 /tmp/su 0 (failed: Operation not permitted)"
        );
        let conn = json!({"process_kprobe": {"process": {"binary": "/usr/bin/curl"}, "function_name": "tcp_connect",
            "args": [{"sock_arg": {"saddr": "127.0.0.1", "sport": 40000, "daddr": "127.0.0.1", "dport": 80}}],
            "return": {"int_arg": 0}}, "node_name": "n1"});
        assert_eq!(
            super::format(&conn).unwrap(),
            "🔌 connect n1 /usr/bin/curl tcp 127.0.0.1:40000 -> 127.0.0.1:80"
        );
        let bpf = json!({"process_kprobe": {"process": {"binary": "/x"}, "function_name": "bpf_check",
            "args": [{"bpf_attr_arg": {"ProgType": "BPF_PROG_TYPE_SOCKET_FILTER",
            "ProgName": "demo", "InsnCnt": 2}}, {"bpf_cmd_arg": "BPF_PROG_LOAD"}]}, "node_name": "n1"});
        assert_eq!(
            super::format(&bpf).unwrap(),
            "🐝 bpf_load n1 /x BPF_PROG_TYPE_SOCKET_FILTER demo instruction count 2"
        );
        let loader = json!({"process_loader": {"process": {"binary": "/bin/ls"}, "path": "/lib/libc.so.6"},
            "node_name": "n1"});
        assert_eq!(
            super::format(&loader).unwrap(),
            "🧬 loader  n1 /bin/ls /lib/libc.so.6"
        );
    }
}
