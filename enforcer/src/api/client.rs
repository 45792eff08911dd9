//! API client over the unix socket.

use std::path::Path;

use anyhow::{Context, Result};
use hyper_util::rt::TokioIo;
use tonic::transport::{Channel, Endpoint, Uri};

use super::pb::palisade_client::PalisadeClient;

/// Connects to the agent at `socket`.
pub async fn connect(socket: &Path) -> Result<PalisadeClient<Channel>> {
    let path = socket.to_path_buf();
    // the URI is required by tonic but unused: the connector dials the socket
    let ch = Endpoint::try_from("http://[::]:50051")?
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let path = path.clone();
            async move {
                Ok::<_, std::io::Error>(TokioIo::new(tokio::net::UnixStream::connect(path).await?))
            }
        }))
        .await
        .with_context(|| {
            format!(
                "connecting to the palisade agent at {} (is `palisade agent` running?)",
                socket.display()
            )
        })?;
    Ok(PalisadeClient::new(ch).max_decoding_message_size(64 << 20))
}
