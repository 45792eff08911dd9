//! One plugin connection: the multiplexed trunk, our ttrpc server for the Plugin service on
//! conn 1, our ttrpc client for the Runtime service on conn 2, and the dispatch of NRI calls to
//! the [`ContainerHandler`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use prost::Message as _;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

use crate::api::{self, Event};
use crate::container::{ConnectionState, ContainerHandler, ContainerInfo, PodInfo};
use crate::error::NriError;
use crate::mux::{self, FrameDecoder, PLUGIN_SERVICE_CONN, RUNTIME_SERVICE_CONN};
use crate::ttrpc::{self, code, Message, MessageDecoder, MessageType, Response};

/// The events palisade subscribes to. CreateContainer is left out on purpose: the container's
/// cgroup does not exist yet at that point (containerd 1.7 creates the task at StartContainer).
pub const EVENT_MASK: i32 = Event::RunPodSandbox.mask()
    | Event::StopPodSandbox.mask()
    | Event::RemovePodSandbox.mask()
    | Event::StartContainer.mask()
    | Event::StopContainer.mask()
    | Event::RemoveContainer.mask();

/// Who we register as.
pub(crate) struct Registration {
    pub name: String,
    pub idx: String,
    pub timeout: Duration,
    /// Pre-installed plugins get no Synchronize from NRI 0.6.1; they count as registered once
    /// Configure was answered.
    pub expects_sync: bool,
}

/// Split-sync accumulator: NRI 0.7+ may deliver Synchronize in parts (`more = true`).
#[derive(Default)]
struct SyncParts {
    pods: Vec<api::PodSandbox>,
    containers: Vec<api::Container>,
}

struct Shared {
    handler: Arc<dyn ContainerHandler>,
    out: mpsc::UnboundedSender<(u32, Vec<u8>)>,
    calls: Mutex<HashMap<u32, oneshot::Sender<Response>>>,
    next_stream: AtomicU32,
    sync: Mutex<SyncParts>,
    expects_sync: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A handler panic cannot leave these maps half-updated; keep going after poisoning.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn send(&self, conn: u32, msg: &Message) -> Result<(), NriError> {
        let bytes = msg
            .encode()
            .map_err(|source| NriError::Ttrpc { conn, source })?;
        self.out
            .send((conn, bytes))
            .map_err(|_| NriError::Closed { truncated: false })
    }

    /// Unary call on the Runtime service.
    async fn call(
        &self,
        method: &'static str,
        payload: Vec<u8>,
        timeout: Duration,
    ) -> Result<Response, NriError> {
        let stream_id = self.next_stream.fetch_add(2, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        lock(&self.calls).insert(stream_id, tx);
        let req = ttrpc::Request {
            service: api::RUNTIME_SERVICE.into(),
            method: method.into(),
            payload,
            timeout_nano: i64::try_from(timeout.as_nanos()).unwrap_or(i64::MAX),
            metadata: Vec::new(),
        };
        let msg = Message {
            stream_id,
            kind: MessageType::Request,
            body: req.encode_to_vec(),
        };
        self.send(RUNTIME_SERVICE_CONN, &msg)?;
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(_)) => Err(NriError::Closed { truncated: false }),
            Err(_) => {
                lock(&self.calls).remove(&stream_id);
                Err(NriError::Timeout {
                    what: method,
                    timeout,
                })
            }
        }
    }
}

