//! NRI v0.6.1 protocol messages (`nri.pkg.api.v1alpha1`), written from the documented field
//! numbers. Only the messages and fields palisade reads or sends are declared: protobuf decoding
//! skips unknown fields, so the rest of each runtime message (mounts, hooks, resources, ...) is
//! accepted and ignored, and fields added by later NRI versions stay compatible.

use std::collections::HashMap;

/// ttrpc service names and methods used on the two multiplexed connections.
pub const PLUGIN_SERVICE: &str = "nri.pkg.api.v1alpha1.Plugin";
pub const RUNTIME_SERVICE: &str = "nri.pkg.api.v1alpha1.Runtime";

#[derive(Clone, PartialEq, prost::Message)]
pub struct Empty {}

#[derive(Clone, PartialEq, prost::Message)]
pub struct RegisterPluginRequest {
    #[prost(string, tag = "1")]
    pub plugin_name: String,
    #[prost(string, tag = "2")]
    pub plugin_idx: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ConfigureRequest {
    /// Drop-in configuration for pre-installed plugins, empty for external ones.
    #[prost(string, tag = "1")]
    pub config: String,
    #[prost(string, tag = "2")]
    pub runtime_name: String,
    #[prost(string, tag = "3")]
    pub runtime_version: String,
    /// NRI 0.7+ only (milliseconds); zero from containerd 1.7.24.
    #[prost(int64, tag = "4")]
    pub registration_timeout: i64,
    #[prost(int64, tag = "5")]
    pub request_timeout: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ConfigureResponse {
    /// Event subscription mask; field 2 on purpose (there is no field 1 in the protocol).
    #[prost(int32, tag = "2")]
    pub events: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct SynchronizeRequest {
    #[prost(message, repeated, tag = "1")]
    pub pods: Vec<PodSandbox>,
    #[prost(message, repeated, tag = "2")]
    pub containers: Vec<Container>,
    /// NRI 0.7+ split sync: more parts follow. Always false from NRI 0.6.1.
    #[prost(bool, tag = "3")]
    pub more: bool,
}

/// palisade never asks the runtime for updates, so field 1 (`update`) is never set.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SynchronizeResponse {
    /// Must echo `more = true` for every split-sync part that is not the last.
    #[prost(bool, tag = "2")]
    pub more: bool,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct CreateContainerRequest {
    #[prost(message, optional, tag = "1")]
    pub pod: Option<PodSandbox>,
    #[prost(message, optional, tag = "2")]
    pub container: Option<Container>,
}

/// No adjustment, no updates, no evictions: all fields left unset.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CreateContainerResponse {}

#[derive(Clone, PartialEq, prost::Message)]
pub struct UpdateContainerRequest {
    #[prost(message, optional, tag = "1")]
    pub pod: Option<PodSandbox>,
    #[prost(message, optional, tag = "2")]
    pub container: Option<Container>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct UpdateContainerResponse {}

#[derive(Clone, PartialEq, prost::Message)]
pub struct StopContainerRequest {
    #[prost(message, optional, tag = "1")]
    pub pod: Option<PodSandbox>,
    #[prost(message, optional, tag = "2")]
    pub container: Option<Container>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct StopContainerResponse {}

#[derive(Clone, PartialEq, prost::Message)]
pub struct StateChangeEvent {
    #[prost(enumeration = "Event", tag = "1")]
    pub event: i32,
    #[prost(message, optional, tag = "2")]
    pub pod: Option<PodSandbox>,
    #[prost(message, optional, tag = "3")]
    pub container: Option<Container>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum Event {
    Unknown = 0,
    RunPodSandbox = 1,
    StopPodSandbox = 2,
    RemovePodSandbox = 3,
    CreateContainer = 4,
    PostCreateContainer = 5,
    StartContainer = 6,
    PostStartContainer = 7,
    UpdateContainer = 8,
    PostUpdateContainer = 9,
    StopContainer = 10,
    RemoveContainer = 11,
}

impl Event {
    /// Subscription bit of this event in `ConfigureResponse.events`.
    pub const fn mask(self) -> i32 {
        match self {
            Event::Unknown => 0,
            e => 1 << (e as i32 - 1),
        }
    }
}

/// Every bit the runtime accepts in a subscription mask (NRI 0.6.1: events 1..=11).
pub const VALID_EVENTS: i32 = 0x7ff;

#[derive(Clone, PartialEq, prost::Message)]
pub struct PodSandbox {
    #[prost(string, tag = "1")]
    pub id: String,
    #[prost(string, tag = "2")]
    pub name: String,
    #[prost(string, tag = "3")]
    pub uid: String,
    #[prost(string, tag = "4")]
    pub namespace: String,
    #[prost(map = "string, string", tag = "5")]
    pub labels: HashMap<String, String>,
    #[prost(map = "string, string", tag = "6")]
    pub annotations: HashMap<String, String>,
    #[prost(string, tag = "7")]
    pub runtime_handler: String,
    #[prost(message, optional, tag = "8")]
    pub linux: Option<LinuxPodSandbox>,
    #[prost(uint32, tag = "9")]
    pub pid: u32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct LinuxPodSandbox {
    #[prost(string, tag = "3")]
    pub cgroup_parent: String,
    #[prost(string, tag = "4")]
    pub cgroups_path: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Container {
    #[prost(string, tag = "1")]
    pub id: String,
    #[prost(string, tag = "2")]
    pub pod_sandbox_id: String,
    #[prost(string, tag = "3")]
    pub name: String,
    #[prost(enumeration = "ContainerState", tag = "4")]
    pub state: i32,
    #[prost(map = "string, string", tag = "5")]
    pub labels: HashMap<String, String>,
    #[prost(map = "string, string", tag = "6")]
    pub annotations: HashMap<String, String>,
    #[prost(string, repeated, tag = "7")]
    pub args: Vec<String>,
    #[prost(message, optional, tag = "11")]
    pub linux: Option<LinuxContainer>,
    /// Host pid of the container's init process (0 before the task exists).
    #[prost(uint32, tag = "12")]
    pub pid: u32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct LinuxContainer {
    #[prost(string, tag = "5")]
    pub cgroups_path: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum ContainerState {
    Unknown = 0,
    Created = 1,
    Paused = 2,
    Running = 3,
    Stopped = 4,
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn event_masks_match_the_protocol_table() {
        assert_eq!(Event::RunPodSandbox.mask(), 0x001);
        assert_eq!(Event::StartContainer.mask(), 0x020);
        assert_eq!(Event::StopContainer.mask(), 0x200);
        assert_eq!(Event::RemoveContainer.mask(), 0x400);
        assert_eq!(Event::Unknown.mask(), 0);
    }

    #[test]
    fn configure_response_uses_field_two() {
        // tag 2, varint => key byte 0x10; 0x627 as varint = a7 0c
        let bytes = ConfigureResponse { events: 0x627 }.encode_to_vec();
        assert_eq!(bytes, [0x10, 0xa7, 0x0c]);
    }

    #[test]
    fn container_decodes_and_skips_fields_it_does_not_declare() {
        // field 9 (mounts: a message) and 13 (rlimits) are unknown to us and must be skipped.
        let mut raw = Container {
            id: "c1".into(),
            name: "app".into(),
            pid: 42,
            linux: Some(LinuxContainer {
                cgroups_path: "/k8s.io/c1".into(),
            }),
            ..Default::default()
        }
        .encode_to_vec();
        raw.extend_from_slice(&[0x4a, 0x03, 0x0a, 0x01, b'/']); // 9: Mount{1: "/"}
        raw.extend_from_slice(&[0x6a, 0x00]); // 13: empty message
        let c = Container::decode(raw.as_slice()).unwrap();
        assert_eq!(c.id, "c1");
        assert_eq!(c.pid, 42);
        assert_eq!(c.linux.unwrap().cgroups_path, "/k8s.io/c1");
    }
}
