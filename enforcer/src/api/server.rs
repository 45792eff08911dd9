//! API server: binds the socket (0600, root only) and answers from the agent's shared state.

use std::{os::unix::fs::PermissionsExt, path::PathBuf, pin::Pin, sync::Arc};

use anyhow::{Context, Result};
use tokio::{net::UnixListener, sync::broadcast::error::RecvError, task::JoinHandle};
use tokio_stream::{wrappers::UnixListenerStream, Stream};
use tonic::{Request, Response, Status};

use super::pb::{
    palisade_server::{Palisade, PalisadeServer},
    AddPolicyRequest, DeletePolicyRequest, Empty, EventLine, GetEventsRequest, JsonReply,
    RegisterCgroupRequest, UnregisterCgroupRequest,
};
use crate::{agent::Shared, events::filter::Filter};

struct Api {
    shared: Arc<Shared>,
}

fn json_reply<T: serde::Serialize>(v: &T) -> Result<Response<JsonReply>, Status> {
    serde_json::to_string(v)
        .map(|json| Response::new(JsonReply { json }))
        .map_err(|e| Status::internal(e.to_string()))
}

type EventStream = Pin<Box<dyn Stream<Item = Result<EventLine, Status>> + Send>>;

#[tonic::async_trait]
impl Palisade for Api {
    type GetEventsStream = EventStream;

    async fn get_events(
        &self,
        req: Request<GetEventsRequest>,
    ) -> Result<Response<EventStream>, Status> {
        let r = req.into_inner();
        let filter = Filter {
            namespaces: r.namespaces,
            pods: r.pods,
            containers: r.containers,
            event_types: r.event_types,
        };
        let mut rx = self.shared.events_tx.subscribe();
        let stream = async_stream(move |tx| async move {
            loop {
                let line = match rx.recv().await {
                    Ok(line) => line,
                    Err(RecvError::Lagged(n)) => {
                        // the subscriber is told exactly how much it missed
                        if tx
                            .send(Ok(EventLine {
                                json: String::new(),
                                lost: n,
                            }))
                            .await
                            .is_err()
                        {
                            return;
                        }
                        continue;
                    }
                    Err(RecvError::Closed) => return,
                };
                let pass = serde_json::from_str(&line)
                    .map(|v| filter.matches(&v))
                    .unwrap_or(false);
                if pass
                    && tx
                        .send(Ok(EventLine {
                            json: line.to_string(),
                            lost: 0,
                        }))
                        .await
                        .is_err()
                {
                    return;
                }
            }
        });
        Ok(Response::new(stream))
    }

    async fn status(&self, _: Request<Empty>) -> Result<Response<JsonReply>, Status> {
        json_reply(&self.shared.status())
    }

    async fn list_policies(&self, _: Request<Empty>) -> Result<Response<JsonReply>, Status> {
        let engine = self.shared.engine().map_err(Status::unavailable)?;
        json_reply(&engine.list())
    }

    async fn add_policy(
        &self,
        req: Request<AddPolicyRequest>,
    ) -> Result<Response<JsonReply>, Status> {
        let r = req.into_inner();
        let engine = self.shared.engine().map_err(Status::unavailable)?;
        let file = if r.file.is_empty() {
            "<api>".to_owned()
        } else {
            r.file
        };
        // parse everything first: a file with one bad document adds nothing
        let policies = crate::policy::parse::parse_policies_str(&r.yaml, &file)
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        let mut added = Vec::new();
        for p in policies {
            let name = p.name.clone();
            engine
                .add(p, format!("api:{file}"))
                .map_err(|e| Status::failed_precondition(format!("{e:#}")))?;
            added.push(name);
        }
        json_reply(&serde_json::json!({ "added": added }))
    }

    async fn delete_policy(
        &self,
        req: Request<DeletePolicyRequest>,
    ) -> Result<Response<JsonReply>, Status> {
        let name = req.into_inner().name;
        let engine = self.shared.engine().map_err(Status::unavailable)?;
        engine
            .delete(&name)
            .map_err(|e| Status::failed_precondition(format!("{e:#}")))?;
        json_reply(&serde_json::json!({ "deleted": name }))
    }

    async fn register_cgroup(
        &self,
        req: Request<RegisterCgroupRequest>,
    ) -> Result<Response<JsonReply>, Status> {
        let r = req.into_inner();
        let mode = match r.mode.as_str() {
            "" | "enforce" => "enforce",
            "audit" => "audit",
            other => {
                return Err(Status::invalid_argument(format!(
                    "mode {other:?}: expected enforce or audit"
                )))
            }
        };
        let reg = crate::runtime::Registration {
            cgroup_dir: r.cgroup_path.into(),
            id: r.container_id,
            runtime: String::new(),
            name: r.container_name,
            pod_name: r.pod_name,
            pod_namespace: r.pod_namespace,
            pod_uid: String::new(),
            pod_labels: Default::default(),
            image: r.image,
            policies: r.policies,
            mode: mode.into(),
            setup_pid: (r.init_pid != 0).then_some(r.init_pid),
        };
        // the reply is sent only after the kernel maps are written
        let id =
            crate::runtime::register(&self.shared, reg).map_err(Status::failed_precondition)?;
        json_reply(&serde_json::json!({ "cgroup_id": id }))
    }

    async fn unregister_cgroup(
        &self,
        req: Request<UnregisterCgroupRequest>,
    ) -> Result<Response<JsonReply>, Status> {
        let path = req.into_inner().cgroup_path;
        let id = palisade_nri::cgroup_id(std::path::Path::new(&path))
            .map_err(|e| Status::not_found(format!("{path}: {e}")))?;
        self.shared.unbind_cgroup_id(id);
        json_reply(&serde_json::json!({ "cgroup_id": id }))
    }
}

/// A stream fed by a task, ending when the task returns or the client goes away.
fn async_stream<F, Fut>(f: F) -> EventStream
where
    F: FnOnce(tokio::sync::mpsc::Sender<Result<EventLine, Status>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(256);
    tokio::spawn(f(tx));
    Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))
}

/// Binds `socket` (replacing a stale one) and serves in a background task.
pub async fn serve(socket: PathBuf, shared: Arc<Shared>) -> Result<JoinHandle<()>> {
    if let Some(dir) = socket.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    if socket.exists() {
        // a live agent answers; refuse to steal its socket
        if super::client::connect(&socket).await.is_ok() {
            anyhow::bail!("another agent is serving {}", socket.display());
        }
        std::fs::remove_file(&socket)?;
    }
    let listener =
        UnixListener::bind(&socket).with_context(|| format!("binding {}", socket.display()))?;
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o600))?;
    let svc = PalisadeServer::new(Api { shared });
    Ok(tokio::spawn(async move {
        if let Err(e) = tonic::transport::Server::builder()
            .add_service(svc)
            .serve_with_incoming(UnixListenerStream::new(listener))
            .await
        {
            tracing::error!("api server stopped: {e}");
        }
    }))
}
