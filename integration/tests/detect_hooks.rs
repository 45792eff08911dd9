//! Issue 6, hook-based detections end to end on this host: the real agent with its tracepoints,
//! real demos (integration/demos), the exported JSON checked field by field and through the jq
//! filters of Tetragon's policy library. Needs root; fails, never skips, without it.

mod detect_support;

use std::{
    fs,
    io::{BufRead, BufReader},
    os::unix::fs::{chown, PermissionsExt},
    process::{Command, Stdio},
    time::Duration,
};

use detect_support::*;
use palisade_integration::agent::{require_root, Agent};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(15);

fn host_agent(extra: &[&str]) -> Agent {
    require_root();
    let mut flags = vec!["--detect-host"];
    flags.extend_from_slice(extra);
    Agent::start(&flags).unwrap()
}

/// Every detection names the tracepoint that produced it and is observe-only.
fn assert_common(k: &Value, hook: &str, policy: &str) {
    assert_eq!(k["hook"], hook, "{k}");
    assert_eq!(k["policy_name"], policy, "{k}");
    assert_eq!(k["action"], "KPROBE_ACTION_POST", "{k}");
}

#[test]
fn setuid_to_root_reports_the_request_and_the_result() {
    let agent = host_agent(&[]);
    let dir = scratch();
    let built = build(dir.path(), "setuid_root");
    // a setuid-root copy (the privilege raise) and a plain one (the refused attempt)
    let suid = dir.path().join("suid_root");
    fs::copy(&built, &suid).unwrap();
    chown(&suid, Some(0), Some(0)).unwrap();
    fs::set_permissions(&suid, fs::Permissions::from_mode(0o4755)).unwrap();
    fs::set_permissions(&built, fs::Permissions::from_mode(0o755)).unwrap();
    assert!(
        run(&mut as_nobody(&suid)).status.success(),
        "setuid-root demo did not become root"
    );
    assert!(
        !run(&mut as_nobody(&built)).status.success(),
        "plain demo became root"
    );

    let (suid_s, plain_s) = (suid.to_str().unwrap(), built.to_str().unwrap());
    let evs = agent
        .wait_events(WAIT, |e| {
            !kprobes(e, "__sys_setuid", |k| k["process"]["binary"] == suid_s).is_empty()
                && !kprobes(e, "__sys_setuid", |k| k["process"]["binary"] == plain_s).is_empty()
        })
        .unwrap();
    let ok = kprobes(&evs, "__sys_setuid", |k| k["process"]["binary"] == suid_s);
    let k = ok
        .first()
        .expect("no __sys_setuid event for the setuid-root demo");
    assert_common(k, "tp_btf/sys_exit", "privileges-raise");
    assert_eq!(k["args"][0]["int_arg"], 0, "{k}");
    assert_eq!(k["return"]["int_arg"], 0, "{k}");
    // credentials after the call, and before it
    assert_eq!(k["process"]["process_credentials"]["uid"], 0, "{k}");
    assert_eq!(k["args"][1]["process_credentials_arg"]["uid"], 65534, "{k}");
    assert_eq!(k["args"][1]["process_credentials_arg"]["euid"], 0, "{k}");

    let refused = kprobes(&evs, "__sys_setuid", |k| k["process"]["binary"] == plain_s);
    let k = refused
        .first()
        .expect("no __sys_setuid event for the refused attempt");
    assert_eq!(k["return"]["int_arg"], -1, "EPERM expected: {k}");
    assert_eq!(k["process"]["process_credentials"]["euid"], 65534, "{k}");

    let lines = jq(
        r#"select(.process_kprobe != null) | select(.process_kprobe.policy_name | test("privileges-raise")) | select(.process_kprobe.function_name | test("__sys_")) | "\(.time) \(.process_kprobe.process.pod.namespace) \(.process_kprobe.process.pod.name) \(.process_kprobe.process.binary) \(.process_kprobe.process.arguments) \(.process_kprobe.function_name) \(.process_kprobe.args)""#,
        &agent.events,
    );
    line_with(&lines, &[suid_s, r#"__sys_setuid [{\"int_arg\":0}"#]);
}

#[test]
fn capset_raising_the_effective_set() {
    let agent = host_agent(&[]);
    let dir = scratch();
    let demo = build(dir.path(), "capset_raise");
    let out = run(&mut Command::new(&demo));
    assert!(
        out.status.success(),
        "capset demo: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = demo.to_str().unwrap();
    let evs = agent
        .wait_events(WAIT, |e| {
            !kprobes(e, "__x64_sys_capset", |k| k["process"]["binary"] == path).is_empty()
        })
        .unwrap();
    let raised = kprobes(&evs, "__x64_sys_capset", |k| k["process"]["binary"] == path);
    // the drop is not a raise: exactly one event
    assert_eq!(raised.len(), 1, "{raised:?}");
    let k = raised[0];
    assert_common(k, "tp_btf/sys_exit", "privileges-raise");
    assert_eq!(k["return"]["int_arg"], 0);
    let before = &k["args"][0]["process_credentials_arg"]["caps"];
    assert_eq!(
        before["effective"],
        serde_json::json!([]),
        "effective set was dropped before: {k}"
    );
    assert!(
        before["permitted"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "CAP_SYS_ADMIN"),
        "{k}"
    );
    let eff = k["args"][1]["cap_effective_arg"].as_str().unwrap();
    assert_eq!(
        eff,
        k["args"][3]["cap_permitted_arg"].as_str().unwrap(),
        "raised to the permitted set: {k}"
    );
    assert!(k["process"]["cap"]["effective"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c == "CAP_SYS_ADMIN"));

    let lines = jq(
        r#"select(.process_kprobe != null) | select(.process_kprobe.policy_name | test("privileges-raise")) | select(.process_kprobe.function_name | test("capset")) | "\(.time) \(.process_kprobe.process.pod.namespace) \(.process_kprobe.process.pod.name) \(.process_kprobe.process.binary) \(.process_kprobe.process.arguments) \(.process_kprobe.function_name) \(.process_kprobe.args[3]) \(.process_kprobe.args[1])""#,
        &agent.events,
    );
    line_with(
        &lines,
        &[
            path,
            &format!(r#"{{\"cap_permitted_arg\":\"{eff}\"}} {{\"cap_effective_arg\":\"{eff}\"}}"#),
        ],
    );
}

#[test]
fn unprivileged_user_namespaces_by_unshare_and_clone() {
    let agent = host_agent(&[]);
    let dir = scratch();
    let clone = build(dir.path(), "userns_clone");
    assert!(
        run(as_nobody("/usr/bin/unshare".as_ref()).args(["-U", "true"]))
            .status
            .success()
    );
    assert!(run(&mut as_nobody(&clone)).status.success());
    // root with CAP_SYS_ADMIN is not reported
    let marker = format!("palisade-root-userns-{}", std::process::id());
    assert!(
        run(Command::new("unshare").args(["-U", "/bin/echo", &marker]))
            .status
            .success()
    );

    let clone_s = clone.to_str().unwrap();
    let evs = agent
        .wait_events(WAIT, |e| {
            !kprobes(e, "create_user_ns", |k| {
                k["process"]["binary"] == "/usr/bin/unshare"
            })
            .is_empty()
                && kprobes(e, "create_user_ns", |k| k["process"]["binary"] == clone_s).len() >= 2
        })
        .unwrap();
    let by_unshare = kprobes(&evs, "create_user_ns", |k| {
        k["process"]["binary"] == "/usr/bin/unshare"
    });
    let k = by_unshare
        .first()
        .expect("no create_user_ns for unshare -U as nobody");
    assert_common(k, "tp_btf/sys_exit", "privileges-raise");
    assert_eq!(k["args"][0]["syscall_id"]["id"], 272, "unshare(2): {k}");
    assert_eq!(k["args"][2]["string_arg"], "CLONE_NEWUSER", "{k}");
    assert_eq!(k["return"]["long_arg"], 0, "{k}");
    assert_eq!(k["process"]["process_credentials"]["uid"], 65534);
    assert!(
        by_unshare.iter().all(|k| !k["process"]["arguments"]
            .as_str()
            .unwrap_or("")
            .contains(&marker)),
        "root's unshare was reported"
    );
    // the demo uses clone(2) (56) then clone3(2) (435)
    let by_clone = kprobes(&evs, "create_user_ns", |k| {
        k["process"]["binary"] == clone_s
    });
    for nr in [56, 435] {
        let k = by_clone
            .iter()
            .find(|k| k["args"][0]["syscall_id"]["id"] == nr)
            .unwrap_or_else(|| panic!("no create_user_ns for syscall {nr}: {by_clone:?}"));
        assert!(
            k["return"]["long_arg"].as_i64().unwrap() > 0,
            "clone returns the child pid: {k}"
        );
    }

    let lines = jq(
        r#"select(.process_kprobe != null) | select(.process_kprobe.policy_name | test("privileges-raise")) | select(.process_kprobe.function_name | test("create_user_ns")) | "\(.time) \(.process_kprobe.process.pod.namespace) \(.process_kprobe.process.pod.name) \(.process_kprobe.process.binary) \(.process_kprobe.process.arguments) \(.process_kprobe.function_name) \(.process_kprobe.process.process_credentials)""#,
        &agent.events,
    );
    line_with(
        &lines,
        &[
            "/usr/bin/unshare -U true create_user_ns",
            r#"\"uid\":65534"#,
        ],
    );
}

#[test]
fn bpf_program_loads_and_map_creation() {
    let agent = host_agent(&[]);
    let dir = scratch();
    let demo = build(dir.path(), "bpf_load");
    let out = run(&mut Command::new(&demo));
    assert!(
        out.status.success(),
        "bpf demo: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let path = demo.to_str().unwrap();
    let evs = agent
        .wait_events(WAIT, |e| {
            kprobes(e, "bpf_check", |k| k["process"]["binary"] == path).len() >= 2
        })
        .unwrap();
    let loads = kprobes(&evs, "bpf_check", |k| k["process"]["binary"] == path);
    let good = loads
        .iter()
        .find(|k| k["args"][0]["bpf_attr_arg"]["ProgName"] == "pal_demo")
        .expect("no bpf_check event for pal_demo");
    assert_common(good, "tp_btf/sys_exit", "bpf");
    assert_eq!(
        good["args"][0]["bpf_attr_arg"]["ProgType"],
        "BPF_PROG_TYPE_SOCKET_FILTER"
    );
    assert_eq!(good["args"][0]["bpf_attr_arg"]["InsnCnt"], 2);
    assert!(
        good["return"]["int_arg"].as_i64().unwrap() >= 0,
        "a loaded program returns its fd: {good}"
    );
    let bad = loads
        .iter()
        .find(|k| k["args"][0]["bpf_attr_arg"]["ProgName"] == "pal_demo_bad")
        .expect("no event for the rejected program");
    assert_eq!(
        bad["return"]["int_arg"], -13,
        "the verifier refuses with EACCES: {bad}"
    );

    let maps = kprobes(&evs, "security_bpf_map_create", |k| {
        k["process"]["binary"] == path
    });
    let m = &maps.first().expect("no map creation event")["args"][0]["bpf_map_arg"];
    assert_eq!(
        (
            &m["MapType"],
            &m["KeySize"],
            &m["ValueSize"],
            &m["MaxEntries"],
            &m["MapName"]
        ),
        (
            &"BPF_MAP_TYPE_ARRAY".into(),
            &4.into(),
            &8.into(),
            &4.into(),
            &"pal_demo_map".into()
        )
    );

    let lines = jq(
        r#"select(.process_kprobe != null) | select(.process_kprobe.function_name | test("bpf_check")) | "\(.time) \(.process_kprobe.process.binary) \(.process_kprobe.process.arguments) programType:\(.process_kprobe.args[0].bpf_attr_arg.ProgType) programInsn:\(.process_kprobe.args[0].bpf_attr_arg.InsnCnt)""#,
        &agent.events,
    );
    line_with(
        &lines,
        &[
            path,
            "programType:BPF_PROG_TYPE_SOCKET_FILTER programInsn:2",
        ],
    );
}

#[test]
fn kernel_module_load_syscall_and_its_result() {
    let agent = host_agent(&[]);
    let dir = scratch();
    let demo = build(dir.path(), "finit_module");
    let image = dir.path().join("not-a-module.ko");
    fs::write(&image, b"not an ELF module").unwrap();
    let _ = run(Command::new(&demo).arg(&image));
    let path = demo.to_str().unwrap();
    let evs = agent
        .wait_events(WAIT, |e| {
            !kprobes(e, "__x64_sys_finit_module", |k| {
                k["process"]["binary"] == path
            })
            .is_empty()
        })
        .unwrap();
    let k = kprobes(&evs, "__x64_sys_finit_module", |k| {
        k["process"]["binary"] == path
    })[0];
    assert_common(k, "tp_btf/sys_exit", "kernel-modules");
    assert_eq!(
        k["args"][0]["file_arg"]["path"],
        image.to_str().unwrap(),
        "{k}"
    );
    // without CONFIG_MODULES (these hosts) the kernel says ENOSYS; with it, the bogus image fails
    let want = if fs::metadata("/proc/modules").is_ok() {
        None
    } else {
        Some(-38)
    };
    let ret = k["return"]["int_arg"].as_i64().unwrap();
    assert!(
        ret < 0 && want.is_none_or(|w| w == ret),
        "result {ret}, expected {want:?}: {k}"
    );
}

#[test]
fn shared_library_loading_once_per_process_and_file() {
    let agent = host_agent(&["--detect-loader"]);
    let dir = scratch();
    let demo = build(dir.path(), "dlopen_demo");
    let lib = build_lib(dir.path(), "paldemo_lib");
    let child = Command::new(&demo)
        .arg(&lib)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    assert!(child.wait_with_output().unwrap().status.success());
    let lib_s = lib.to_str().unwrap();
    let loaders = |e: &[Value]| -> Vec<Value> {
        e.iter()
            .filter_map(|e| e.get("process_loader"))
            .filter(|l| l["process"]["pid"] == pid)
            .cloned()
            .collect()
    };
    let evs = agent
        .wait_events(WAIT, |e| loaders(e).iter().any(|l| l["path"] == lib_s))
        .unwrap();
    // give a duplicate (the second dlopen) time to show up before counting
    std::thread::sleep(Duration::from_millis(500));
    let evs = agent
        .events()
        .map(|v| if v.len() >= evs.len() { v } else { evs })
        .unwrap();
    let mine = loaders(&evs);
    let of_lib: Vec<_> = mine.iter().filter(|l| l["path"] == lib_s).collect();
    assert_eq!(of_lib.len(), 1, "dlopen twice, one event: {of_lib:?}");
    let l = of_lib[0];
    assert_eq!(l["process"]["binary"], demo.to_str().unwrap());
    assert_eq!(l["hook"], "tp_btf/sys_exit");
    assert!(
        mine.iter()
            .any(|l| l["path"].as_str().unwrap().ends_with("/libc.so.6")),
        "libc: {mine:?}"
    );

    let lines = jq(
        r#"select(.process_loader != null) | "\(.time) \(.process_loader.process.pod.namespace) \(.process_loader.process.binary) \(.process_loader.process.arguments) \(.process_loader.path)""#,
        &agent.events,
    );
    line_with(&lines, &[&format!("{} {lib_s} {lib_s}", demo.display())]);
}

#[test]
fn tcp_connect_accept_and_close_with_the_acting_processes() {
    let agent = host_agent(&[]);
    let demos = demos();
    let mut server = Command::new("python3")
        .arg(demos.join("tcp_server.py"))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut port = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut port)
        .unwrap();
    let port: u64 = port.trim().parse().unwrap();
    let client = Command::new("python3")
        .arg(demos.join("tcp_client.py"))
        .arg(port.to_string())
        .spawn()
        .unwrap();
    let client_pid = client.id();
    assert!(client.wait_with_output().unwrap().status.success());
    let server_pid = server.id();
    assert!(server.wait().unwrap().success());
    // a refused connect: a port nobody listens on
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let refused = Command::new("python3")
        .arg(demos.join("tcp_client.py"))
        .arg(closed.to_string())
        .spawn()
        .unwrap();
    let refused_pid = refused.id();
    assert_eq!(refused.wait_with_output().unwrap().status.code(), Some(3));

    let by = |pid: u32| move |k: &Value| k["process"]["pid"] == pid;
    let evs = agent
        .wait_events(WAIT, |e| {
            !kprobes(e, "tcp_connect", by(client_pid)).is_empty()
                && !kprobes(e, "inet_csk_accept", by(server_pid)).is_empty()
                && !kprobes(e, "tcp_close", by(client_pid)).is_empty()
                && !kprobes(e, "tcp_close", by(server_pid)).is_empty()
                && !kprobes(e, "tcp_connect", by(refused_pid)).is_empty()
        })
        .unwrap();
    let c = kprobes(&evs, "tcp_connect", by(client_pid));
    let c = c.first().expect("no tcp_connect by the client");
    assert_common(c, "tp_btf/inet_sock_set_state", "tcp-connections");
    let s = &c["args"][0]["sock_arg"];
    assert_eq!(
        (&s["family"], &s["type"], &s["protocol"]),
        (
            &"AF_INET".into(),
            &"SOCK_STREAM".into(),
            &"IPPROTO_TCP".into()
        )
    );
    assert_eq!(
        (&s["saddr"], &s["daddr"], &s["dport"]),
        (&"127.0.0.1".into(), &"127.0.0.1".into(), &port.into())
    );
    let sport = s["sport"].as_u64().unwrap();
    assert!(sport > 0, "source port bound: {c}");
    assert_eq!(c["return"]["int_arg"], 0, "{c}");

    let a = kprobes(&evs, "inet_csk_accept", by(server_pid));
    let a = a.first().expect("no accept by the server");
    assert_common(a, "tp_btf/sys_exit", "tcp-connections");
    assert_eq!(
        (
            &a["args"][0]["sock_arg"]["sport"],
            &a["args"][0]["sock_arg"]["dport"]
        ),
        (&port.into(), &sport.into())
    );

    let cc = kprobes(&evs, "tcp_close", by(client_pid));
    assert_eq!(cc[0]["args"][0]["sock_arg"]["sport"], sport, "{:?}", cc[0]);
    let sc = kprobes(&evs, "tcp_close", by(server_pid));
    assert_eq!(sc[0]["args"][0]["sock_arg"]["sport"], port, "{:?}", sc[0]);

    let r = kprobes(&evs, "tcp_connect", by(refused_pid));
    assert_eq!(r[0]["return"]["int_arg"], -111, "ECONNREFUSED: {:?}", r[0]);
    assert_eq!(r[0]["args"][0]["sock_arg"]["dport"], closed);

    let egress = jq(
        r#"select(.process_kprobe != null) | select(.process_kprobe.function_name | test("tcp_connect")) | "\(.time) \(.process_kprobe.process.binary) \(.process_kprobe.process.arguments) \(.process_kprobe.args[0].sock_arg.saddr):\(.process_kprobe.args[0].sock_arg.sport) -> \(.process_kprobe.args[0].sock_arg.daddr):\(.process_kprobe.args[0].sock_arg.dport)""#,
        &agent.events,
    );
    line_with(
        &egress,
        &[&format!(
            "tcp_client.py {port} 127.0.0.1:{sport} -> 127.0.0.1:{port}"
        )],
    );
    let sshd = jq(
        r#"select(.process_kprobe != null) | select(.process_kprobe.function_name | test("tcp_close")) |  "\(.time) \(.process_kprobe.process.binary) \(.process_kprobe.process.arguments) \(.process_kprobe.args[0].sock_arg.family) \(.process_kprobe.args[0].sock_arg.type)  \(.process_kprobe.args[0].sock_arg.protocol) \(.process_kprobe.args[0].sock_arg.saddr):\(.process_kprobe.args[0].sock_arg.sport)""#,
        &agent.events,
    );
    line_with(
        &sshd,
        &[&format!(
            "tcp_server.py AF_INET SOCK_STREAM  IPPROTO_TCP 127.0.0.1:{port}"
        )],
    );
}

#[test]
fn container_scope_by_default_host_on_request() {
    require_root();
    // no --detect-host, no --detect-loader
    let agent = Agent::start(&[]).unwrap();
    let dir = scratch();
    let built = build(dir.path(), "setuid_root");
    let suid = dir.path().join("scoped_suid");
    fs::copy(&built, &suid).unwrap();
    chown(&suid, Some(0), Some(0)).unwrap();
    fs::set_permissions(&suid, fs::Permissions::from_mode(0o4755)).unwrap();

    // a host process
    let host = as_nobody(&suid).stdout(Stdio::null()).spawn().unwrap();
    let host_pid = host.id();
    assert!(host.wait_with_output().unwrap().status.success());

    // a container process: a cgroup whose name is a 64-hex container id, as runtimes make them
    let parent = palisade_integration::cgroup::cgroup2_root()
        .unwrap()
        .join("palisade-test")
        .join(format!("detect-scope-{}", std::process::id()));
    let cg = parent.join(format!("{:064x}", std::process::id()));
    fs::create_dir_all(&cg).unwrap();
    let cg_id = std::os::unix::fs::MetadataExt::ino(&fs::metadata(&cg).unwrap());
    let mut cmd = as_nobody(&suid);
    let procs = cg.join("cgroup.procs");
    // SAFETY: the closure only writes a file before exec.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || fs::write(&procs, b"0"));
    }
    let inside = cmd.stdout(Stdio::null()).spawn().unwrap();
    let inside_pid = inside.id();
    assert!(inside.wait_with_output().unwrap().status.success());

    let evs = agent
        .wait_events(WAIT, |e| {
            !kprobes(e, "__sys_setuid", |k| k["process"]["pid"] == inside_pid).is_empty()
        })
        .unwrap();
    for d in [&cg, &parent] {
        for _ in 0..50 {
            if fs::remove_dir(d).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let k = kprobes(&evs, "__sys_setuid", |k| k["process"]["pid"] == inside_pid);
    let k = k.first().expect("no detection for the container process");
    assert_eq!(k["process"]["cgroup_id"], cg_id, "{k}");
    assert!(
        kprobes(&evs, "__sys_setuid", |k| k["process"]["pid"] == host_pid).is_empty(),
        "a host process was reported without --detect-host"
    );
    assert!(
        !evs.iter().any(|e| e.get("process_loader").is_some()),
        "loader events without --detect-loader"
    );
}

#[test]
fn tcp_over_ipv6() {
    let agent = host_agent(&[]);
    let demos = demos();
    let mut server = Command::new("python3")
        .arg(demos.join("tcp_server.py"))
        .arg("::1")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut port = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut port)
        .unwrap();
    let port: u64 = port.trim().parse().unwrap();
    let client = Command::new("python3")
        .arg(demos.join("tcp_client.py"))
        .arg(port.to_string())
        .arg("::1")
        .spawn()
        .unwrap();
    let client_pid = client.id();
    assert!(client.wait_with_output().unwrap().status.success());
    assert!(server.wait().unwrap().success());
    let by = |k: &Value| k["process"]["pid"] == client_pid;
    let evs = agent
        .wait_events(WAIT, |e| !kprobes(e, "tcp_connect", by).is_empty())
        .unwrap();
    let c = kprobes(&evs, "tcp_connect", by)[0];
    let s = &c["args"][0]["sock_arg"];
    assert_eq!(
        (&s["family"], &s["saddr"], &s["daddr"], &s["dport"]),
        (
            &"AF_INET6".into(),
            &"::1".into(),
            &"::1".into(),
            &port.into()
        ),
        "{c}"
    );
}
