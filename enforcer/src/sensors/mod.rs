//! BPF sensors owned by the agent (observability; enforcement lives in `enforce`).

pub mod process;