/// Runs one connection until the runtime closes it. `Ok(())` means a clean close after a
/// successful registration; every protocol or I/O failure is an error.
pub(crate) async fn run_session<S>(
    stream: S,
    reg: &Registration,
    handler: Arc<dyn ContainerHandler>,
) -> Result<(), NriError>
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (rd, wr) = tokio::io::split(stream);
    let (out, out_rx) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared {
        handler,
        out,
        calls: Mutex::new(HashMap::new()),
        next_stream: AtomicU32::new(1),
        sync: Mutex::new(SyncParts::default()),
        expects_sync: reg.expects_sync,
    });
    // Owned by this future: dropping it (cancelling run_plugin) must close the connection.
    let _writer = AbortOnDrop(tokio::spawn(write_loop(wr, out_rx)));
    let mut reader = AbortOnDrop(tokio::spawn(read_loop(rd, Arc::clone(&shared))));

    // Serve conn 1 (the reader is already running) before asking to register: the runtime
    // calls Configure as soon as it accepted the registration, possibly before replying to it.
    let request = api::RegisterPluginRequest {
        plugin_name: reg.name.clone(),
        plugin_idx: reg.idx.clone(),
    };
    let registered = tokio::select! {
        r = shared.call("RegisterPlugin", request.encode_to_vec(), reg.timeout) => r,
        r = &mut reader.0 => Err(flatten(r).err().unwrap_or(NriError::Closed { truncated: false })),
    };
    let result = match registered {
        Ok(resp) if resp.code() == code::OK => {
            debug!(name = %reg.name, idx = %reg.idx, "RegisterPlugin accepted");
            flatten((&mut reader.0).await)
        }
        Ok(resp) => {
            let s = resp.status.unwrap_or_default();
            Err(NriError::Rejected {
                code: s.code,
                message: s.message,
            })
        }
        Err(e) => Err(e),
    };
    result
}

struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn flatten(r: Result<Result<(), NriError>, tokio::task::JoinError>) -> Result<(), NriError> {
    r.map_err(|e| NriError::Protocol(format!("connection reader failed: {e}")))?
}

async fn write_loop<W: AsyncWrite>(
    wr: W,
    mut rx: mpsc::UnboundedReceiver<(u32, Vec<u8>)>,
) -> std::io::Result<()> {
    tokio::pin!(wr);
    let mut buf = Vec::new();
    while let Some((conn, msg)) = rx.recv().await {
        buf.clear();
        mux::encode_frames(conn, &msg, &mut buf);
        while let Ok((conn, msg)) = rx.try_recv() {
            mux::encode_frames(conn, &msg, &mut buf);
        }
        wr.write_all(&buf).await?;
        wr.flush().await?;
    }
    Ok(())
}

async fn read_loop<R: AsyncRead>(rd: R, shared: Arc<Shared>) -> Result<(), NriError> {
    tokio::pin!(rd);
    let mut frames = FrameDecoder::default();
    let mut plugin_conn = MessageDecoder::default();
    let mut runtime_conn = MessageDecoder::default();
    let mut last_request_stream = 0u32;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = rd.read(&mut buf).await?;
        if n == 0 {
            let truncated = frames.pending() + plugin_conn.pending() + runtime_conn.pending() > 0;
            return if truncated {
                Err(NriError::Closed { truncated })
            } else {
                Ok(())
            };
        }
        frames.push(&buf[..n]);
        while let Some(frame) = frames.next_frame()? {
            let (decoder, conn) = match frame.conn {
                PLUGIN_SERVICE_CONN => (&mut plugin_conn, PLUGIN_SERVICE_CONN),
                RUNTIME_SERVICE_CONN => (&mut runtime_conn, RUNTIME_SERVICE_CONN),
                other => {
                    // Same as the Go multiplexer: data for a connection nobody opened is dropped.
                    debug!(conn = other, "dropping frame for an unopened connection");
                    continue;
                }
            };
            decoder.push(&frame.payload);
            while let Some(msg) = decoder
                .next_message()
                .map_err(|source| NriError::Ttrpc { conn, source })?
            {
                if conn == PLUGIN_SERVICE_CONN {
                    accept_request(&shared, msg, &mut last_request_stream)?;
                } else {
                    accept_response(&shared, msg)?;
                }
            }
        }
    }
}

fn accept_request(shared: &Arc<Shared>, msg: Message, last: &mut u32) -> Result<(), NriError> {
    if msg.kind != MessageType::Request {
        return Err(NriError::Protocol(format!(
            "{:?} message on the Plugin service connection",
            msg.kind
        )));
    }
    // ttrpc clients open odd, strictly increasing stream ids.
    if msg.stream_id % 2 == 0 || msg.stream_id <= *last {
        return Err(NriError::Protocol(format!(
            "request on stream {} after stream {}",
            msg.stream_id, *last
        )));
    }
    *last = msg.stream_id;
    let req = ttrpc::Request::decode(msg.body.as_slice()).map_err(|source| NriError::Decode {
        what: "ttrpc request",
        source,
    })?;
    let shared = Arc::clone(shared);
    let stream_id = msg.stream_id;
    tokio::spawn(async move {
        let resp = dispatch(&shared, &req).await;
        let reply = Message {
            stream_id,
            kind: MessageType::Response,
            body: resp.encode_to_vec(),
        };
        if let Err(e) = shared.send(PLUGIN_SERVICE_CONN, &reply) {
            warn!(method = %req.method, error = %e, "could not send NRI reply");
        }
    });
    Ok(())
}

