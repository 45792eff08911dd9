//! What the fuzz targets share: palisade's policy module, and the NRI request decoding the plugin
//! session performs, so that `nri_stream` (whole trunk) and `nri_message` (one payload) run the
//! same code past the framing.

/// `palisade::policy`, built from its source: it depends on nothing else in the agent, and
/// building the agent with fuzzing instrumentation costs minutes of CI per run (see Cargo.toml).
#[path = "../../enforcer/src/policy/mod.rs"]
#[allow(dead_code)]
pub mod policy;

use palisade_nri::{api, policy_binding, ContainerInfo, PodInfo};
use prost::Message;

/// Methods of the Plugin service the session decodes a payload for (session.rs `dispatch`).
pub const PLUGIN_METHODS: [&str; 7] = [
    "Configure",
    "Synchronize",
    "StateChange",
    "StopContainer",
    "CreateContainer",
    "UpdateContainer",
    "Shutdown",
];

/// Decodes `payload` as the session does for `method`, then derives what the agent reads from
/// each container: its identity and its policy binding (annotations). Malformed input must end
/// in a decode error or a binding error, never a panic.
pub fn plugin_request(method: &str, payload: &[u8]) {
    match method {
        "Configure" => {
            let _ = api::ConfigureRequest::decode(payload);
        }
        "Synchronize" => {
            if let Ok(r) = api::SynchronizeRequest::decode(payload) {
                for c in &r.containers {
                    let pod = r.pods.iter().find(|p| p.id == c.pod_sandbox_id);
                    container(pod, c);
                }
            }
        }
        "StateChange" => {
            if let Ok(ev) = api::StateChangeEvent::decode(payload) {
                let _ = api::Event::try_from(ev.event);
                if let Some(p) = &ev.pod {
                    let _ = PodInfo::from(p);
                }
                if let Some(c) = &ev.container {
                    container(ev.pod.as_ref(), c);
                }
            }
        }
        "StopContainer" => {
            if let Ok(r) = api::StopContainerRequest::decode(payload) {
                if let Some(c) = &r.container {
                    container(r.pod.as_ref(), c);
                }
            }
        }
        "CreateContainer" => {
            let _ = api::CreateContainerRequest::decode(payload);
        }
        "UpdateContainer" => {
            let _ = api::UpdateContainerRequest::decode(payload);
        }
        "Shutdown" => {
            let _ = api::Empty::decode(payload);
        }
        _ => {}
    }
}

fn container(pod: Option<&api::PodSandbox>, c: &api::Container) {
    let info = ContainerInfo::from_nri(pod, c);
    if let Ok(b) = policy_binding(&info) {
        // A binding names at least one policy exactly when the annotation is present.
        assert_eq!(
            b.policies.is_empty(),
            !info
                .annotations
                .contains_key(palisade_nri::POLICIES_ANNOTATION),
            "{info:?} -> {b:?}"
        );
    }
}
