//! Container runtime integration for palisade, with no BPF inside: the NRI protocol (the
//! connection multiplexer, ttrpc framing, NRI v0.6.1 messages), the plugin lifecycle
//! ([`run_plugin`] calling a [`ContainerHandler`]), per-container policy annotations
//! ([`policy_binding`]), cgroup resolution ([`cgroup_dir`]) and OCI hook state
//! ([`parse_oci_state`]).
//!
//! Timing guarantee with containerd 1.7: NRI StartContainer arrives after `runc create` (the
//! init process exists in the container cgroup, blocked before exec'ing the entrypoint) and
//! containerd runs the entrypoint only after the plugin replied, so whatever
//! [`ContainerHandler::start_container`] does is in place before the container's first
//! instruction.

pub mod api;
mod binding;
mod cgroup;
mod container;
mod error;
pub mod mux;
mod oci;
mod plugin;
mod session;
pub mod ttrpc;

pub use binding::{
    policy_binding, BindingError, Mode, PolicyBinding, MODE_ANNOTATION, POLICIES_ANNOTATION,
};
pub use cgroup::{cgroup2_mount, cgroup_dir, cgroup_id};
pub use container::{ConnectionState, ContainerHandler, ContainerInfo, ContainerState, PodInfo};
pub use error::{MuxError, NriError, TtrpcError};
pub use oci::{parse_oci_state, OciState, OciStateError, OciStatus};
pub use plugin::{run_plugin, Backoff, Endpoint, PluginConfig, DEFAULT_SOCKET};
pub use session::EVENT_MASK;

/// Re-exported so handler implementations need no direct dependency.
pub use async_trait::async_trait;
