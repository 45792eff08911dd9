//! Bad input never crashes and never half-applies: hand-written corpora of broken policy files,
//! NRI trunk bytes, ttrpc messages, NRI payloads, policy annotations and OCI state documents,
//! each rejected with an error that names the problem. Policies go through the real
//! `palisade policy check`; the NRI corpus through the real plugin (`run_plugin`) over a
//! socketpair, the test playing the runtime; OCI state through `parse_oci_state` and the real
//! `palisade oci-hook`. Needs no privileges. (The fuzz targets in fuzz/ cover the random side.)

use std::collections::HashMap;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use palisade_integration::agent::palisade_bin;
use palisade_nri::mux::{encode_frames, FrameDecoder, PLUGIN_SERVICE_CONN, RUNTIME_SERVICE_CONN};
use palisade_nri::ttrpc::{Message, MessageDecoder, MessageType};
use palisade_nri::{
    api, parse_oci_state, policy_binding, run_plugin, Backoff, ContainerHandler, ContainerInfo,
    Endpoint, NriError, PluginConfig, MODE_ANNOTATION, POLICIES_ANNOTATION,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

// ---------------------------------------------------------------------------------------------
// Policies: `palisade policy check FILE` exits 1 with `FILE:line:col: error: ...`.

const HEAD: &str = "apiVersion: palisade.dev/v1alpha1\nkind: Policy\nmetadata:\n  name: t\n";

fn with_spec(spec: &str) -> Vec<u8> {
    format!("{HEAD}spec:\n{spec}").into_bytes()
}

fn with_rule(rule: &str) -> Vec<u8> {
    with_spec(&format!("  rules:\n  - {rule}\n"))
}

/// (file name, contents, "line:col: error: message" fragments that must all appear).
fn bad_policies() -> Vec<(&'static str, Vec<u8>, Vec<&'static str>)> {
    vec![
        (
            "unclosed-flow.yaml",
            b"apiVersion: [palisade\nkind: Policy\n".to_vec(),
            vec!["2:5: error: YAML syntax: illegal placement of ':' indicator"],
        ),
        (
            "tab-indent.yaml",
            with_spec("\trules: []\n"),
            vec!["6:2: error: YAML syntax: tabs disallowed"],
        ),
        (
            "rules-not-a-list.yaml",
            with_spec("  rules: 5\n"),
            vec!["6:10: error: spec.rules: expected a list, found an integer"],
        ),
        (
            "name-not-a-string.yaml",
            b"apiVersion: palisade.dev/v1alpha1\nkind: Policy\nmetadata:\n  name: 42\nspec:\n  rules: []\n"
                .to_vec(),
            vec!["4:9: error: metadata.name: expected a string, found an integer"],
        ),
        (
            "huge-numbers.yaml",
            with_rule(
                "operations: [exec]\n    uids: [99999999999999999999999999999999999999999999, 4294967296, -1, 1.5]\n    action: deny",
            ),
            vec![
                "8:12: error: uids: 99999999999999999999999999999999999999999999 is too large",
                "8:58: error: uid 4294967296 is out of range (0..=4294967294)",
                "8:70: error: uid -1 is out of range",
                "8:74: error: uids: expected an integer, found a number",
            ],
        ),
        (
            "bad-destinations.yaml",
            with_rule(
                "operations: [connect]\n    destinations: ['300.1.2.3/8', '10.0.0.0/33', '1.2.3.4:70000']\n    action: deny",
            ),
            vec![
                "8:20: error: destination \"300.1.2.3/8\": \"300.1.2.3\" is not an IP address",
                "8:35: error: destination \"10.0.0.0/33\": prefix length \"33\" is not in 0..=32",
                "8:50: error: destination \"1.2.3.4:70000\": port \"70000\" is not in 1..=65535",
            ],
        ),
        (
            "unknown-words.yaml",
            with_rule("operations: [wrte]\n    action: dney"),
            vec![
                "7:18: error: unknown operation \"wrte\"",
                "did you mean \"write\"?",
                "8:13: error:",
                "\"dney\"",
            ],
        ),
        (
            "deep-nesting.yaml",
            [b"a: ".as_slice(), &[b'['; 100_000]].concat(),
            vec!["1:259: error: YAML syntax: recursion limit exceeded"],
        ),
        (
            "deep-closed-nesting.yaml",
            format!("a: {}{}\n", "[".repeat(5000), "]".repeat(5000)).into_bytes(),
            vec!["error: YAML syntax: recursion limit exceeded"],
        ),
        (
            "not-utf8.yaml",
            b"apiVersion: palisade.dev/v1alpha1\nkind: Policy\nmetadata:\n  name: caf\xe9\n".to_vec(),
            vec!["4:12: error: byte 0xe9 is not valid UTF-8: policy files must be UTF-8 text"],
        ),
        (
            "empty.yaml",
            Vec::new(),
            vec!["1:1: error: no policy document in this file"],
        ),
        (
            "anchor.yaml",
            with_rule("operations: [exec]\n    paths: &p {prefix: [/tmp/]}\n    action: deny"),
            vec!["8:12: error: YAML anchors (&name) are not supported"],
        ),
        (
            "tag.yaml",
            with_rule("operations: !!seq [exec]\n    action: deny"),
            vec!["7:17: error: YAML tags (!tag) are not supported"],
        ),
        (
            "duplicate-key.yaml",
            with_rule("operations: [exec]\n    action: deny\n    action: allow"),
            vec!["9:5: error: duplicate key \"action\" (first at line 8)"],
        ),
        (
            "nul-in-path.yaml",
            with_rule("operations: [exec]\n    paths: {prefix: [\"/tmp/\\0x\"], exact: [relative]}\n    action: deny"),
            vec![
                "8:22: error: paths.prefix:",
                "contains a NUL byte",
                "8:43: error: paths.exact: \"relative\" is not an absolute path",
            ],
        ),
        (
            "tetragon-wrong-types.yaml",
            b"apiVersion: cilium.io/v1alpha1\nkind: TracingPolicy\nmetadata:\n  name: t\nspec:\n  kprobes:\n  - call: security_path_unlink\n    syscall: maybe\n    args: [{index: 99999999999999999999, type: dentry}]\n"
                .to_vec(),
            vec![
                "8:14: error: syscall: expected true or false, found a string",
                "9:20: error: security_path_unlink has 2 arguments (index 0..=1)",
            ],
        ),
    ]
}

fn policy_check(file: &Path) -> Output {
    Command::new(palisade_bin().unwrap())
        .args(["policy", "check"])
        .arg(file)
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .output()
        .expect("running palisade policy check")
}

#[test]
fn policy_check_rejects_each_bad_policy_at_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for (name, contents, wants) in bad_policies() {
        let path = dir.path().join(name);
        std::fs::write(&path, &contents).unwrap();
        let out = policy_check(&path);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let located = format!("{}:", path.display());
        let mut problems = Vec::new();
        if out.status.code() != Some(1) {
            problems.push(format!("exit status {} (want 1)", out.status));
        }
        for want in wants {
            if !text.contains(want) {
                problems.push(format!("missing {want:?}"));
            }
        }
        // Every error line is compiler style: FILE:LINE:COL: error: ...
        for line in text.lines().filter(|l| l.contains(": error: ")) {
            let rest = line.strip_prefix(&located).unwrap_or("");
            let mut parts = rest.splitn(3, ':');
            let (l, c) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            if l.parse::<usize>().is_err() || c.parse::<usize>().is_err() {
                problems.push(format!("error line without FILE:LINE:COL: {line:?}"));
            }
        }
        if text.contains("panicked") {
            problems.push("panicked".into());
        }
        if !problems.is_empty() {
            failures.push(format!("{name}: {}\n{text}", problems.join("; ")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn a_huge_mapping_is_checked_quickly() {
    // 100,000 keys (1 MB): pairwise duplicate detection made this take a minute.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.yaml");
    let src: String = (0..100_000).map(|i| format!("k{i}: 1\n")).collect();
    std::fs::write(&path, src).unwrap();
    let started = std::time::Instant::now();
    let out = policy_check(&path);
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(":1:1: error: unknown key \"k0\" in the policy"),
        "{}",
        &stderr[..stderr.len().min(2000)]
    );
    assert!(took < Duration::from_secs(20), "took {took:?}");
}

// ---------------------------------------------------------------------------------------------
// Policy annotations on pods and containers.

#[test]
fn bad_annotations_are_refused_with_the_reason() {
    let cases: [(&str, &str, &str); 7] = [
        (
            POLICIES_ANNOTATION,
            "",
            "is empty; remove it or name at least one policy",
        ),
        (
            POLICIES_ANNOTATION,
            "a,,b",
            "has an empty policy name at position 1",
        ),
        (
            POLICIES_ANNOTATION,
            "../../etc/passwd",
            "invalid policy name \"../../etc/passwd\"",
        ),
        (
            POLICIES_ANNOTATION,
            "caf\u{e9}",
            "invalid policy name \"caf\u{e9}\"",
        ),
        (POLICIES_ANNOTATION, "a,b,a", "policy \"a\" is listed twice"),
        (
            MODE_ANNOTATION,
            "ENFORCE",
            "palisade.dev/mode=\"ENFORCE\": expected \"enforce\" or \"audit\"",
        ),
        (
            MODE_ANNOTATION,
            "audit,enforce",
            "expected \"enforce\" or \"audit\"",
        ),
    ];
    let mut failures = Vec::new();
    for (key, value, want) in cases {
        let c = api::Container {
            id: "c1".into(),
            annotations: HashMap::from([(key.to_owned(), value.to_owned())]),
            ..Default::default()
        };
        match policy_binding(&ContainerInfo::from_nri(None, &c)) {
            Ok(b) => failures.push(format!("{key}={value:?} accepted: {b:?}")),
            Err(e) if e.to_string().contains(want) => {}
            Err(e) => failures.push(format!("{key}={value:?}: {e} (want {want:?})")),
        }
    }
    let long = "p".repeat(254);
    let c = api::Container {
        annotations: HashMap::from([(POLICIES_ANNOTATION.to_owned(), long)]),
        ..Default::default()
    };
    let e = policy_binding(&ContainerInfo::from_nri(None, &c)).unwrap_err();
    assert!(e.to_string().contains("at most 253 characters"), "{e}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// NRI: the plugin against a runtime that sends garbage.

/// Protobuf encoding, written out so the test shares no code with the plugin's decoder.
mod pb {
    pub fn varint(mut v: u64, out: &mut Vec<u8>) {
        while v >= 0x80 {
            out.push(v as u8 | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    pub fn bytes(field: u32, b: &[u8], out: &mut Vec<u8>) {
        varint(u64::from(field << 3 | 2), out);
        varint(b.len() as u64, out);
        out.extend_from_slice(b);
    }

    /// `ttrpc.Request{service, method, payload}`.
    pub fn request(service: &str, method: &str, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        bytes(1, service.as_bytes(), &mut out);
        bytes(2, method.as_bytes(), &mut out);
        bytes(3, payload, &mut out);
        out
    }

    /// `ttrpc.Response` -> (status code, status message); fields other than status skipped.
    pub fn response_status(mut b: &[u8]) -> (u64, String) {
        let (mut code, mut message) = (0, String::new());
        while let Some((field, value)) = next(&mut b) {
            if field == 1 {
                let mut s = value.as_slice();
                while let Some((f, v)) = next(&mut s) {
                    match f {
                        1 => code = v.iter().rev().fold(0, |acc, &x| acc << 7 | u64::from(x)),
                        2 => message = String::from_utf8(v).unwrap(),
                        _ => {}
                    }
                }
            }
        }
        (code, message)
    }

    /// Next field: varints come back as their 7-bit groups, least significant first.
    fn next(b: &mut &[u8]) -> Option<(u64, Vec<u8>)> {
        let key = take_varint(b)?;
        match key & 7 {
            0 => {
                let mut groups = Vec::new();
                loop {
                    let (&x, rest) = b.split_first()?;
                    *b = rest;
                    groups.push(x & 0x7f);
                    if x & 0x80 == 0 {
                        break;
                    }
                }
                Some((key >> 3, groups))
            }
            2 => {
                let len = take_varint(b)? as usize;
                let (v, rest) = b.split_at(len);
                *b = rest;
                Some((key >> 3, v.to_vec()))
            }
            t => panic!("unexpected wire type {t} from the plugin"),
        }
    }

    fn take_varint(b: &mut &[u8]) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&x, rest) = b.split_first()?;
            *b = rest;
            v |= u64::from(x & 0x7f) << shift;
            if x & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }
}

/// A ttrpc message header and body, any fields allowed (including invalid ones).
fn ttrpc_raw(len: u32, stream: u32, kind: u8, flags: u8, body: &[u8]) -> Vec<u8> {
    let mut out = len.to_be_bytes().to_vec();
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(&[kind, flags]);
    out.extend_from_slice(body);
    out
}

fn framed(conn: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_frames(conn, payload, &mut out);
    out
}

fn request(stream: u32, service: &str, method: &str, payload: &[u8]) -> Vec<u8> {
    let body = pb::request(service, method, payload);
    framed(
        PLUGIN_SERVICE_CONN,
        &ttrpc_raw(body.len() as u32, stream, 1, 0, &body),
    )
}

struct Recorder;

#[palisade_nri::async_trait]
impl ContainerHandler for Recorder {
    async fn start_container(&self, c: &ContainerInfo) -> Result<(), String> {
        panic!("StartContainer reached the handler from bad input: {c:?}")
    }
    async fn remove_container(&self, _id: &str) {}
    async fn synchronize(&self, _containers: &[ContainerInfo]) {}
}

/// The plugin in pre-installed mode on one end of a socketpair; the other end is the runtime.
fn plugin() -> (tokio::task::JoinHandle<Result<(), NriError>>, UnixStream) {
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    let cfg = PluginConfig {
        endpoint: Endpoint::PreConnected(OwnedFd::from(ours)),
        name: "bad-input".into(),
        idx: "10".into(),
        backoff: Backoff::default(),
        registration_timeout: Duration::from_secs(30),
    };
    let task = tokio::spawn(run_plugin(cfg, Arc::new(Recorder)));
    theirs.set_nonblocking(true).unwrap();
    (task, UnixStream::from_std(theirs).unwrap())
}

/// Runtime-side bytes that must make the plugin drop the connection, and what its error says.
fn fatal_corpus() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let bad_body = [0xff, 0xff, 0xff];
    vec![
        (
            "frame for reserved conn 0",
            vec![0, 0, 0, 0, 0, 0, 0, 1, 0],
            "NRI multiplexer: multiplexer frame for reserved connection id 0",
        ),
        (
            "frame length 16 MiB + 1",
            vec![0, 0, 0, 1, 0x01, 0, 0, 1],
            "multiplexer frame of 16777217 bytes exceeds the 16 MiB limit",
        ),
        (
            "frame length 4 GiB - 1",
            vec![0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff],
            "multiplexer frame of 4294967295 bytes exceeds the 16 MiB limit",
        ),
        (
            "ttrpc type 3 (data)",
            framed(PLUGIN_SERVICE_CONN, &ttrpc_raw(0, 1, 3, 0, &[])),
            "ttrpc on connection 1: unsupported ttrpc message type 3 (NRI uses unary calls only)",
        ),
        (
            "ttrpc type 0",
            framed(RUNTIME_SERVICE_CONN, &ttrpc_raw(0, 1, 0, 0, &[])),
            "ttrpc on connection 2: unsupported ttrpc message type 0",
        ),
        (
            "ttrpc body length 5 MiB",
            framed(PLUGIN_SERVICE_CONN, &ttrpc_raw(5 << 20, 1, 1, 0, &[])),
            "ttrpc message body of 5242880 bytes exceeds the 4 MiB limit",
        ),
        (
            "ttrpc streaming flags",
            framed(PLUGIN_SERVICE_CONN, &ttrpc_raw(0, 1, 1, 0x3, &[])),
            "unsupported ttrpc flags 0x3 on a unary message",
        ),
        (
            "request body not protobuf",
            framed(PLUGIN_SERVICE_CONN, &ttrpc_raw(3, 1, 1, 0, &bad_body)),
            "malformed ttrpc request:",
        ),
        (
            "response body not protobuf",
            framed(RUNTIME_SERVICE_CONN, &ttrpc_raw(3, 1, 2, 0, &bad_body)),
            "malformed ttrpc response:",
        ),
        (
            "response on the plugin service",
            framed(PLUGIN_SERVICE_CONN, &ttrpc_raw(0, 1, 2, 0, &[])),
            "protocol violation: Response message on the Plugin service connection",
        ),
        (
            "request on the runtime service",
            framed(RUNTIME_SERVICE_CONN, &ttrpc_raw(0, 1, 1, 0, &[])),
            "protocol violation: Request message on the Runtime service connection",
        ),
        (
            "even request stream id",
            request(2, api::PLUGIN_SERVICE, "Configure", &[]),
            "protocol violation: request on stream 2 after stream 0",
        ),
        (
            "truncated frame",
            vec![0, 0, 0, 1, 0, 0, 0, 100, 1, 2, 3],
            "connection closed by the runtime in the middle of a message",
        ),
        (
            "truncated frame header",
            vec![0, 0, 0, 1, 0],
            "connection closed by the runtime in the middle of a message",
        ),
        (
            "truncated ttrpc message in whole frames",
            framed(PLUGIN_SERVICE_CONN, &ttrpc_raw(50, 1, 1, 0, b"short")),
            "connection closed by the runtime in the middle of a message",
        ),
    ]
}

#[tokio::test]
async fn the_plugin_drops_a_runtime_that_sends_garbage_with_a_clear_error() {
    let mut failures = Vec::new();
    for (name, bytes, want) in fatal_corpus() {
        let (task, mut runtime) = plugin();
        runtime.write_all(&bytes).await.unwrap();
        // Closing our write side ends any stream the plugin was still waiting on.
        runtime.shutdown().await.unwrap();
        let result = tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .unwrap_or_else(|_| panic!("{name}: the plugin neither failed nor returned"));
        match result {
            Err(join) => failures.push(format!("{name}: the plugin task died: {join}")),
            Ok(Ok(())) => failures.push(format!("{name}: accepted")),
            Ok(Err(e)) if e.to_string().contains(want) => {}
            Ok(Err(e)) => failures.push(format!("{name}: {e} (want {want:?})")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Reads the plugin's replies until the response to `stream` on the Plugin service.
async fn reply(runtime: &mut UnixStream, stream: u32) -> Message {
    let (mut frames, mut conn1) = (FrameDecoder::default(), MessageDecoder::default());
    let mut buf = vec![0u8; 65536];
    loop {
        while let Some(f) = frames.next_frame().unwrap() {
            if f.conn == PLUGIN_SERVICE_CONN {
                conn1.push(&f.payload);
            }
        }
        while let Some(m) = conn1.next_message().unwrap() {
            if m.stream_id == stream && m.kind == MessageType::Response {
                return m;
            }
        }
        let n = tokio::time::timeout(Duration::from_secs(10), runtime.read(&mut buf))
            .await
            .expect("the plugin answers within 10 s")
            .unwrap();
        assert!(
            n > 0,
            "the plugin closed the connection instead of answering"
        );
        frames.push(&buf[..n]);
    }
}

#[tokio::test]
async fn malformed_nri_requests_get_an_error_reply_and_the_connection_survives() {
    let (task, mut runtime) = plugin();
    // Each request is well framed; what is wrong is inside. The plugin answers each with a
    // gRPC status and keeps serving (the runtime decides what to do with the error).
    let truncated_container = [0x1a, 0x40, 0x0a, 0x02, b'c']; // field 3 claims 64 bytes
    let cases: [(&str, &str, &[u8], u64, &str); 6] = [
        (
            api::PLUGIN_SERVICE,
            "StateChange",
            &truncated_container,
            3,
            "malformed StateChange request:",
        ),
        (
            api::PLUGIN_SERVICE,
            "Synchronize",
            &[0x0f],
            3,
            "malformed Synchronize request:",
        ),
        (
            api::PLUGIN_SERVICE,
            "Configure",
            &[0x0a, 0x02, 0xc3, 0x28], // config: a string that is not UTF-8
            3,
            "malformed Configure request:",
        ),
        (
            api::PLUGIN_SERVICE,
            "StateChange",
            &[0x08, 0x06], // StartContainer without a container
            3,
            "StartContainer event without container",
        ),
        (api::PLUGIN_SERVICE, "Evict", &[], 12, "method Evict"),
        ("evil.Service", "Configure", &[], 12, "service evil.Service"),
    ];
    for (i, (service, method, payload, code, want)) in cases.into_iter().enumerate() {
        let stream = 2 * i as u32 + 1;
        runtime
            .write_all(&request(stream, service, method, payload))
            .await
            .unwrap();
        let m = reply(&mut runtime, stream).await;
        let (got_code, message) = pb::response_status(&m.body);
        assert_eq!(got_code, code, "{method}: {message}");
        assert!(
            message.contains(want),
            "{method}: {message:?} (want {want:?})"
        );
    }
    assert!(!task.is_finished(), "the plugin gave up on the connection");
    task.abort();
}

// ---------------------------------------------------------------------------------------------
// OCI runtime state, as `palisade oci-hook` reads it on stdin.

const STATE_WITH_EXTRA: &str =
    r#"{"ociVersion":"1","id":"x","status":"created","pid":1,"bundle":"/b","x":"#;

fn bad_oci_states() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let deep_unclosed = format!("{STATE_WITH_EXTRA}{}", "[".repeat(100_000));
    vec![
        ("empty", b"".to_vec(), "EOF while parsing a value"),
        ("truncated", br#"{"ociVersion":"1.0.2","id":"x","#.to_vec(), "EOF while parsing"),
        ("not utf-8", b"{\"ociVersion\":\"1\xff\"}".to_vec(), "invalid unicode"),
        ("array", b"[]".to_vec(), "expected struct"),
        (
            "missing id",
            br#"{"ociVersion":"1.0.2","status":"creating","pid":1,"bundle":"/b"}"#.to_vec(),
            "missing field `id`",
        ),
        (
            "missing bundle",
            br#"{"ociVersion":"1.0.2","id":"x","status":"creating","pid":1}"#.to_vec(),
            "missing field `bundle`",
        ),
        (
            "missing status",
            br#"{"ociVersion":"1.0.2","id":"x","pid":1,"bundle":"/b"}"#.to_vec(),
            "missing field `status`",
        ),
        (
            "missing ociVersion",
            br#"{"id":"x","status":"created","pid":1,"bundle":"/b"}"#.to_vec(),
            "missing field `ociVersion`",
        ),
        (
            "running without pid",
            br#"{"ociVersion":"1","id":"x","status":"running","bundle":"/b"}"#.to_vec(),
            "status Running requires a pid",
        ),
        (
            "pid as a string",
            br#"{"ociVersion":"1","id":"x","status":"created","pid":"12","bundle":"/b"}"#.to_vec(),
            "invalid type: string \"12\", expected u32",
        ),
        (
            "pid beyond u32",
            br#"{"ociVersion":"1","id":"x","status":"created","pid":4294967296,"bundle":"/b"}"#
                .to_vec(),
            "invalid value: integer `4294967296`, expected u32",
        ),
        (
            "pid 1e400",
            br#"{"ociVersion":"1","id":"x","status":"created","pid":1e400,"bundle":"/b"}"#.to_vec(),
            "number out of range",
        ),
        (
            "pid 0",
            br#"{"ociVersion":"1","id":"x","status":"created","pid":0,"bundle":"/b"}"#.to_vec(),
            "pid 0 is not a process",
        ),
        (
            "unknown status",
            br#"{"ociVersion":"1","id":"x","status":"paused","pid":1,"bundle":"/b"}"#.to_vec(),
            "unknown variant `paused`",
        ),
        (
            "relative bundle",
            br#"{"ociVersion":"1","id":"x","status":"created","pid":1,"bundle":"b"}"#.to_vec(),
            "bundle \"b\" is not an absolute path",
        ),
        (
            "empty id",
            br#"{"ociVersion":"1","id":"","status":"created","pid":1,"bundle":"/b"}"#.to_vec(),
            "field id is empty",
        ),
        (
            "annotation value not a string",
            br#"{"ociVersion":"1","id":"x","status":"created","pid":1,"bundle":"/b","annotations":{"palisade.dev/policies":["a"]}}"#
                .to_vec(),
            "invalid type: sequence, expected a string",
        ),
        ("deep unclosed nesting", deep_unclosed.into_bytes(), "EOF while parsing a list"),
    ]
}

#[test]
fn parse_oci_state_rejects_each_bad_state_with_the_reason() {
    let mut failures = Vec::new();
    for (name, doc, want) in bad_oci_states() {
        match parse_oci_state(&doc) {
            Ok(s) => failures.push(format!("{name}: accepted {s:?}")),
            Err(e) if e.to_string().contains(want) => {}
            Err(e) => failures.push(format!("{name}: {e} (want {want:?})")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn deeply_nested_extra_fields_are_skipped_without_recursion() {
    // Runtimes may add fields of their own; skipping one 100,000 levels deep must not overflow
    // the stack (serde_json skips unknown values iteratively).
    let doc = format!(
        "{STATE_WITH_EXTRA}{}{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let s = parse_oci_state(doc.as_bytes()).unwrap();
    assert_eq!((s.id.as_str(), s.pid), ("x", Some(1)));
}

#[test]
fn oci_hook_refuses_bad_state_before_contacting_the_agent() {
    // The socket does not exist: the hook must fail on the input, not on the connection.
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("no-agent.sock");
    for (name, doc, want) in bad_oci_states() {
        let mut child = Command::new(palisade_bin().unwrap())
            .arg("--socket")
            .arg(&socket)
            .args(["oci-hook", "--fail-open"])
            .env_remove("RUST_BACKTRACE")
            .env_remove("RUST_LIB_BACKTRACE")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&doc).unwrap();
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        // --fail-open starts containers when the agent is away, never on malformed state.
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        assert!(
            stderr.contains("palisade oci-hook (createRuntime): OCI state")
                && stderr.contains(want),
            "{name}: {stderr} (want {want:?})"
        );
    }
}
