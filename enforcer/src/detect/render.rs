//! Detection records to Tetragon-shaped events: `process_kprobe` with KprobeArgument-shaped
//! `args` and a `return` value, or `process_loader`; each names the palisade `hook` it came from.

use std::net::{Ipv4Addr, Ipv6Addr};

use palisade_bpf::{
    detect_events::{flags, hook, op, Detect},
    events::Creds,
};
use serde_json::{json, Value};

use super::{names, record::DetectRecord};
use crate::{
    events::{
        model::{Body, Capabilities, Credentials, Envelope, Process, ProcessKprobe, ProcessLoader},
        render::Renderer,
    },
    process::caps,
};

/// Tetragon's action for observe-only hooks.
const POST: &str = "KPROBE_ACTION_POST";

fn hook_name(h: u32) -> String {
    match h {
        hook::SYS_EXIT => "tp_btf/sys_exit".into(),
        hook::SOCK_STATE => "tp_btf/inet_sock_set_state".into(),
        hook::MODULE_LOAD => "tp_btf/module_load".into(),
        hook::MODULE_REQUEST => "tp_btf/module_request".into(),
        h => h
            .checked_sub(hook::LSM_FIRST)
            .and_then(|i| hook::LSM_NAMES.get(i as usize))
            .map_or_else(|| "unknown".into(), |n| format!("lsm/{n}")),
    }
}

fn credentials(c: &Creds) -> Credentials {
    Credentials {
        uid: c.uid,
        gid: c.gid,
        euid: c.euid,
        egid: c.egid,
        suid: c.suid,
        sgid: c.sgid,
        fsuid: c.fsuid,
        fsgid: c.fsgid,
    }
}

fn cap_hex(v: u64) -> String {
    format!("{v:016x}")
}

fn int(v: i64, label: &str) -> Value {
    json!({"int_arg": v as i32, "label": label})
}

/// The acting process: the cached one, with credentials and cgroup as of the event (the cache
/// holds them as of exec, and these detections are about changing them).
fn acting(r: &mut Renderer, rec: &DetectRecord) -> (Process, Option<Process>) {
    let h = &rec.raw.hdr;
    let mut p = r.process_by_pid(h.pid, h.tid).unwrap_or_else(|| Process {
        pid: h.pid,
        tid: h.tid,
        binary: rec.comm.clone(),
        flags: "miss".into(),
        ..Default::default()
    });
    let c = &rec.raw.creds;
    p.uid = c.euid;
    p.process_credentials = credentials(c);
    p.cap = Capabilities {
        permitted: caps::names(c.cap_permitted),
        effective: caps::names(c.cap_effective),
        inheritable: caps::names(c.cap_inheritable),
    };
    p.cgroup_id = h.cgroup_id;
    (p, r.parent_by_pid(h.pid))
}

fn sock_arg(d: &Detect, state: u64) -> Value {
    let (family, saddr, daddr) = if d.arg[0] == 2 {
        let v4 = |a: &[u8; 16]| Ipv4Addr::new(a[0], a[1], a[2], a[3]).to_string();
        ("AF_INET", v4(&d.saddr), v4(&d.daddr))
    } else {
        (
            "AF_INET6",
            Ipv6Addr::from(d.saddr).to_string(),
            Ipv6Addr::from(d.daddr).to_string(),
        )
    };
    json!({"sock_arg": {
        "family": family, "type": "SOCK_STREAM", "protocol": "IPPROTO_TCP",
        "saddr": saddr, "daddr": daddr, "sport": d.arg[1], "dport": d.arg[2],
        "state": names::tcp_state(state),
    }})
}

/// Function name, args, return value, policy and message of one detection.
struct Call {
    function: String,
    args: Vec<Value>,
    ret: Option<Value>,
    policy: &'static str,
    message: String,
}

fn outcome(ret: i64) -> String {
    names::errno(ret).map_or_else(|| "succeeded".to_owned(), |e| format!("failed with {e}"))
}

