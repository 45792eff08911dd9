//! Process lifecycle: decoding kernel records, the bounded process cache, capability names.

pub mod cache;
pub mod caps;
pub mod procfs;
pub mod record;
