//! The OCI runtime state `palisade oci-hook` reads on stdin (CRI-O / podman hooks.d): arbitrary
//! bytes give a typed error or a state that keeps the parser's promises.
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_nri::{parse_oci_state, OciStatus};

fuzz_target!(|data: &[u8]| {
    let Ok(state) = parse_oci_state(data) else {
        return;
    };
    // What the parser promises to everything downstream.
    assert!(!state.oci_version.is_empty() && !state.id.is_empty());
    assert!(state.bundle.is_absolute());
    assert_ne!(state.pid, Some(0));
    if matches!(state.status, OciStatus::Created | OciStatus::Running) {
        assert!(state.pid.is_some());
    }
});
