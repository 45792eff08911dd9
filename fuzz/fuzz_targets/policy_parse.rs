//! Policy files as `palisade policy check`, `--policy FILE` and `--policy-dir` read them:
//! palisade `Policy` and Tetragon `TracingPolicy` YAML, one or several documents. Every outcome
//! is either policies that survive a render/parse round trip or located errors.
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_fuzz::policy::{
    error::PolicyErrors,
    parse::{parse_documents_str, parse_policies_str, parse_policy_str},
    render::to_yaml,
    tetragon::import_tracing_policy_str,
};

const FILE: &str = "fuzz.yaml";

fn located(e: &PolicyErrors) {
    assert!(!e.0.is_empty(), "an error result without a diagnostic");
    for d in &e.0 {
        assert!(d.to_string().starts_with(FILE), "{d}");
        assert!(!d.message.is_empty());
    }
}

fuzz_target!(|data: &[u8]| {
    // Files that are not UTF-8 are refused when read, before any parser runs.
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let all = parse_documents_str(src, FILE);
    match &all {
        Ok(parsed) => {
            for doc in &parsed.documents {
                let rendered = to_yaml(&doc.policy);
                match parse_policy_str(&rendered, "rendered.yaml") {
                    Ok(again) => assert_eq!(again, doc.policy, "round trip of\n{rendered}"),
                    Err(e) => panic!("rendering does not parse: {e}\n{rendered}"),
                }
            }
        }
        Err(e) => located(e),
    }
    let many = parse_policies_str(src, FILE);
    assert_eq!(many.is_ok(), all.is_ok());
    match parse_policy_str(src, FILE) {
        Ok(p) => assert_eq!(all.map(|a| a.documents.len()).ok(), Some(1), "{p:?}"),
        Err(e) => located(&e),
    }
    if let Err(e) = import_tracing_policy_str(src, FILE) {
        located(&e);
    }
});
