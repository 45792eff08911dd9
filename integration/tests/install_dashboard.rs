//! The Grafana dashboard shipped in `install/grafana/palisade-dashboard.json`: well-formed, laid
//! out on Grafana's 24-column grid, and querying only metrics (and labels) that a real
//! `palisade agent --metrics-addr` serves.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use palisade_integration::agent::{require_root, Agent};
use serde_json::Value;

const DASHBOARD: &str = include_str!("../../install/grafana/palisade-dashboard.json");

/// The metric families the agent exposes and the dashboard must show, each at least once.
const METRICS: [&str; 10] = [
    "palisade_events_total",
    "palisade_enforcement_actions_total",
    "palisade_ringbuf_drops_total",
    "palisade_export_drops_total",
    "palisade_decode_errors_total",
    "palisade_containers_tracked",
    "palisade_processes_tracked",
    "palisade_bpf_map_entries",
    "palisade_bpf_map_capacity",
    "palisade_nri_handler_seconds",
];

fn dashboard() -> Value {
    serde_json::from_str(DASHBOARD).expect("palisade-dashboard.json is not valid JSON")
}

/// (panel title, expr) of every query.
fn queries(d: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for p in d["panels"].as_array().expect("panels") {
        for t in p["targets"].as_array().into_iter().flatten() {
            let title = p["title"].as_str().unwrap_or_default().to_owned();
            out.push((
                title,
                t["expr"].as_str().expect("target without expr").to_owned(),
            ));
        }
    }
    out
}

/// The `palisade_*` names an expression reads, histogram series suffixes folded into the family.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = expr;
    while let Some(at) = rest.find("palisade_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        let name = &tail[..end];
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| *f == "palisade_nri_handler_seconds")
            })
            .unwrap_or(name);
        names.insert(family.to_owned());
        rest = &tail[end..];
    }
    names
}

/// Label names in `by (...)` clauses of an expression.
fn grouping_labels(expr: &str) -> BTreeSet<String> {
    let mut labels = BTreeSet::new();
    for part in expr.split("by (").skip(1) {
        let inner = part.split(')').next().unwrap_or_default();
        labels.extend(
            inner
                .split(',')
                .map(|l| l.trim().to_owned())
                .filter(|l| !l.is_empty()),
        );
    }
    labels
}

#[test]
fn dashboard_is_well_formed_and_queries_every_metric() {
    let d = dashboard();
    assert_eq!(d["uid"], "palisade-overview");
    assert!(
        d["schemaVersion"].as_u64().unwrap_or(0) >= 36,
        "schemaVersion"
    );
    let vars: Vec<&str> = d["templating"]["list"]
        .as_array()
        .expect("templating")
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect();
    assert_eq!(vars, ["datasource", "instance"]);

    // ids unique, every panel inside the 24-column grid, no two panels overlapping
    let panels = d["panels"].as_array().expect("panels");
    let mut ids = BTreeSet::new();
    let mut boxes = Vec::new();
    for p in panels {
        assert!(
            ids.insert(p["id"].as_u64().expect("panel id")),
            "duplicate panel id {}",
            p["id"]
        );
        let g = &p["gridPos"];
        let [x, y, w, h] = ["x", "y", "w", "h"].map(|k| g[k].as_u64().expect("gridPos"));
        assert!(
            w >= 1 && h >= 1 && x + w <= 24,
            "{} outside the grid: {g}",
            p["title"]
        );
        boxes.push((p["title"].to_string(), x, y, w, h));
        if p["type"] != "row" {
            assert_eq!(
                p["datasource"]["uid"], "${datasource}",
                "{} datasource",
                p["title"]
            );
            assert!(
                !p["targets"].as_array().expect("targets").is_empty(),
                "{} has no query",
                p["title"]
            );
            assert!(
                p["description"].as_str().is_some_and(|s| s.len() > 20),
                "{} undocumented",
                p["title"]
            );
        }
    }
    for (i, a) in boxes.iter().enumerate() {
        for b in &boxes[i + 1..] {
            let apart =
                a.1 + a.3 <= b.1 || b.1 + b.3 <= a.1 || a.2 + a.4 <= b.2 || b.2 + b.4 <= a.2;
            assert!(apart, "panels {} and {} overlap", a.0, b.0);
        }
    }

    let qs = queries(&d);
    let mut used = BTreeSet::new();
    for (title, expr) in &qs {
        assert_eq!(
            expr.matches('(').count(),
            expr.matches(')').count(),
            "{title}: unbalanced {expr}"
        );
        assert_eq!(
            expr.matches("palisade_").count(),
            expr.matches("{instance=~\"$instance\"}").count(),
            "{title}: every selector must filter on the node variable: {expr}"
        );
        used.extend(metric_names(expr));
    }
    let want: BTreeSet<String> = METRICS.iter().map(|m| (*m).to_owned()).collect();
    assert_eq!(used, want, "metrics queried vs metrics exported");

    let all: Vec<&str> = qs.iter().map(|(_, e)| e.as_str()).collect();
    let has = |needle: &str| all.iter().any(|e| e.contains(needle));
    assert!(
        has("sum by (type) (rate(palisade_events_total"),
        "events by type"
    );
    assert!(
        has("sum by (policy, action, mechanism) (rate(palisade_enforcement_actions_total"),
        "actions"
    );
    assert!(
        has("histogram_quantile(0.99, sum by (le) (rate(palisade_nri_handler_seconds_bucket"),
        "NRI p99"
    );
    assert!(
        has("palisade_bpf_map_entries{instance=~\"$instance\"} / palisade_bpf_map_capacity"),
        "map fill ratio"
    );
}

