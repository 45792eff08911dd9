//! Events: the exported model, rendering from kernel records, output formats and sinks.

pub mod clock;
pub mod compact;
pub mod export;
pub mod filter;
pub mod lsm;
pub mod model;
pub mod pending;
pub mod render;