fn accept_response(shared: &Shared, msg: Message) -> Result<(), NriError> {
    if msg.kind != MessageType::Response {
        return Err(NriError::Protocol(format!(
            "{:?} message on the Runtime service connection",
            msg.kind
        )));
    }
    let resp = Response::decode(msg.body.as_slice()).map_err(|source| NriError::Decode {
        what: "ttrpc response",
        source,
    })?;
    match lock(&shared.calls).remove(&msg.stream_id) {
        Some(waiter) => {
            let _ = waiter.send(resp);
        }
        None => warn!(
            stream = msg.stream_id,
            "response for a call that is no longer waiting"
        ),
    }
    Ok(())
}

/// Decodes an NRI request payload, or yields the INVALID_ARGUMENT reply for it.
fn decode<M: prost::Message + Default>(req: &ttrpc::Request) -> Result<M, Response> {
    M::decode(req.payload.as_slice()).map_err(|e| {
        warn!(method = %req.method, error = %e, "malformed NRI request");
        Response::error(
            code::INVALID_ARGUMENT,
            format!("malformed {} request: {e}", req.method),
        )
    })
}

async fn dispatch(shared: &Shared, req: &ttrpc::Request) -> Response {
    if req.service != api::PLUGIN_SERVICE {
        return Response::error(code::UNIMPLEMENTED, format!("service {}", req.service));
    }
    let result = match req.method.as_str() {
        "Configure" => configure(shared, req),
        "Synchronize" => synchronize(shared, req).await,
        "StateChange" => state_change(shared, req).await,
        "StopContainer" => stop_container(shared, req).await,
        // Not subscribed; answered with "no adjustment" should a runtime send them anyway.
        "CreateContainer" => decode::<api::CreateContainerRequest>(req)
            .map(|_| api::CreateContainerResponse {}.encode_to_vec()),
        "UpdateContainer" => decode::<api::UpdateContainerRequest>(req)
            .map(|_| api::UpdateContainerResponse {}.encode_to_vec()),
        "Shutdown" => decode::<api::Empty>(req).map(|_| {
            info!("runtime asked the plugin to shut down");
            Vec::new()
        }),
        other => return Response::error(code::UNIMPLEMENTED, format!("method {other}")),
    };
    result.map_or_else(|err| err, Response::ok)
}

fn configure(shared: &Shared, req: &ttrpc::Request) -> Result<Vec<u8>, Response> {
    let r: api::ConfigureRequest = decode(req)?;
    info!(runtime = %r.runtime_name, version = %r.runtime_version, config_bytes = r.config.len(), "NRI Configure");
    if !shared.expects_sync {
        shared
            .handler
            .connection_changed(ConnectionState::Registered);
    }
    Ok(api::ConfigureResponse { events: EVENT_MASK }.encode_to_vec())
}

async fn synchronize(shared: &Shared, req: &ttrpc::Request) -> Result<Vec<u8>, Response> {
    let r: api::SynchronizeRequest = decode(req)?;
    let parts = {
        let mut acc = lock(&shared.sync);
        acc.pods.extend(r.pods);
        acc.containers.extend(r.containers);
        if r.more {
            return Ok(api::SynchronizeResponse { more: true }.encode_to_vec());
        }
        std::mem::take(&mut *acc)
    };
    let pods: HashMap<&str, &api::PodSandbox> =
        parts.pods.iter().map(|p| (p.id.as_str(), p)).collect();
    let containers: Vec<ContainerInfo> = parts
        .containers
        .iter()
        .map(|c| ContainerInfo::from_nri(pods.get(c.pod_sandbox_id.as_str()).copied(), c))
        .collect();
    info!(
        pods = parts.pods.len(),
        containers = containers.len(),
        "NRI Synchronize"
    );
    let pod_infos: Vec<PodInfo> = parts.pods.iter().map(PodInfo::from).collect();
    shared.handler.synchronize_pods(&pod_infos).await;
    shared.handler.synchronize(&containers).await;
    shared
        .handler
        .connection_changed(ConnectionState::Registered);
    Ok(api::SynchronizeResponse { more: false }.encode_to_vec())
}