fn call(rec: &DetectRecord) -> Option<Call> {
    let d = &rec.raw;
    let sys = |nr: u64| format!("__x64_sys_{}", names::syscall(nr));
    let ret = Some(json!({"int_arg": d.ret as i32}));
    Some(match d.op {
        op::SETID => {
            let name = names::syscall(d.arg[0]);
            let n = match name {
                "setreuid" | "setregid" => 2,
                "setresuid" | "setresgid" => 3,
                _ => 1,
            };
            // ids as Tetragon prints them (int_arg, -1 = unchanged), then the credentials before
            let mut args: Vec<Value> = d.arg[1..=n]
                .iter()
                .map(|v| json!({"int_arg": *v as i32}))
                .collect();
            args.push(json!({"process_credentials_arg": credentials(&d.old), "label": "before"}));
            Call {
                function: format!("__sys_{name}"),
                args,
                ret,
                policy: "privileges-raise",
                message: format!("Privilege change to root: {name} {}", outcome(d.ret)),
            }
        }
        // argument order of Tetragon's privileges-raise capset hook (cred, effective,
        // inheritable, permitted), so its library filter's args[1]/args[3] pick the same values
        op::CAPSET => Call {
            function: sys(126),
            args: vec![
                json!({"process_credentials_arg": {
                    "uid": d.old.uid, "gid": d.old.gid, "euid": d.old.euid, "egid": d.old.egid,
                    "suid": d.old.suid, "sgid": d.old.sgid, "fsuid": d.old.fsuid, "fsgid": d.old.fsgid,
                    "caps": {
                        "permitted": caps::names(d.old.cap_permitted),
                        "effective": caps::names(d.old.cap_effective),
                        "inheritable": caps::names(d.old.cap_inheritable),
                    },
                }, "label": "before"}),
                json!({"cap_effective_arg": cap_hex(d.arg[0])}),
                json!({"cap_inheritable_arg": cap_hex(d.arg[2])}),
                json!({"cap_permitted_arg": cap_hex(d.arg[1])}),
            ],
            ret,
            policy: "privileges-raise",
            message: format!("Capabilities raised: capset {}", outcome(d.ret)),
        },
        // named after the kernel function Tetragon's library hooks; `hook` says what fired
        op::USERNS => Call {
            function: "create_user_ns".into(),
            args: vec![
                json!({"syscall_id": {"id": d.arg[0], "abi": "x64"}, "label": names::syscall(d.arg[0])}),
                json!({"long_arg": d.arg[1] as i64, "label": "flags"}),
                json!({"string_arg": names::clone_namespaces(d.arg[1]), "label": "namespaces"}),
            ],
            ret: Some(json!({"long_arg": d.ret})),
            policy: "privileges-raise",
            message: format!(
                "User namespace creation without CAP_SYS_ADMIN {}",
                outcome(d.ret)
            ),
        },
        // Tetragon's library: `bpf_check` with args[0] = bpf_attr_arg
        op::BPF_PROG => Call {
            function: "bpf_check".into(),
            args: vec![
                json!({"bpf_attr_arg": {
                    "ProgType": names::prog_type(d.arg[0]), "InsnCnt": d.arg[1] as u32, "ProgName": rec.data,
                }}),
                json!({"bpf_cmd_arg": "BPF_PROG_LOAD"}),
            ],
            ret,
            policy: "bpf",
            message: format!("BPF program load {}", outcome(d.ret)),
        },
        op::BPF_MAP => Call {
            function: "security_bpf_map_create".into(),
            args: vec![
                json!({"bpf_map_arg": {
                    "MapType": names::map_type(d.arg[0]), "KeySize": d.arg[1] as u32,
                    "ValueSize": d.arg[2] as u32, "MaxEntries": d.arg[3] as u32, "MapName": rec.data,
                }}),
                json!({"bpf_cmd_arg": "BPF_MAP_CREATE"}),
            ],
            ret,
            policy: "bpf",
            message: format!("BPF map creation {}", outcome(d.ret)),
        },
        op::MODULE_SYSCALL => {
            let mut args = Vec::new();
            if d.arg[0] == 313 {
                args.push(json!({"file_arg": {"path": rec.data}}));
                args.push(int(d.arg[1] as i64, "flags"));
            } else {
                args.push(json!({"size_arg": d.arg[2], "label": "len"}));
            }
            Call {
                function: sys(d.arg[0]),
                args,
                ret,
                policy: "kernel-modules",
                message: format!("Kernel module load {}", outcome(d.ret)),
            }
        }
        op::MODULE_LOAD => Call {
            function: "do_init_module".into(),
            args: vec![
                json!({"module_arg": {"name": rec.data, "tainted": names::module_taints(d.arg[0])}}),
            ],
            ret: None,
            policy: "kernel-modules",
            message: format!("Kernel module {} loaded", rec.data),
        },
        // Tetragon's library: `security_kernel_module_request` with args[0].string_arg
        op::MODULE_REQUEST => Call {
            function: "security_kernel_module_request".into(),
            args: vec![json!({"string_arg": rec.data})],
            ret: None,
            policy: "kernel-modules",
            message: format!("Kernel module {} requested", rec.data),
        },
        op::TCP_CONNECT => {
            let new = d.arg[3] & 0xff;
            Call {
                function: "tcp_connect".into(),
                args: vec![sock_arg(d, new)],
                ret,
                policy: "tcp-connections",
                // the LSM hook sees the request, the tracepoint its outcome
                message: if d.hook >= hook::LSM_FIRST {
                    "TCP connect requested".to_owned()
                } else {
                    format!("TCP connect {}", outcome(d.ret))
                },
            }
        }
        op::TCP_ACCEPT => Call {
            function: "inet_csk_accept".into(),
            args: vec![sock_arg(d, d.arg[3])],
            ret,
            policy: "tcp-connections",
            message: "TCP connection accepted".into(),
        },
        op::TCP_CLOSE => Call {
            function: "tcp_close".into(),
            args: vec![sock_arg(d, d.arg[3] & 0xff)],
            ret: None,
            policy: "tcp-connections",
            message: format!(
                "TCP connection closed (from {})",
                names::tcp_state(d.arg[3] >> 8)
            ),
        },
        _ => return None,
    })
}

/// The event of one in-scope record.
pub fn event(r: &mut Renderer, rec: &DetectRecord) -> Option<Envelope> {
    let d = &rec.raw;
    let (process, parent) = acting(r, rec);
    let hook = hook_name(d.hook);
    let body = if d.op == op::LOADER {
        Body::ProcessLoader(Box::new(ProcessLoader {
            process,
            parent,
            path: rec.data.clone(),
            truncated: d.flags & flags::TRUNC != 0,
            hook,
        }))
    } else {
        let c = call(rec)?;
        Body::ProcessKprobe(Box::new(ProcessKprobe {
            process,
            parent,
            function_name: c.function,
            args: c.args,
            r#return: c.ret,
            action: POST.into(),
            policy_name: c.policy.into(),
            message: c.message,
            hook,
        }))
    };
    Some(Envelope {
        body,
        node_name: r.node().to_owned(),
        time: r.time(d.hdr.ktime),
    })
}
