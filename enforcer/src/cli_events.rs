//! `palisade events`: stream events from the agent, filtered, as JSON or compact lines.

use std::{io::Write, path::Path};

use anyhow::Result;

use crate::{api, events::compact};

/// Output format.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Output {
    /// One JSON object per line (Tetragon-compatible field names).
    Json,
    /// One human line per event (`tetra getevents -o compact` style).
    Compact,
}

/// `palisade events` flags.
#[derive(clap::Args, Debug)]
pub struct EventsArgs {
    /// Output format.
    #[arg(short, long, value_enum, default_value = "json")]
    output: Output,
    /// Only events from pods in these namespaces.
    #[arg(short, long = "namespace")]
    namespace: Vec<String>,
    /// Only events from these pods.
    #[arg(long = "pod")]
    pod: Vec<String>,
    /// Only events from these containers (by name).
    #[arg(long = "container")]
    container: Vec<String>,
    /// Only these event types (PROCESS_EXEC, PROCESS_EXIT, PROCESS_LSM), comma separated.
    #[arg(short, long = "event-types", value_delimiter = ',')]
    event_types: Vec<String>,
}

/// Streams until the agent stops or stdout closes.
pub async fn run(socket: &Path, a: EventsArgs) -> Result<i32> {
    let mut client = api::client::connect(socket).await?;
    let mut stream = client
        .get_events(api::pb::GetEventsRequest {
            namespaces: a.namespace,
            pods: a.pod,
            containers: a.container,
            event_types: a.event_types,
        })
        .await?
        .into_inner();
    let stdout = std::io::stdout();
    while let Some(line) = stream.message().await? {
        if line.lost > 0 {
            eprintln!(
                "palisade: {} events lost: this reader was too slow",
                line.lost
            );
            continue;
        }
        let text = match a.output {
            Output::Json => Some(line.json),
            Output::Compact => serde_json::from_str(&line.json)
                .ok()
                .and_then(|v| compact::format(&v)),
        };
        if let Some(t) = text {
            let mut out = stdout.lock();
            if writeln!(out, "{t}").and_then(|()| out.flush()).is_err() {
                return Ok(0); // reader went away (e.g. `| head`)
            }
        }
    }
    Ok(0)
}
