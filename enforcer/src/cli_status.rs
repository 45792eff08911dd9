//! `palisade status`: asks the agent, or reports the kernel alone when no agent runs.

use std::path::Path;

use anyhow::Result;
use serde_json::Value;

use crate::{api, kernel};

/// `palisade status` flags.
#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    /// Output format: `text` or `json`.
    #[arg(short, long, default_value = "text", value_parser = ["text", "json"])]
    output: String,
}

/// Prints the status; exit code 0 with an agent, 3 without one (kernel facts still printed).
pub async fn run(socket: &Path, a: StatusArgs) -> Result<i32> {
    let (status, code) = match api::client::connect(socket).await {
        Ok(mut c) => {
            let json = c.status(api::pb::Empty {}).await?.into_inner().json;
            (serde_json::from_str::<Value>(&json)?, 0)
        }
        Err(e) => {
            eprintln!("palisade: {e:#}; showing kernel facts only");
            (
                serde_json::json!({ "agent": "not running", "kernel": kernel::probe() }),
                3,
            )
        }
    };
    if a.output == "json" {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        print!("{}", render_text(&status));
    }
    Ok(code)
}

fn yes(v: &Value) -> &'static str {
    if v.as_bool().unwrap_or(false) {
        "yes"
    } else {
        "no"
    }
}

/// Human-readable status.
fn render_text(s: &Value) -> String {
    let k = &s["kernel"];
    let mut out = String::new();
    let mut line = |l: String| {
        out.push_str(&l);
        out.push('\n');
    };
    line(format!(
        "kernel          {}",
        k["release"].as_str().unwrap_or("?")
    ));
    line(format!("BTF             {}", yes(&k["btf"])));
    line(format!(
        "LSMs            {}",
        joined(&k["lsm_list"], ",", "(unknown)")
    ));
    line(format!("bpf LSM active  {}", yes(&k["bpf_lsm_active"])));
    line(format!("kprobes         {}", yes(&k["kprobes"])));
    if let Some(cg) = k.get("cgroup").filter(|c| !c.is_null()) {
        line(format!(
            "cgroup2         {} ({})",
            cg["cgroup2_root"].as_str().unwrap_or("?"),
            cg["mode"].as_str().unwrap_or("?")
        ));
    } else {
        line("cgroup2         not mounted".into());
    }
    if let Some(e) = s.get("enforcement").filter(|e| !e.is_null()) {
        let file = e["file"].as_str().unwrap_or("?");
        let how = match file {
            "bpf_lsm" | "fmod_ret" => "inline deny: the operation never happens",
            "tracepoint_sigkill" => "SIGKILL after the fact: the operation is NOT prevented",
            _ => "file and exec rules are NOT enforced",
        };
        line(format!("file/exec       {file} ({how})"));
        line(format!(
            "network         {}",
            if e["network_cgroup"].as_bool().unwrap_or(false) {
                "cgroup_sock_addr (inline deny)"
            } else {
                "NOT enforced"
            }
        ));
        let hooks: Vec<&str> = e["hooks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        line(format!("hooks           {}", hooks.join(" ")));
        for n in e["notes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            line(format!("  note: {n}"));
        }
        line(format!("policies        {}", s["policies"]));
        // enforcement persistence (pinned under the pin dir, adopted across agent restarts)
        line(crate::enforce::persist_status_line(e));
        if let Some(c) = s.get("enforcement_counters").filter(|c| !c.is_null()) {
            line(format!("decisions       {c}"));
        }
    } else if let Some(err) = s.get("enforcement_error").and_then(Value::as_str) {
        line(format!("enforcement     UNAVAILABLE: {err}"));
    }
    if s.get("agent").and_then(Value::as_str) == Some("not running") {
        line("agent           not running".into());
        return out;
    }
    line(crate::protect::status_line(&s["self_protection"]));
    if let Some(g) = s.get("guard").filter(|g| !g.is_null()) {
        render_guard(g, &mut line);
    }
    let kc = &s["kernel_counters"];
    line(format!(
        "events          {} (kernel records {})",
        s["events"], kc["events"]
    ));
    line(format!(
        "drops           ring buffer {}, export {}, undecodable {}",
        kc["ringbuf_drops"], s["export_dropped"], s["decode_errors"]
    ));
    let pc = &s["process_cache"];
    line(format!(
        "processes       {} live (max {}), {} exited kept, {} evicted, {} reaped",
        pc["live"], s["process_cache_max_live"], pc["exited"], pc["evicted"], pc["reaped"]
    ));
    line(format!(
        "containers      {} (NRI {})",
        s["containers"],
        s["nri"].as_str().unwrap_or("?")
    ));
    line(format!(
        "identity        {} events waiting, {} exported without identity after {} s",
        s["events_awaiting_identity"],
        s["identity_timeouts"],
        crate::events::pending::HOLD.as_secs()
    ));
    out
}

/// The fail-closed guard's lines.
fn render_guard(g: &Value, line: &mut impl FnMut(String)) {
    let mode = g["mode"].as_str().unwrap_or("?");
    if let Some(e) = g.get("error").and_then(Value::as_str) {
        line(format!("fail-closed     UNAVAILABLE: {e}"));
        return;
    }
    if mode == "off" {
        line("fail-closed     off (a dropped NRI plugin leaves new containers unguarded)".into());
        return;
    }
    let how = if g["prevents"].as_bool().unwrap_or(false) {
        "exec refused inline"
    } else {
        "new image SIGKILLed before its first instruction; the exec is NOT refused"
    };
    line(format!(
        "fail-closed     {mode}, {} ({} : {how}){}",
        if g["active"].as_bool().unwrap_or(false) {
            "ACTIVE (plugin down: unregistered containers guarded)"
        } else {
            "armed when the plugin goes down"
        },
        g["mechanism"].as_str().unwrap_or("?"),
        if g["pinned"].as_bool().unwrap_or(false) {
            ""
        } else {
            "; NOT pinned: does not outlive the agent"
        }
    ));
    line(format!(
        "guard roots     {}",
        joined(
            &g["roots"],
            " ",
            "(none yet: the trees of NRI containers are added as they register)"
        )
    ));
    for m in g["missing_roots"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        line(format!("  note: guard root {m} does not exist (yet)"));
    }
    line(format!(
        "guard counts    {} known cgroups, {} denied, {} audited, {} killed, {} records lost, agent exits {}",
        g["known"], g["denied"], g["audited"], g["killed"], g["ringbuf_drops"], g["agent_exits"]
    ));
}

/// The strings of a JSON array joined by `sep`, or `empty` when there are none.
fn joined(v: &Value, sep: &str, empty: &str) -> String {
    let items: Vec<&str> = v
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if items.is_empty() {
        empty.to_owned()
    } else {
        items.join(sep)
    }
}