fn required<'a, T>(field: &'a Option<T>, what: &str, event: Event) -> Result<&'a T, Response> {
    field.as_ref().ok_or_else(|| {
        Response::error(
            code::INVALID_ARGUMENT,
            format!("{event:?} event without {what}"),
        )
    })
}

async fn state_change(shared: &Shared, req: &ttrpc::Request) -> Result<Vec<u8>, Response> {
    let ev: api::StateChangeEvent = decode(req)?;
    let event = Event::try_from(ev.event).map_err(|_| {
        Response::error(
            code::INVALID_ARGUMENT,
            format!("unknown NRI event {}", ev.event),
        )
    })?;
    let handler = &shared.handler;
    match event {
        Event::StartContainer => {
            let c = required(&ev.container, "container", event)?;
            let info = ContainerInfo::from_nri(ev.pod.as_ref(), c);
            let started = Instant::now();
            let verdict = handler.start_container(&info).await;
            let took = started.elapsed();
            if req.timeout_nano > 0 && took.as_nanos() >= req.timeout_nano as u128 {
                warn!(container = %info.id, ?took, "StartContainer handler outlived the runtime's deadline");
            }
            debug!(container = %info.id, pod = %info.pod_name, ?took, ok = verdict.is_ok(), "StartContainer");
            verdict.map_err(|msg| Response::error(code::PERMISSION_DENIED, msg))?;
        }
        Event::RemoveContainer => {
            handler
                .remove_container(&required(&ev.container, "container", event)?.id)
                .await
        }
        Event::RunPodSandbox => {
            let pod = PodInfo::from(required(&ev.pod, "pod", event)?);
            handler
                .run_pod_sandbox(&pod)
                .await
                .map_err(|msg| Response::error(code::PERMISSION_DENIED, msg))?;
        }
        Event::StopPodSandbox => {
            handler
                .stop_pod_sandbox(&PodInfo::from(required(&ev.pod, "pod", event)?))
                .await
        }
        Event::RemovePodSandbox => {
            handler
                .remove_pod_sandbox(&PodInfo::from(required(&ev.pod, "pod", event)?))
                .await
        }
        other => debug!(event = ?other, "ignoring unsubscribed NRI event"),
    }
    Ok(api::Empty {}.encode_to_vec())
}

async fn stop_container(shared: &Shared, req: &ttrpc::Request) -> Result<Vec<u8>, Response> {
    let r: api::StopContainerRequest = decode(req)?;
    let c = required(&r.container, "container", Event::StopContainer)?;
    shared
        .handler
        .stop_container(&ContainerInfo::from_nri(r.pod.as_ref(), c))
        .await;
    Ok(api::StopContainerResponse {}.encode_to_vec())
}

#[cfg(test)]
mod tests {
    //! The plugin side against a scripted runtime over an in-memory stream: the parts of the
    //! protocol containerd never exercises on its own (unknown methods, malformed payloads,
    //! split sync, frame limits in both directions).

    use super::*;
    use std::sync::atomic::AtomicUsize;
    use tokio::io::DuplexStream;

    struct Refuser {
        synced: AtomicUsize,
    }

    #[async_trait::async_trait]
    impl ContainerHandler for Refuser {
        async fn start_container(&self, c: &ContainerInfo) -> Result<(), String> {
            if c.name == "bad" {
                Err("refused".into())
            } else {
                Ok(())
            }
        }
        async fn remove_container(&self, _id: &str) {}
        async fn synchronize(&self, containers: &[ContainerInfo]) {
            self.synced.store(containers.len(), Ordering::SeqCst);
        }
    }

