//! `palisade policy check FILE|DIR...`: validate policy files and load nothing.

use std::{
    io::Write,
    path::{Path, PathBuf},
};

use serde_json::json;

use super::{
    model::{Mode, Policy},
    parse::{self, parse_documents_str, Document},
    render,
};

/// Checks every file (directories: every `*.yaml`/`*.yml` below them). Text mode prints one
/// `FILE: ok: ...` line per policy on stdout and compiler-style diagnostics on stderr; `json`
/// prints one JSON object per file on stdout. Returns whether every file is valid; the caller
/// turns `false` into a non-zero exit status.
pub fn check_cmd(paths: &[PathBuf], json: bool) -> anyhow::Result<bool> {
    let mut files = Vec::new();
    for p in paths {
        expand(p, &mut files)?;
    }
    let mut all_ok = true;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for file in &files {
        let result = parse::read(file).and_then(|(src, shown)| parse_documents_str(&src, &shown));
        let shown = file.display().to_string();
        match result {
            Ok(parsed) => {
                if json {
                    let docs: Vec<_> = parsed.documents.iter().map(doc_json).collect();
                    writeln!(
                        out,
                        "{}",
                        json!({"file": shown, "ok": true, "policies": docs, "errors": [], "warnings": parsed.warnings})
                    )?;
                } else {
                    for w in &parsed.warnings {
                        eprintln!("{w}");
                    }
                    for d in &parsed.documents {
                        writeln!(out, "{shown}: ok: {}", summary(d))?;
                        if d.origin == parse::Origin::Tetragon {
                            // Show what the import became, so nothing about it is hidden.
                            writeln!(out, "# translated to:")?;
                            write!(out, "{}", render::to_yaml(&d.policy))?;
                        }
                    }
                }
            }
            Err(errors) => {
                all_ok = false;
                if json {
                    writeln!(
                        out,
                        "{}",
                        json!({"file": shown, "ok": false, "policies": [], "errors": errors.0, "warnings": []})
                    )?;
                } else {
                    eprintln!("{errors}");
                    let n = errors.0.len();
                    eprintln!("{shown}: {n} error{}", if n == 1 { "" } else { "s" });
                }
            }
        }
    }
    Ok(all_ok)
}

fn expand(path: &Path, files: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    if !path.is_dir() {
        files.push(path.to_owned());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for e in entries {
        if e.is_dir() {
            expand(&e, files)?;
        } else if matches!(e.extension().and_then(|x| x.to_str()), Some("yaml" | "yml")) {
            files.push(e);
        }
    }
    Ok(())
}

/// `protect-etc (palisade, enforce, 1 rule)`.
fn summary(d: &Document) -> String {
    let p: &Policy = &d.policy;
    let origin = match d.origin {
        parse::Origin::Palisade => "palisade",
        parse::Origin::Tetragon => "imported from Tetragon",
    };
    let mode = match p.mode {
        Mode::Enforce => "enforce",
        Mode::Audit => "audit",
    };
    let n = p.rules.len();
    let default = match p.default_action {
        Some(a) => format!(", default {}", a.as_str()),
        None => String::new(),
    };
    format!(
        "{} ({origin}, {mode}{default}, {n} rule{})",
        p.name,
        if n == 1 { "" } else { "s" }
    )
}

fn doc_json(d: &Document) -> serde_json::Value {
    let p = &d.policy;
    let rules: Vec<_> = p
        .rules
        .iter()
        .map(|r| {
            json!({
                "name": r.name,
                "operations": r.operations.iter().map(|o| o.as_str()).collect::<Vec<_>>(),
                "paths": {"exact": r.paths.exact, "prefix": r.paths.prefix, "suffix": r.paths.suffix},
                "binaries": {"exact": r.binaries.exact, "prefix": r.binaries.prefix, "suffix": r.binaries.suffix},
                "uids": r.uids,
                "destinations": r.destinations.iter().map(render::destination).collect::<Vec<_>>(),
                "action": r.action.as_str(),
            })
        })
        .collect();
    json!({
        "name": p.name,
        "description": p.description,
        "origin": d.origin,
        "line": d.pos.line,
        "mode": match p.mode { Mode::Enforce => "enforce", Mode::Audit => "audit" },
        "defaultAction": p.default_action.map(|a| a.as_str()),
        "selector": {
            "cgroups": p.selector.cgroups,
            "containers": p.selector.containers,
            "namespaces": p.selector.namespaces,
            "podLabels": p.selector.pod_labels.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
        },
        "rules": rules,
        "demo": d.demo,
    })
}
