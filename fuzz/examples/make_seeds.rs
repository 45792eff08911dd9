//! Writes the NRI seed corpora: the conversations containerd 1.7 has with palisade's plugin
//! (registration, Configure, Synchronize, container events, Shutdown), encoded with the plugin's
//! own message types and framing, as the runtime would put them on the trunk.
//!
//! Run from fuzz/: `cargo run --example make_seeds` (rewrites corpus/nri_stream and
//! corpus/nri_message).

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use palisade_fuzz::PLUGIN_METHODS;
use palisade_nri::api::{self, Event, PLUGIN_SERVICE};
use palisade_nri::mux::{encode_frames, PLUGIN_SERVICE_CONN, RUNTIME_SERVICE_CONN};
use palisade_nri::ttrpc::{self, KeyValue, Message, MessageType, Response, Status};
use prost::Message as _;

fn map(kv: &[(&str, &str)]) -> HashMap<String, String> {
    kv.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn pod(n: usize) -> api::PodSandbox {
    api::PodSandbox {
        id: format!("pod{n:04}"),
        name: format!("web-{n}"),
        uid: format!("8d2c0f3e-0000-4000-8000-{n:012}"),
        namespace: "prod".into(),
        labels: map(&[("app", "web"), ("io.kubernetes.pod.namespace", "prod")]),
        annotations: map(&[
            ("palisade.dev/policies", "protect-etc, no-exec-from-tmp"),
            ("palisade.dev/mode", "audit"),
        ]),
        runtime_handler: "runc".into(),
        linux: Some(api::LinuxPodSandbox {
            cgroup_parent: "/kubepods/besteffort".into(),
            cgroups_path: format!("/kubepods/besteffort/pod{n}"),
        }),
        pid: 1000 + n as u32,
    }
}

fn container(n: usize, annotations: &[(&str, &str)]) -> api::Container {
    let mut a = map(&[
        ("io.kubernetes.cri.container-type", "container"),
        ("io.kubernetes.cri.sandbox-name", "web-0"),
        ("io.kubernetes.cri.sandbox-namespace", "prod"),
        ("io.kubernetes.cri.sandbox-uid", "8d2c0f3e"),
        ("io.kubernetes.cri.image-name", "docker.io/library/nginx:1.27"),
    ]);
    a.extend(map(annotations));
    api::Container {
        id: format!("ctr{n:04}"),
        pod_sandbox_id: format!("pod{n:04}"),
        name: "app".into(),
        state: api::ContainerState::Created as i32,
        labels: map(&[("io.kubernetes.container.name", "app")]),
        annotations: a,
        args: vec!["/bin/sh".into(), "-c".into(), "sleep 1000".into()],
        linux: Some(api::LinuxContainer {
            cgroups_path: format!("kubepods-besteffort-pod{n}.slice:cri-containerd:ctr{n:04}"),
        }),
        pid: 4000 + n as u32,
    }
}

/// The payload containerd sends for each Plugin-service method.
fn payloads() -> Vec<(&'static str, Vec<u8>)> {
    let pods: Vec<_> = (0..8).map(pod).collect();
    let containers: Vec<_> = (0..8)
        .map(|n| container(n, &[("palisade.dev/policies", "protect-etc")]))
        .collect();
    vec![
        (
            "Configure",
            api::ConfigureRequest {
                config: String::new(),
                runtime_name: "containerd".into(),
                runtime_version: "v1.7.24".into(),
                registration_timeout: 0,
                request_timeout: 2000,
            }
            .encode_to_vec(),
        ),
        (
            "Synchronize",
            api::SynchronizeRequest {
                pods,
                containers,
                more: false,
            }
            .encode_to_vec(),
        ),
        (
            "StateChange",
            api::StateChangeEvent {
                event: Event::StartContainer as i32,
                pod: Some(pod(7)),
                container: Some(container(
                    7,
                    &[("palisade.dev/policies", "readonly-root"), ("palisade.dev/mode", "enforce")],
                )),
            }
            .encode_to_vec(),
        ),
        (
            "StateChange",
            api::StateChangeEvent {
                event: Event::RunPodSandbox as i32,
                pod: Some(pod(8)),
                container: None,
            }
            .encode_to_vec(),
        ),
        (
            "StopContainer",
            api::StopContainerRequest {
                pod: Some(pod(7)),
                container: Some(container(7, &[])),
            }
            .encode_to_vec(),
        ),
        (
            "StateChange",
            api::StateChangeEvent {
                event: Event::RemoveContainer as i32,
                pod: None,
                container: Some(container(7, &[])),
            }
            .encode_to_vec(),
        ),
        (
            "CreateContainer",
            api::CreateContainerRequest {
                pod: Some(pod(9)),
                container: Some(container(9, &[])),
            }
            .encode_to_vec(),
        ),
        ("Shutdown", api::Empty {}.encode_to_vec()),
    ]
}

fn request(stream_id: u32, method: &str, payload: Vec<u8>) -> Vec<u8> {
    let body = ttrpc::Request {
        service: PLUGIN_SERVICE.into(),
        method: method.into(),
        payload,
        timeout_nano: 2_000_000_000,
        metadata: vec![KeyValue {
            key: "containerd-namespace".into(),
            value: "k8s.io".into(),
        }],
    }
    .encode_to_vec();
    Message {
        stream_id,
        kind: MessageType::Request,
        body,
    }
    .encode()
    .expect("seed messages are small")
}

fn response(stream_id: u32, resp: Response) -> Vec<u8> {
    Message {
        stream_id,
        kind: MessageType::Response,
        body: resp.encode_to_vec(),
    }
    .encode()
    .expect("seed messages are small")
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    fs::write(dir.join(name), bytes).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let (stream_dir, message_dir) = (root.join("nri_stream"), root.join("nri_message"));
    fs::create_dir_all(&stream_dir).unwrap();
    fs::create_dir_all(&message_dir).unwrap();

    let payloads = payloads();
    for (i, (method, payload)) in payloads.iter().enumerate() {
        let pick = PLUGIN_METHODS.iter().position(|m| m == method).unwrap() as u8;
        let mut seed = vec![pick];
        seed.extend_from_slice(payload);
        write(&message_dir, &format!("{i:02}-{method}"), &seed);
    }

    // A whole session: RegisterPlugin accepted on conn 2, then every request on conn 1 with odd,
    // increasing stream ids; Synchronize is larger than one 4096-byte frame.
    let mut session = Vec::new();
    encode_frames(RUNTIME_SERVICE_CONN, &response(1, Response::ok(Vec::new())), &mut session);
    for (i, (method, payload)) in payloads.iter().enumerate() {
        let msg = request(2 * i as u32 + 1, method, payload.clone());
        encode_frames(PLUGIN_SERVICE_CONN, &msg, &mut session);
    }
    for (name, read_size) in [("session-read-64k", 0xff), ("session-read-7", 6)] {
        let mut seed = vec![read_size];
        seed.extend_from_slice(&session);
        write(&stream_dir, name, &seed);
    }

    // The runtime refusing the registration.
    let mut refused = vec![0xff];
    let status = Response {
        status: Some(Status {
            code: 3,
            message: "plugin with index 10 already registered".into(),
        }),
        payload: Vec::new(),
    };
    encode_frames(RUNTIME_SERVICE_CONN, &response(1, status), &mut refused);
    write(&stream_dir, "registration-refused", &refused);

    // One request whose ttrpc message is cut over two frames, plus a frame for an unopened conn.
    let mut split = vec![0xff];
    let msg = request(1, "Configure", payloads[0].1.clone());
    encode_frames(PLUGIN_SERVICE_CONN, &msg[..5], &mut split);
    encode_frames(7, b"dropped", &mut split);
    encode_frames(PLUGIN_SERVICE_CONN, &msg[5..], &mut split);
    write(&stream_dir, "message-across-frames", &split);
}