/// Families and the label names seen on their samples, from a Prometheus text exposition.
fn exposition(text: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut fams: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let name = rest.split_whitespace().next().unwrap_or_default();
            fams.entry(name.to_owned()).or_default();
        } else if !line.starts_with('#') && !line.is_empty() {
            let name_end = line.find(['{', ' ']).unwrap_or(line.len());
            let family = metric_names(&line[..name_end])
                .into_iter()
                .next()
                .unwrap_or_default();
            if let (Some(open), Some(close)) = (line.find('{'), line.rfind('}')) {
                let labels = fams.entry(family).or_default();
                for pair in line[open + 1..close].split("\",") {
                    if let Some((k, _)) = pair.split_once('=') {
                        labels.insert(k.trim().to_owned());
                    }
                }
            }
        }
    }
    fams
}

fn scrape(addr: &str) -> Result<String> {
    let out = Command::new("curl")
        .args(["-sSf", "--max-time", "5", &format!("http://{addr}/metrics")])
        .output()
        .context("running curl (install/build-deps.sh installs it)")?;
    ensure!(
        out.status.success(),
        "curl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8(out.stdout)?)
}

#[test]
fn dashboard_metrics_exist_in_a_running_agent() -> Result<()> {
    require_root();
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let addr = format!("127.0.0.1:{port}");
    let agent = Agent::start(&["--metrics-addr", &addr])?;
    // some exec events, so that labelled series exist
    let deadline = Instant::now() + Duration::from_secs(15);
    let text = loop {
        Command::new("/bin/true").status()?;
        let text = scrape(&addr)?;
        if text
            .lines()
            .any(|l| l.starts_with("palisade_events_total{type="))
        {
            break text;
        }
        if Instant::now() > deadline {
            bail!("no event counted within 15 s; /metrics said:\n{text}");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    agent.stop()?;

    let fams = exposition(&text);
    let d = dashboard();
    for (title, expr) in queries(&d) {
        for m in metric_names(&expr) {
            let labels = fams
                .get(&m)
                .with_context(|| format!("{title}: {m} is not served by the agent"))?;
            // Prometheus adds `instance` at scrape time; `le` is the histogram's own label.
            // Labels can only be checked where the agent already has samples.
            if !labels.is_empty() {
                for l in grouping_labels(&expr) {
                    ensure!(
                        l == "instance" || labels.contains(&l),
                        "{title}: groups {m} by `{l}`, but its samples carry {labels:?}"
                    );
                }
            }
        }
    }
    Ok(())
}
