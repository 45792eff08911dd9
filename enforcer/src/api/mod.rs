//! The local API: gRPC over a root-only unix socket.

pub mod client;
pub mod server;

/// Generated protobuf/gRPC code.
#[allow(missing_docs, clippy::all, clippy::clone_on_ref_ptr)]
pub mod pb {
    tonic::include_proto!("palisade.v1");
}

/// Default socket path.
pub const DEFAULT_SOCKET: &str = "/run/palisade/palisade.sock";
