//! Shared helpers for the end-to-end tests in `tests/`.
pub mod cri;

pub mod agent;
pub mod cgroup;
pub mod lab;
