//! Policies: the validated model, the YAML front end (palisade `Policy` and imported Tetragon
//! `TracingPolicy` documents), `palisade policy check`, and the policy store (directories plus
//! the built-in library from `policies/`).
//!
//! Entry points: `check::check_cmd` (`palisade policy check`), `store::resolve` (`--policy
//! NAME|FILE`), `store::load_dir` (`--policy-dir`), `parse::parse_policy_file` /
//! `parse_policy_str` / `parse_policies_str` / `parse_documents_str` (files of either format),
//! `tetragon::import_tracing_policy_str` (Tetragon-only input).

pub mod check;
pub mod demo;
pub mod error;
pub mod model;
pub mod parse;
pub mod render;
pub mod store;
pub mod tetragon;
mod yaml;

pub use store::resolve;

#[cfg(test)]
mod parse_tests;
#[cfg(test)]
mod tetragon_tests;
