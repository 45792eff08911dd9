//! The OCI runtime state document a runtime passes on a hook's stdin (runtime-spec `state`):
//! read by `palisade oci-hook` for CRI-O / podman `hooks.d`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OciStatus {
    Creating,
    Created,
    Running,
    Stopped,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OciState {
    pub oci_version: String,
    pub id: String,
    pub status: OciStatus,
    /// Host pid of the container process in the runtime-namespace stages (prestart,
    /// createRuntime, poststart); absent once stopped; 1 in createContainer (container pid ns).
    pub pid: Option<u32>,
    pub bundle: PathBuf,
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum OciStateError {
    #[error("OCI state is not valid JSON of the expected shape: {0}")]
    Json(#[from] serde_json::Error),
    #[error("OCI state: field {0} is empty")]
    Empty(&'static str),
    #[error("OCI state: bundle {0:?} is not an absolute path")]
    RelativeBundle(PathBuf),
    #[error("OCI state: status {0:?} requires a pid")]
    MissingPid(OciStatus),
    #[error("OCI state: pid 0 is not a process")]
    ZeroPid,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Wire {
    oci_version: String,
    id: String,
    status: OciStatus,
    pid: Option<u32>,
    bundle: PathBuf,
    #[serde(default)]
    annotations: Option<BTreeMap<String, String>>,
}

/// Parses and checks a state document. Unknown fields are allowed (the spec lets runtimes add
/// their own); required ones must be present and meaningful.
pub fn parse_oci_state(json: &[u8]) -> Result<OciState, OciStateError> {
    let w: Wire = serde_json::from_slice(json)?;
    if w.oci_version.is_empty() {
        return Err(OciStateError::Empty("ociVersion"));
    }
    if w.id.is_empty() {
        return Err(OciStateError::Empty("id"));
    }
    if !w.bundle.is_absolute() {
        return Err(OciStateError::RelativeBundle(w.bundle));
    }
    match (w.status, w.pid) {
        (_, Some(0)) => return Err(OciStateError::ZeroPid),
        (s @ (OciStatus::Created | OciStatus::Running), None) => {
            return Err(OciStateError::MissingPid(s))
        }
        _ => {}
    }
    Ok(OciState {
        oci_version: w.oci_version,
        id: w.id,
        status: w.status,
        pid: w.pid,
        bundle: w.bundle,
        annotations: w.annotations.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_podman_create_runtime_state() {
        let s = parse_oci_state(
            br#"{"ociVersion":"1.0.2-dev","id":"3f2a","status":"creating","pid":4242,
                 "bundle":"/var/lib/containers/storage/overlay-containers/3f2a/userdata",
                 "annotations":{"palisade.dev/policies":"protect-etc","io.podman.annotations.autoremove":"FALSE"},
                 "extra":{"ignored":true}}"#,
        )
        .unwrap();
        assert_eq!(s.id, "3f2a");
        assert_eq!(s.status, OciStatus::Creating);
        assert_eq!(s.pid, Some(4242));
        assert_eq!(s.annotations["palisade.dev/policies"], "protect-etc");
    }

    #[test]
    fn stopped_state_has_no_pid_and_annotations_are_optional() {
        let s =
            parse_oci_state(br#"{"ociVersion":"1.0.2","id":"x","status":"stopped","bundle":"/b"}"#)
                .unwrap();
        assert_eq!((s.pid, s.annotations.len()), (None, 0));
    }

    #[test]
    fn rejects_bad_documents() {
        let bad: [(&[u8], &str); 8] = [
            (b"", "Json"),
            (b"[]", "Json"),
            (
                br#"{"ociVersion":"1","id":"x","status":"paused","pid":1,"bundle":"/b"}"#,
                "Json",
            ),
            (
                br#"{"ociVersion":"1","id":"x","status":"running","bundle":"/b"}"#,
                "MissingPid",
            ),
            (
                br#"{"ociVersion":"1","id":"x","status":"running","pid":0,"bundle":"/b"}"#,
                "ZeroPid",
            ),
            (
                br#"{"ociVersion":"1","id":"","status":"creating","pid":1,"bundle":"/b"}"#,
                "Empty",
            ),
            (
                br#"{"ociVersion":"1","id":"x","status":"creating","pid":1,"bundle":"rel"}"#,
                "RelativeBundle",
            ),
            (
                br#"{"ociVersion":"1","id":"x","status":"creating","pid":-1,"bundle":"/b"}"#,
                "Json",
            ),
        ];
        for (doc, want) in bad {
            let err = parse_oci_state(doc).unwrap_err();
            assert!(
                format!("{err:?}").starts_with(want),
                "{}: {err:?}",
                String::from_utf8_lossy(doc)
            );
        }
    }
}
