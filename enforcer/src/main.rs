//! `palisade`: container-aware runtime security agent and its CLI.

use std::path::PathBuf;

use palisade::{
    agent, api, cli_events, cli_oci_hook, cli_policy, cli_status, config, detect, events, run,
};

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
    #[arg(long, global = true, env = "PALISADE_LOG")]
    log: Option<String>,
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
    /// Configuration file (TOML; keys are these flags' long names with `_`); flags win.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(flatten)]
    detect: detect::DetectArgs,
    /// Write events as JSON lines to standard output.
    #[arg(long, conflicts_with = "export_file")]
    export_stdout: bool,
    /// Write events as JSON lines to FILE, rotated by size.
    #[arg(long, value_name = "FILE")]
    export_file: Option<PathBuf>,
    /// Rotate the export file when it exceeds this many MiB.
    /// [default: 100]
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    export_file_max_mib: Option<u64>,
    /// Rotated export files kept.
    /// [default: 5]
    #[arg(long, value_parser = clap::value_parser!(u32).range(0..=1000))]
    export_file_keep: Option<u32>,
    /// Node name put in every event (default: hostname).
    #[arg(long)]
    node_name: Option<String>,
    /// Directory of policy YAML files loaded at start.
    #[arg(long, value_name = "DIR")]
    policy_dir: Option<PathBuf>,
    /// containerd NRI socket to register with; `none` disables NRI [default: /var/run/nri/nri.sock].
    #[arg(long, value_name = "PATH")]
    nri_socket: Option<PathBuf>,
    /// bpffs directory where programs, links and maps are pinned so that observation,
    /// enforcement and the fail-closed guard outlive the agent (a new agent adopts them with no
    /// gap; PALISADE_ENFORCE_MIGRATE=1 forces re-creating the enforcement maps, as an upgrade
    /// that changed them does); `none` pins nothing [default: /sys/fs/bpf/palisade].
    #[arg(long, value_name = "DIR")]
    bpf_pin_dir: Option<PathBuf>,
    /// Serve Prometheus metrics on ADDR (e.g. 127.0.0.1:9567) at /metrics.
    #[arg(long, value_name = "ADDR")]
    metrics_addr: Option<std::net::SocketAddr>,
    /// Do not protect palisade's BPF objects, pins and process from contained processes.
    #[arg(long)]
    no_self_protect: bool,
    /// While the NRI plugin is down (agent dead or disconnected), execs in unregistered
    /// container cgroups are refused (`deny`), reported (`audit`) or let through (`off`).
    /// [default: audit]
    #[arg(long, value_enum, value_name = "MODE")]
    fail_closed: Option<palisade::guard::Mode>,
    /// A container tree (cgroup v2 directory, absolute or relative to the cgroup2 mount)
    /// guarded by --fail-closed; repeatable. kubepods trees and the trees of containers seen
    /// over NRI are guarded without it.
    #[arg(long, value_name = "PATH")]
    guard_cgroup: Vec<PathBuf>,
}

fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|_| "info".into());
    // logs go to stderr: stdout belongs to events
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    // the agent's config file may set the log filter; the flag (or PALISADE_LOG) wins
    let config_log = match &cli.command {
        Command::Agent(AgentArgs {
            config: Some(p), ..
        }) => config::load(p).ok().and_then(|c| c.log),
        _ => None,
    };
    init_logging(
        cli.log
            .as_deref()
            .or(config_log.as_deref())
            .unwrap_or("info"),
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let code = rt.block_on(dispatch(cli))?;
    std::process::exit(code)
}

async fn dispatch(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::Agent(a) => {
            let c = match &a.config {
                Some(p) => config::load(p)?,
                None => config::AgentConfig::default(),
            };
            let export =
                if a.export_stdout || (a.export_file.is_none() && c.export_stdout == Some(true)) {
                    Some(events::export::Sink::Stdout)
                } else {
                    a.export_file
                        .or(c.export_file)
                        .map(|path| events::export::Sink::File {
                            path,
                            max_bytes: a
                                .export_file_max_mib
                                .or(c.export_file_max_mib)
                                .unwrap_or(100)
                                << 20,
                            keep: a.export_file_keep.or(c.export_file_keep).unwrap_or(5),
                        })
                };
            let none = |p: PathBuf| (p.as_os_str() != "none").then_some(p);
            agent::run(agent::AgentOptions {
                node_name: a.node_name.or(c.node_name).unwrap_or_else(agent::hostname),
                export,
                api_socket: cli.socket,
                policy_dir: a.policy_dir.or(c.policy_dir),
                nri_socket: none(
                    a.nri_socket
                        .or(c.nri_socket)
                        .unwrap_or_else(|| "/var/run/nri/nri.sock".into()),
                ),
                metrics_addr: a.metrics_addr.or(c.metrics_addr),
                pin_dir: none(
                    a.bpf_pin_dir
                        .or(c.bpf_pin_dir)
                        .unwrap_or_else(|| "/sys/fs/bpf/palisade".into()),
                ),
                detect: a.detect,
                self_protect: !(a.no_self_protect || c.no_self_protect == Some(true)),
                guard: palisade::guard::GuardOptions {
                    mode: a.fail_closed.or(c.fail_closed).unwrap_or_default(),
                    roots: if a.guard_cgroup.is_empty() {
                        c.guard_cgroup.unwrap_or_default()
                    } else {
                        a.guard_cgroup
                    },
                },
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
