//! Policy -> palisade YAML. Shows what a Tetragon import became (`palisade policy check
//! --show`), and backs the round-trip tests: parsing the rendering gives the same policy.

use std::fmt::Write;

use super::{
    model::{Destination, Mode, PathMatch, Policy},
    parse::{API_VERSION, KIND},
};

/// The policy as a palisade `Policy` document.
pub fn to_yaml(p: &Policy) -> String {
    let mut s = String::new();
    // Writing to a String cannot fail.
    let _ = write_policy(&mut s, p);
    s
}

fn write_policy(s: &mut String, p: &Policy) -> std::fmt::Result {
    writeln!(
        s,
        "apiVersion: {API_VERSION}\nkind: {KIND}\nmetadata:\n  name: {}",
        p.name
    )?;
    if !p.description.is_empty() {
        writeln!(s, "  description: {}", quote(&p.description))?;
    }
    writeln!(s, "spec:")?;
    writeln!(
        s,
        "  mode: {}",
        if p.mode == Mode::Audit {
            "audit"
        } else {
            "enforce"
        }
    )?;
    if let Some(a) = p.default_action {
        writeln!(s, "  defaultAction: {}", a.as_str())?;
    }
    let sel = &p.selector;
    if !(sel.cgroups.is_empty()
        && sel.containers.is_empty()
        && sel.namespaces.is_empty()
        && sel.pod_labels.is_empty())
    {
        writeln!(s, "  selector:")?;
        for (key, list) in [
            ("cgroups", &sel.cgroups),
            ("containers", &sel.containers),
            ("namespaces", &sel.namespaces),
        ] {
            if !list.is_empty() {
                writeln!(s, "    {key}: {}", flow(list))?;
            }
        }
        if !sel.pod_labels.is_empty() {
            let pairs: Vec<String> = sel
                .pod_labels
                .iter()
                .map(|(k, v)| format!("{}: {}", quote(k), quote(v)))
                .collect();
            writeln!(s, "    podLabels: {{{}}}", pairs.join(", "))?;
        }
    }
    writeln!(s, "  rules:")?;
    for r in &p.rules {
        writeln!(s, "    - name: {}", r.name)?;
        let ops: Vec<&str> = r.operations.iter().map(|o| o.as_str()).collect();
        writeln!(s, "      operations: [{}]", ops.join(", "))?;
        write_match(s, "paths", &r.paths)?;
        write_match(s, "binaries", &r.binaries)?;
        if !r.uids.is_empty() {
            let uids: Vec<String> = r.uids.iter().map(u32::to_string).collect();
            writeln!(s, "      uids: [{}]", uids.join(", "))?;
        }
        if let Some(n) = &r.ns_pids {
            let pids: Vec<String> = n.values.iter().map(u32::to_string).collect();
            let op = if n.negate { "NotIn" } else { "In" };
            writeln!(
                s,
                "      nsPids: {{operator: {op}, values: [{}]}}",
                pids.join(", ")
            )?;
        }
        if !r.destinations.is_empty() {
            let d: Vec<String> = r.destinations.iter().map(destination).collect();
            writeln!(s, "      destinations: {}", flow(&d))?;
        }
        writeln!(s, "      action: {}", r.action.as_str())?;
    }
    Ok(())
}

fn write_match(s: &mut String, key: &str, m: &PathMatch) -> std::fmt::Result {
    if m.is_empty() {
        return Ok(());
    }
    writeln!(s, "      {key}:")?;
    for (k, list) in [
        ("exact", &m.exact),
        ("prefix", &m.prefix),
        ("suffix", &m.suffix),
    ] {
        if !list.is_empty() {
            writeln!(s, "        {k}: {}", flow(list))?;
        }
    }
    Ok(())
}

/// The destination in the syntax the parser reads.
pub fn destination(d: &Destination) -> String {
    let full = if d.addr.is_ipv4() { 32 } else { 128 };
    match (d.addr.is_ipv4(), d.port) {
        (true, None) if d.prefix_len == full => d.addr.to_string(),
        (true, None) => format!("{}/{}", d.addr, d.prefix_len),
        (true, Some(p)) => format!("{}/{}:{p}", d.addr, d.prefix_len),
        (false, None) => format!("{}/{}", d.addr, d.prefix_len),
        (false, Some(p)) => format!("[{}]/{}:{p}", d.addr, d.prefix_len),
    }
}

fn flow(items: &[String]) -> String {
    let q: Vec<String> = items.iter().map(|i| quote(i)).collect();
    format!("[{}]", q.join(", "))
}

/// A double-quoted YAML string (always quoted, so no value is read as another type).
fn quote(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 2);
    out.push('"');
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