    /// The runtime end: frames in and out, ttrpc messages per conn.
    struct Runtime {
        io: DuplexStream,
        frames: FrameDecoder,
        conns: HashMap<u32, MessageDecoder>,
        largest_frame: usize,
        next_stream: u32,
    }

    impl Runtime {
        async fn recv(&mut self) -> (u32, Message) {
            loop {
                for (conn, dec) in self.conns.iter_mut() {
                    if let Some(m) = dec.next_message().unwrap() {
                        return (*conn, m);
                    }
                }
                if let Some(f) = self.frames.next_frame().unwrap() {
                    self.largest_frame = self.largest_frame.max(f.payload.len());
                    self.conns.entry(f.conn).or_default().push(&f.payload);
                    continue;
                }
                let mut buf = [0u8; 8192];
                let n = self.io.read(&mut buf).await.unwrap();
                assert!(n > 0, "plugin closed the connection");
                self.frames.push(&buf[..n]);
            }
        }

        async fn send(&mut self, conn: u32, msg: Message, frame_size: usize) {
            let bytes = msg.encode().unwrap();
            let mut wire = Vec::new();
            for chunk in bytes.chunks(frame_size) {
                wire.extend_from_slice(&conn.to_be_bytes());
                wire.extend_from_slice(&(chunk.len() as u32).to_be_bytes());
                wire.extend_from_slice(chunk);
            }
            self.io.write_all(&wire).await.unwrap();
        }

        /// Calls a Plugin method; big frames on purpose (the runtime may send any size).
        async fn call(&mut self, method: &str, payload: Vec<u8>) -> Response {
            let id = self.next_stream;
            self.next_stream += 2;
            let req = ttrpc::Request {
                service: api::PLUGIN_SERVICE.into(),
                method: method.into(),
                payload,
                ..Default::default()
            };
            self.send(
                PLUGIN_SERVICE_CONN,
                Message {
                    stream_id: id,
                    kind: MessageType::Request,
                    body: req.encode_to_vec(),
                },
                1 << 20,
            )
            .await;
            let (conn, m) = self.recv().await;
            assert_eq!(
                (conn, m.kind, m.stream_id),
                (PLUGIN_SERVICE_CONN, MessageType::Response, id)
            );
            Response::decode(m.body.as_slice()).unwrap()
        }
    }

