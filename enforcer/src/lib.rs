//! palisade as a library: the agent, enforcement, policies and events, used by the `palisade`
//! binary (src/main.rs) and by the fuzz targets.

pub mod agent;
pub mod api;
pub mod cli_events;
pub mod cli_oci_hook;
pub mod cli_policy;
pub mod cli_status;
pub mod config;
pub mod containers;
pub mod detect;
pub mod enforce;
pub mod engine;
pub mod events;
pub mod guard;
pub mod kernel;
pub mod metrics;
pub mod policy;
pub mod process;
pub mod protect;
pub mod run;
pub mod runtime;
pub mod sensors;
