//! Per-container policy selection from annotations:
//! `palisade.dev/policies: "a,b"` and `palisade.dev/mode: enforce|audit`, on the pod or the
//! container. Each key is looked up in [`ContainerInfo::annotations`], where a container
//! annotation overrides the pod's key by key (so a container can change the mode alone).

use crate::container::ContainerInfo;

pub const POLICIES_ANNOTATION: &str = "palisade.dev/policies";
pub const MODE_ANNOTATION: &str = "palisade.dev/mode";
const MAX_NAME_LEN: usize = 253;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Deny inline (the default when no mode annotation is present).
    Enforce,
    /// Report what would have been denied, deny nothing.
    Audit,
}

/// The policies a container is bound to. No `palisade.dev/policies` annotation gives an empty
/// list (the container is tracked for events but no container-scoped policy applies).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyBinding {
    pub policies: Vec<String>,
    pub mode: Mode,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BindingError {
    #[error("annotation {POLICIES_ANNOTATION} is empty; remove it or name at least one policy")]
    NoPolicies,
    #[error("annotation {POLICIES_ANNOTATION}={value:?} has an empty policy name at position {position}")]
    EmptyName { value: String, position: usize },
    #[error("annotation {POLICIES_ANNOTATION}: invalid policy name {name:?} (use letters, digits, '.', '_', '-'; at most 253 characters)")]
    InvalidName { name: String },
    #[error("annotation {POLICIES_ANNOTATION}: policy {name:?} is listed twice")]
    DuplicateName { name: String },
    #[error("annotation {MODE_ANNOTATION}={value:?}: expected \"enforce\" or \"audit\"")]
    BadMode { value: String },
}

/// Reads the binding of `c`. Names are checked for syntax only; whether they name loaded
/// policies is the agent's decision.
pub fn policy_binding(c: &ContainerInfo) -> Result<PolicyBinding, BindingError> {
    let mode = match c.annotations.get(MODE_ANNOTATION).map(|v| v.trim()) {
        None | Some("enforce") => Mode::Enforce,
        Some("audit") => Mode::Audit,
        Some(other) => {
            return Err(BindingError::BadMode {
                value: other.to_owned(),
            })
        }
    };
    let Some(value) = c.annotations.get(POLICIES_ANNOTATION) else {
        return Ok(PolicyBinding {
            policies: Vec::new(),
            mode,
        });
    };
    if value.trim().is_empty() {
        return Err(BindingError::NoPolicies);
    }
    let mut policies: Vec<String> = Vec::new();
    for (position, name) in value.split(',').map(str::trim).enumerate() {
        if name.is_empty() {
            return Err(BindingError::EmptyName {
                value: value.clone(),
                position,
            });
        }
        let valid = name.len() <= MAX_NAME_LEN
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !valid {
            return Err(BindingError::InvalidName {
                name: name.to_owned(),
            });
        }
        if policies.iter().any(|p| p == name) {
            return Err(BindingError::DuplicateName {
                name: name.to_owned(),
            });
        }
        policies.push(name.to_owned());
    }
    Ok(PolicyBinding { policies, mode })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api;
    use std::collections::HashMap;

    fn info(pod: &[(&str, &str)], ctr: &[(&str, &str)]) -> ContainerInfo {
        let m = |kv: &[(&str, &str)]| {
            kv.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<HashMap<_, _>>()
        };
        let pod = api::PodSandbox {
            annotations: m(pod),
            ..Default::default()
        };
        let c = api::Container {
            annotations: m(ctr),
            ..Default::default()
        };
        ContainerInfo::from_nri(Some(&pod), &c)
    }

    #[test]
    fn no_annotations_means_no_policies_enforce() {
        assert_eq!(
            policy_binding(&info(&[], &[])).unwrap(),
            PolicyBinding {
                policies: vec![],
                mode: Mode::Enforce
            }
        );
    }

    #[test]
    fn pod_annotations_apply_and_container_wins_per_key() {
        let pod = [(POLICIES_ANNOTATION, "a, b"), (MODE_ANNOTATION, "audit")];
        let b = policy_binding(&info(&pod, &[])).unwrap();
        assert_eq!(
            (b.policies, b.mode),
            (vec!["a".to_string(), "b".to_string()], Mode::Audit)
        );
        let b = policy_binding(&info(&pod, &[(POLICIES_ANNOTATION, "c")])).unwrap();
        assert_eq!((b.policies, b.mode), (vec!["c".to_string()], Mode::Audit));
        let b = policy_binding(&info(&pod, &[(MODE_ANNOTATION, "enforce")])).unwrap();
        assert_eq!((b.policies.len(), b.mode), (2, Mode::Enforce));
    }

    #[test]
    fn errors_are_specific() {
        let cases = [
            ((POLICIES_ANNOTATION, " "), BindingError::NoPolicies),
            (
                (POLICIES_ANNOTATION, "a,,b"),
                BindingError::EmptyName {
                    value: "a,,b".into(),
                    position: 1,
                },
            ),
            (
                (POLICIES_ANNOTATION, "a,"),
                BindingError::EmptyName {
                    value: "a,".into(),
                    position: 1,
                },
            ),
            (
                (POLICIES_ANNOTATION, "a b"),
                BindingError::InvalidName { name: "a b".into() },
            ),
            (
                (POLICIES_ANNOTATION, "x/y"),
                BindingError::InvalidName { name: "x/y".into() },
            ),
            (
                (POLICIES_ANNOTATION, "a,a"),
                BindingError::DuplicateName { name: "a".into() },
            ),
            (
                (MODE_ANNOTATION, "Enforce"),
                BindingError::BadMode {
                    value: "Enforce".into(),
                },
            ),
            (
                (MODE_ANNOTATION, ""),
                BindingError::BadMode { value: "".into() },
            ),
        ];
        for ((k, v), want) in cases {
            assert_eq!(
                policy_binding(&info(&[], &[(k, v)])).unwrap_err(),
                want,
                "{k}={v:?}"
            );
        }
        let long = "p".repeat(254);
        assert!(matches!(
            policy_binding(&info(&[(POLICIES_ANNOTATION, &long)], &[])),
            Err(BindingError::InvalidName { .. })
        ));
    }
}
