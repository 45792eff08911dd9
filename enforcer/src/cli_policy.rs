//! `palisade policy add|list|delete|check`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::Value;

use crate::api;

/// `palisade policy` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum PolicyCmd {
    /// Validate policy files (palisade Policy or Tetragon TracingPolicy) with file:line:col
    /// errors; loads nothing and needs no agent.
    Check {
        /// Print results as JSON.
        #[arg(long)]
        json: bool,
        /// Files to check.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Add (or replace) policies in the running agent; atomic per call: all or none.
    Add {
        /// Policy files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// List the agent's policies.
    List {
        /// Output format: `text` or `json`.
        #[arg(short, long, default_value = "text", value_parser = ["text", "json"])]
        output: String,
    },
    /// Delete a policy from the agent (refused while containers are bound to it).
    Delete {
        /// Policy name.
        name: String,
    },
}

/// Runs a policy subcommand; returns the exit code.
pub async fn run(socket: &Path, cmd: PolicyCmd) -> Result<i32> {
    match cmd {
        PolicyCmd::Check { json, files } => Ok(if crate::policy::check::check_cmd(&files, json)? {
            0
        } else {
            1
        }),
        PolicyCmd::Add { files } => {
            // validate every file locally first so a typo in the second file adds nothing
            let mut docs = Vec::new();
            for f in &files {
                let text = std::fs::read_to_string(f)
                    .with_context(|| format!("reading {}", f.display()))?;
                if let Err(e) =
                    crate::policy::parse::parse_policies_str(&text, &f.display().to_string())
                {
                    eprintln!("{e}");
                    return Ok(1);
                }
                docs.push((f.display().to_string(), text));
            }
            let mut c = api::client::connect(socket).await?;
            for (file, yaml) in docs {
                let r = c
                    .add_policy(api::pb::AddPolicyRequest {
                        yaml,
                        file: file.clone(),
                    })
                    .await;
                match r {
                    Ok(r) => {
                        let v: Value = serde_json::from_str(&r.into_inner().json)?;
                        for n in v["added"].as_array().into_iter().flatten() {
                            println!("added {} ({file})", n.as_str().unwrap_or("?"));
                        }
                    }
                    Err(s) => {
                        eprintln!("palisade: {file}: {}", s.message());
                        return Ok(1);
                    }
                }
            }
            Ok(0)
        }
        PolicyCmd::List { output } => {
            let mut c = api::client::connect(socket).await?;
            let json = match c.list_policies(api::pb::Empty {}).await {
                Ok(r) => r.into_inner().json,
                Err(s) => {
                    eprintln!("palisade: {}", s.message());
                    return Ok(1);
                }
            };
            if output == "json" {
                println!("{json}");
                return Ok(0);
            }
            let v: Value = serde_json::from_str(&json)?;
            println!(
                "{:<28} {:<8} {:>5} {:>6}  SOURCE",
                "NAME", "MODE", "RULES", "BOUND"
            );
            for p in v.as_array().into_iter().flatten() {
                println!(
                    "{:<28} {:<8} {:>5} {:>6}  {}",
                    p["name"].as_str().unwrap_or(""),
                    p["mode"].as_str().unwrap_or(""),
                    p["rules"],
                    p["bound_cgroups"],
                    p["source"].as_str().unwrap_or("")
                );
            }
            Ok(0)
        }
        PolicyCmd::Delete { name } => {
            let mut c = api::client::connect(socket).await?;
            match c
                .delete_policy(api::pb::DeletePolicyRequest { name: name.clone() })
                .await
            {
                Ok(_) => {
                    println!("deleted {name}");
                    Ok(0)
                }
                Err(s) => {
                    eprintln!("palisade: {}", s.message());
                    Ok(1)
                }
            }
        }
    }
}