    fn container(id: &str, name: &str) -> api::Container {
        api::Container {
            id: id.into(),
            name: name.into(),
            pid: 9,
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn handshake_events_and_error_statuses() {
        let (plugin_end, runtime_end) = tokio::io::duplex(1 << 16);
        let handler = Arc::new(Refuser {
            synced: AtomicUsize::new(0),
        });
        // A name longer than one frame: the registration request must be cut into ≤4096-byte frames.
        let reg = Registration {
            name: "n".repeat(10_000),
            idx: "42".into(),
            timeout: Duration::from_secs(5),
            expects_sync: true,
        };
        let session = tokio::spawn({
            let handler: Arc<dyn ContainerHandler> =
                Arc::clone(&handler) as Arc<dyn ContainerHandler>;
            async move { run_session(plugin_end, &reg, handler).await }
        });
        let mut rt = Runtime {
            io: runtime_end,
            frames: FrameDecoder::default(),
            conns: HashMap::new(),
            largest_frame: 0,
            next_stream: 1,
        };

        let (conn, m) = rt.recv().await;
        assert_eq!(
            (conn, m.kind, m.stream_id),
            (RUNTIME_SERVICE_CONN, MessageType::Request, 1)
        );
        let req = ttrpc::Request::decode(m.body.as_slice()).unwrap();
        assert_eq!(
            (req.service.as_str(), req.method.as_str()),
            (api::RUNTIME_SERVICE, "RegisterPlugin")
        );
        let r = api::RegisterPluginRequest::decode(req.payload.as_slice()).unwrap();
        assert_eq!((r.plugin_name.len(), r.plugin_idx.as_str()), (10_000, "42"));
        // Configure before the RegisterPlugin reply, as the runtime may do.
        let resp = rt
            .call(
                "Configure",
                api::ConfigureRequest::default().encode_to_vec(),
            )
            .await;
        assert_eq!(
            api::ConfigureResponse::decode(resp.payload.as_slice())
                .unwrap()
                .events,
            EVENT_MASK
        );
        assert_eq!(EVENT_MASK & !api::VALID_EVENTS, 0);
        rt.send(
            RUNTIME_SERVICE_CONN,
            Message {
                stream_id: 1,
                kind: MessageType::Response,
                body: Response::ok(vec![]).encode_to_vec(),
            },
            4096,
        )
        .await;

        // Split sync: a `more` part is acknowledged with `more`, the handler sees the whole list once.
        let part = |ids: &[&str], more| {
            api::SynchronizeRequest {
                pods: vec![],
                containers: ids.iter().map(|i| container(i, "x")).collect(),
                more,
            }
            .encode_to_vec()
        };
        let resp = rt.call("Synchronize", part(&["a", "b"], true)).await;
        assert!(
            api::SynchronizeResponse::decode(resp.payload.as_slice())
                .unwrap()
                .more
        );
        assert_eq!(handler.synced.load(Ordering::SeqCst), 0);
        let resp = rt.call("Synchronize", part(&["c"], false)).await;
        assert!(
            !api::SynchronizeResponse::decode(resp.payload.as_slice())
                .unwrap()
                .more
        );
        assert_eq!(handler.synced.load(Ordering::SeqCst), 3);

        let start = |name: &str| {
            api::StateChangeEvent {
                event: Event::StartContainer as i32,
                pod: None,
                container: Some(container("c1", name)),
            }
            .encode_to_vec()
        };
        assert_eq!(rt.call("StateChange", start("good")).await.code(), code::OK);
        let refused = rt.call("StateChange", start("bad")).await;
        assert_eq!(
            (refused.code(), refused.status.unwrap().message.as_str()),
            (code::PERMISSION_DENIED, "refused")
        );
        let no_container = api::StateChangeEvent {
            event: Event::StartContainer as i32,
            ..Default::default()
        }
        .encode_to_vec();
        assert_eq!(
            rt.call("StateChange", no_container).await.code(),
            code::INVALID_ARGUMENT
        );
        assert_eq!(
            rt.call("StateChange", vec![0xff, 0xff]).await.code(),
            code::INVALID_ARGUMENT
        );
        // A large event (64 KiB of args) arriving in one big frame is reassembled.
        let mut big = container("c2", "good");
        big.args = vec!["a".repeat(65_536)];
        let ev = api::StateChangeEvent {
            event: Event::StartContainer as i32,
            pod: None,
            container: Some(big),
        };
        assert_eq!(
            rt.call("StateChange", ev.encode_to_vec()).await.code(),
            code::OK
        );
        let unknown = rt.call("UpdatePodSandbox", vec![]).await;
        assert_eq!(
            (unknown.code(), unknown.status.unwrap().message.as_str()),
            (code::UNIMPLEMENTED, "method UpdatePodSandbox")
        );

        assert!(
            rt.largest_frame <= mux::MAX_OUT_PAYLOAD,
            "plugin sent a {}-byte frame",
            rt.largest_frame
        );
        drop(rt);
        assert!(
            session.await.unwrap().is_ok(),
            "clean close after registration"
        );
    }

    #[tokio::test]
    async fn garbage_on_the_trunk_is_an_error_not_a_panic() {
        for garbage in [
            &[0u8, 0, 0, 0, 0, 0, 0, 0][..],
            &[0, 0, 0, 1, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0, 1, 9, 0][..],
        ] {
            let (plugin_end, mut runtime_end) = tokio::io::duplex(4096);
            let handler: Arc<dyn ContainerHandler> = Arc::new(Refuser {
                synced: AtomicUsize::new(0),
            });
            let reg = Registration {
                name: "t".into(),
                idx: "01".into(),
                timeout: Duration::from_secs(5),
                expects_sync: true,
            };
            let session = tokio::spawn(async move { run_session(plugin_end, &reg, handler).await });
            runtime_end.write_all(garbage).await.unwrap();
            let err = session.await.unwrap().unwrap_err();
            assert!(
                matches!(err, NriError::Mux(_) | NriError::Ttrpc { .. }),
                "{err}"
            );
        }
    }
}
