//! `palisade`: container-aware runtime security agent and its CLI.


use std::path::PathBuf;

use palisade::{agent, api, cli_events, cli_oci_hook, cli_policy, cli_status, detect, events, run};

use anyhow::Result;
use clap::{Parser, Subcommand};

/// Container-aware runtime security: observe processes and enforce policies inline with BPF LSM.
#[derive(Parser, Debug)]
#[command(name = "palisade", version, about, propagate_version = true)]
struct Cli {
    /// Local API socket of the agent.
    #[arg(long, global = true, env = "PALISADE_SOCKET", default_value = api::DEFAULT_SOCKET)]
    socket: PathBuf,
    /// Log filter (tracing env-filter syntax), e.g. `debug` or `palisade=trace`.
    #[arg(long, global = true, env = "PALISADE_LOG", default_value = "info")]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the agent: load BPF, track processes and containers, export events, serve the API.
    Agent(AgentArgs),
    /// Stream events from the running agent.
    Events(cli_events::EventsArgs),
    /// Show what the kernel allows, enforcement mechanisms, tracked containers and drops.
    Status(cli_status::StatusArgs),
    /// Manage and validate policies.
    #[command(subcommand)]
    Policy(cli_policy::PolicyCmd),
    /// OCI runtime hook for CRI-O/podman hooks.d: reads the OCI state on stdin, registers the
    /// container with the agent and returns once its policies are in the kernel.
    OciHook(cli_oci_hook::OciHookArgs),
    /// Run CMD in a fresh cgroup with a policy enforced on it (standalone: no agent needed).
    Run(run::RunArgs),
}

#[derive(clap::Args, Debug)]
struct AgentArgs {
    #[command(flatten)]
    detect: detect::DetectArgs,
    /// Write events as JSON lines to standard output.
    #[arg(long, conflicts_with = "export_file")]
    export_stdout: bool,
    /// Write events as JSON lines to FILE, rotated by size.
    #[arg(long, value_name = "FILE")]
    export_file: Option<PathBuf>,
    /// Rotate the export file when it exceeds this many MiB.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    export_file_max_mib: u64,
    /// Rotated export files kept.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(0..=1000))]
    export_file_keep: u32,
    /// Node name put in every event (default: hostname).
    #[arg(long)]
    node_name: Option<PathBuf>,
    /// Directory of policy YAML files loaded at start.
    #[arg(long, value_name = "DIR")]
    policy_dir: Option<PathBuf>,
    /// containerd NRI socket to register with; `none` disables NRI.
    #[arg(long, value_name = "PATH", default_value = "/var/run/nri/nri.sock")]
    nri_socket: PathBuf,
    /// bpffs directory where programs, links and maps are pinned so that observation (and
    /// enforcement) outlive the agent; `none` pins nothing.
    #[arg(long, value_name = "DIR", default_value = "/sys/fs/bpf/palisade")]
    bpf_pin_dir: PathBuf,
    /// Serve Prometheus metrics on ADDR (e.g. 127.0.0.1:9567) at /metrics.
    #[arg(long, value_name = "ADDR")]
    metrics_addr: Option<std::net::SocketAddr>,
}

fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|_| "info".into());
    // logs go to stderr: stdout belongs to events
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    init_logging(&cli.log);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let code = rt.block_on(dispatch(cli))?;
    std::process::exit(code)
}

async fn dispatch(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::Agent(a) => {
            let export = if a.export_stdout {
                Some(events::export::Sink::Stdout)
            } else {
                a.export_file.map(|path| events::export::Sink::File {
                    path,
                    max_bytes: a.export_file_max_mib << 20,
                    keep: a.export_file_keep,
                })
            };
            agent::run(agent::AgentOptions {
                node_name: a.node_name.map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(agent::hostname),
                export,
                api_socket: cli.socket,
                policy_dir: a.policy_dir,
                nri_socket: (a.nri_socket.as_os_str() != "none").then_some(a.nri_socket),
                metrics_addr: a.metrics_addr,
                pin_dir: (a.bpf_pin_dir.as_os_str() != "none").then_some(a.bpf_pin_dir),
                detect: a.detect,
            })
            .await?;
            Ok(0)
        }
        Command::Events(a) => cli_events::run(&cli.socket, a).await,
        Command::Status(a) => cli_status::run(&cli.socket, a).await,
        Command::Policy(c) => cli_policy::run(&cli.socket, c).await,
        Command::OciHook(a) => cli_oci_hook::run(&cli.socket, a).await,
        Command::Run(a) => tokio::task::spawn_blocking(move || run::run(a)).await?,
    }
}
