//! A small YAML document tree in which every node, mapping keys included, keeps its position, so
//! that every semantic error can point at the offending node. Built from `saphyr-parser` events.
//!
//! Policy files need none of YAML's graph features: anchors, aliases and tags are rejected with a
//! located error rather than expanded (expansion is also how "billion laughs" inputs blow up).

use std::collections::hash_map::{Entry, HashMap};

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

use super::error::{Pos, Sink};

/// A node and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Start of the node (for a block mapping: its first key).
    pub pos: Pos,
    /// Content.
    pub value: Value,
}

/// Node content.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A scalar; `plain` is false for quoted and block scalars, which are always strings.
    Scalar { text: String, plain: bool },
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in file order (duplicate keys were already reported).
    Map(Vec<(Node, Node)>),
}

/// What a scalar means under the YAML 1.2 core schema.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scalar<'a> {
    /// `~`, `null`, empty.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer (decimal, `0x`, `0o`).
    Int(i128),
    /// A float.
    Float,
    /// Anything else, and every quoted scalar.
    Str(&'a str),
}

impl Node {
    /// The core-schema reading of a scalar, `None` for collections.
    pub fn scalar(&self) -> Option<Scalar<'_>> {
        let Value::Scalar { text, plain } = &self.value else {
            return None;
        };
        if !plain {
            return Some(Scalar::Str(text));
        }
        Some(match text.as_str() {
            "" | "~" | "null" | "Null" | "NULL" => Scalar::Null,
            "true" | "True" | "TRUE" => Scalar::Bool(true),
            "false" | "False" | "FALSE" => Scalar::Bool(false),
            t => match parse_int(t) {
                Some(i) => Scalar::Int(i),
                None if is_float(t) => Scalar::Float,
                None => Scalar::Str(t),
            },
        })
    }

    /// Human name of the node's type, for "expected X, found Y" messages.
    pub fn kind(&self) -> &'static str {
        match &self.value {
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
            Value::Scalar { .. } => match self.scalar() {
                Some(Scalar::Null) => "null",
                Some(Scalar::Bool(_)) => "a boolean",
                Some(Scalar::Int(_)) => "an integer",
                Some(Scalar::Float) => "a number",
                _ => "a string",
            },
        }
    }

    /// True for an explicit or implicit null.
    pub fn is_null(&self) -> bool {
        matches!(self.scalar(), Some(Scalar::Null))
    }

    /// The string of a string scalar; reports "expected a string" otherwise.
    pub fn str<'a>(&'a self, sink: &mut Sink, what: &str) -> Option<&'a str> {
        match self.scalar() {
            Some(Scalar::Str(s)) => Some(s),
            _ => {
                sink.error(
                    self.pos,
                    format!("{what}: expected a string, found {}", self.kind()),
                );
                None
            }
        }
    }

    /// A boolean scalar; reports otherwise.
    pub fn bool(&self, sink: &mut Sink, what: &str) -> Option<bool> {
        match self.scalar() {
            Some(Scalar::Bool(b)) => Some(b),
            _ => {
                sink.error(
                    self.pos,
                    format!("{what}: expected true or false, found {}", self.kind()),
                );
                None
            }
        }
    }

    /// An integer scalar; reports otherwise.
    pub fn int(&self, sink: &mut Sink, what: &str) -> Option<i128> {
        match (self.scalar(), &self.value) {
            (Some(Scalar::Int(i)), _) => Some(i),
            // Integer syntax beyond i128 is not an integer to `parse_int`; say so rather than
            // "found a number".
            (Some(Scalar::Float), Value::Scalar { text, .. }) if is_decimal_integer(text) => {
                sink.error(self.pos, format!("{what}: {text} is too large"));
                None
            }
            _ => {
                sink.error(
                    self.pos,
                    format!("{what}: expected an integer, found {}", self.kind()),
                );
                None
            }
        }
    }

    /// The items of a list; reports otherwise.
    pub fn seq<'a>(&'a self, sink: &mut Sink, what: &str) -> Option<&'a [Node]> {
        match &self.value {
            Value::Seq(items) => Some(items),
            _ => {
                sink.error(
                    self.pos,
                    format!("{what}: expected a list, found {}", self.kind()),
                );
                None
            }
        }
    }

    /// A mapping's entries; reports otherwise. A null is read as an empty mapping (`selector:`).
    pub fn map<'a>(&'a self, sink: &mut Sink, what: &str) -> Option<&'a [(Node, Node)]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ if self.is_null() => Some(&[]),
            _ => {
                sink.error(
                    self.pos,
                    format!("{what}: expected a mapping, found {}", self.kind()),
                );
                None
            }
        }
    }

    /// The items of a list of strings, each with its node; non-strings are reported.
    pub fn str_list<'a>(&'a self, sink: &mut Sink, what: &str) -> Vec<(&'a Node, &'a str)> {
        let Some(items) = self.seq(sink, what) else {
            return Vec::new();
        };
        items
            .iter()
            .filter_map(|n| n.str(sink, what).map(|s| (n, s)))
            .collect()
    }
}

/// Reads a mapping against a fixed set of keys: unknown keys are errors (with a did-you-mean),
/// keys must be strings.
pub struct Fields<'a> {
    entries: Vec<(&'a str, &'a Node, &'a Node)>,
    /// Position of the mapping, for "missing key" errors.
    pub pos: Pos,
}

impl<'a> Fields<'a> {
    /// Checks the keys of `node` (a mapping) against `known`. `what` names the mapping in messages.
    pub fn new(node: &'a Node, known: &[&str], sink: &mut Sink, what: &str) -> Option<Self> {
        let entries = node.map(sink, what)?;
        let mut out = Vec::with_capacity(entries.len());
        for (k, v) in entries {
            let Some(Scalar::Str(name)) = k.scalar() else {
                sink.error(
                    k.pos,
                    format!("{what}: keys must be strings, found {}", k.kind()),
                );
                continue;
            };
            if known.contains(&name) {
                out.push((name, k, v));
            } else {
                let hint = super::error::expected_one_of(name, known);
                sink.error(k.pos, format!("unknown key \"{name}\" in {what} ({hint})"));
            }
        }
        Some(Self {
            entries: out,
            pos: node.pos,
        })
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&'a Node> {
        self.entries
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|(_, _, v)| *v)
    }

    /// The key node of `key`, if present (errors about the key's presence point here).
    pub fn key(&self, key: &str) -> Option<&'a Node> {
        self.entries
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|(_, k, _)| *k)
    }

    /// The value of a required key; reports it missing at the mapping.
    pub fn require(&self, key: &str, sink: &mut Sink, what: &str) -> Option<&'a Node> {
        let v = self.get(key);
        if v.is_none() {
            sink.error(self.pos, format!("{what}: missing required key \"{key}\""));
        }
        v
    }
}

/// Parses every document of a YAML stream. A syntax error ends parsing (YAML cannot be
/// resynchronised reliably) and is reported at its position; documents before it are returned.
pub fn load(src: &str, sink: &mut Sink) -> Vec<Node> {
    let mut parser = Parser::new_from_str(src);
    let mut docs = Vec::new();
    // Open collections: (start position, items or alternating key/value nodes, is_map).
    let mut stack: Vec<(Pos, Vec<Node>, bool)> = Vec::new();
    let mut root: Option<Node> = None;
    loop {
        let (event, span) = match parser.next_event() {
            None => break,
            Some(Ok(ev)) => ev,
            Some(Err(e)) => {
                let m = e.marker();
                sink.error(
                    Pos {
                        line: m.line().max(1),
                        col: m.col() + 1,
                    },
                    format!("YAML syntax: {}", e.info()),
                );
                return docs;
            }
        };
        let pos = start(&span);
        let node = match event {
            Event::StreamEnd => break,
            Event::DocumentStart(_) | Event::Nothing | Event::StreamStart => continue,
            Event::DocumentEnd => {
                if let Some(n) = root.take() {
                    docs.push(n);
                }
                continue;
            }
            Event::Alias(_) => {
                sink.error(
                    pos,
                    "YAML aliases (*name) are not supported in policy files; write the value out",
                );
                return docs;
            }
            Event::Scalar(text, style, anchor, tag) => {
                if !check_plain_node(anchor, tag.is_some(), pos, sink) {
                    return docs;
                }
                Node {
                    pos,
                    value: Value::Scalar {
                        text: text.into_owned(),
                        plain: style == ScalarStyle::Plain,
                    },
                }
            }
            Event::SequenceStart(anchor, ref tag) | Event::MappingStart(anchor, ref tag) => {
                if !check_plain_node(anchor, tag.is_some(), pos, sink) {
                    return docs;
                }
                let is_map = matches!(event, Event::MappingStart(..));
                stack.push((pos, Vec::new(), is_map));
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some((pos, items, is_map)) = stack.pop() else {
                    continue;
                };
                let value = if is_map {
                    Value::Map(pair_up(items, sink))
                } else {
                    Value::Seq(items)
                };
                Node { pos, value }
            }
        };
        match stack.last_mut() {
            Some((_, items, _)) => items.push(node),
            None => root = Some(node),
        }
    }
    if let Some(n) = root.take() {
        docs.push(n);
    }
    docs
}

fn start(span: &Span) -> Pos {
    Pos {
        line: span.start.line().max(1),
        col: span.start.col() + 1,
    }
}

fn check_plain_node(anchor: usize, tagged: bool, pos: Pos, sink: &mut Sink) -> bool {
    if anchor != 0 {
        sink.error(
            pos,
            "YAML anchors (&name) are not supported in policy files; write the value out",
        );
        return false;
    }
    if tagged {
        sink.error(pos, "YAML tags (!tag) are not supported in policy files");
        return false;
    }
    true
}

/// Turns the flat key, value, key, value... list of a mapping into pairs, reporting duplicate keys
/// (most YAML loaders keep the last one silently, which hides mistakes).
///
/// Keys are looked up in a hash map: comparing each key with every earlier one made a 1 MB file
/// of 100,000 keys take a minute to check. Only scalar keys are compared; collection keys (legal
/// YAML) are never valid in a policy and are reported as such where the mapping is read.
fn pair_up(items: Vec<Node>, sink: &mut Sink) -> Vec<(Node, Node)> {
    let mut pairs: Vec<(Node, Node)> = Vec::with_capacity(items.len() / 2);
    let mut first_line: HashMap<(String, bool), usize> = HashMap::new();
    let mut it = items.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        if let Value::Scalar { text, plain } = &k.value {
            match first_line.entry((text.clone(), *plain)) {
                Entry::Occupied(first) => {
                    sink.error(
                        k.pos,
                        format!("duplicate key \"{text}\" (first at line {})", first.get()),
                    );
                    continue;
                }
                Entry::Vacant(e) => {
                    e.insert(k.pos.line);
                }
            }
        }
        pairs.push((k, v));
    }
    pairs
}

fn parse_int(t: &str) -> Option<i128> {
    let (neg, digits) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let v = if let Some(hex) = digits.strip_prefix("0x") {
        i128::from_str_radix(hex, 16).ok()?
    } else if let Some(oct) = digits.strip_prefix("0o") {
        i128::from_str_radix(oct, 8).ok()?
    } else if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse().ok()?
    } else {
        return None;
    };
    Some(if neg { -v } else { v })
}

/// Optional sign and decimal digits only (the only integer syntax that can also read as a float).
fn is_decimal_integer(t: &str) -> bool {
    let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

fn is_float(t: &str) -> bool {
    matches!(
        t,
        ".inf" | "-.inf" | "+.inf" | ".nan" | ".NaN" | ".NAN" | ".Inf" | "-.Inf"
    ) || (t.bytes().any(|b| b.is_ascii_digit())
        && t.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
        && t.parse::<f64>().is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_one(src: &str) -> (Vec<Node>, Sink) {
        let mut sink = Sink::new("t.yaml");
        let docs = load(src, &mut sink);
        (docs, sink)
    }

    #[test]
    fn positions_of_keys_and_values() {
        let (docs, sink) = load_one("a: 1\nb:\n  - x\n  - \"y\"\n");
        assert_eq!(sink.error_count(), 0);
        let Value::Map(m) = &docs[0].value else {
            panic!("not a map")
        };
        assert_eq!(m[1].0.pos, Pos { line: 2, col: 1 });
        let Value::Seq(s) = &m[1].1.value else {
            panic!("not a seq")
        };
        assert_eq!(s[1].pos, Pos { line: 4, col: 5 });
        assert_eq!(s[1].scalar(), Some(Scalar::Str("y")));
        assert_eq!(m[0].1.scalar(), Some(Scalar::Int(1)));
    }

    #[test]
    fn core_schema() {
        let (docs, _) = load_one("[~, true, 0x1F, -3, 1.5, '12', abc, 1.2.3]");
        let Value::Seq(s) = &docs[0].value else {
            panic!("not a seq")
        };
        let got: Vec<_> = s.iter().map(|n| n.scalar().unwrap()).collect();
        assert_eq!(
            got,
            [
                Scalar::Null,
                Scalar::Bool(true),
                Scalar::Int(31),
                Scalar::Int(-3),
                Scalar::Float,
                Scalar::Str("12"),
                Scalar::Str("abc"),
                Scalar::Str("1.2.3")
            ]
        );
    }

    #[test]
    fn duplicate_keys_anchors_and_syntax_errors_are_located() {
        let (_, sink) = load_one("a: 1\nb: 2\na: 3\n");
        let (errs, _) = sink.finish();
        assert_eq!(
            errs[0].to_string(),
            "t.yaml:3:1: error: duplicate key \"a\" (first at line 1)"
        );
        let (_, sink) = load_one("a: &x 1\nb: *x\n");
        let (errs, _) = sink.finish();
        assert!(
            errs[0]
                .to_string()
                .starts_with("t.yaml:1:4: error: YAML anchors"),
            "{}",
            errs[0]
        );
        let (_, sink) = load_one("a: [1, 2\nb: 3\n");
        assert_eq!(sink.error_count(), 1);
    }

    #[test]
    fn duplicate_keys_in_a_huge_mapping_are_found_in_linear_time() {
        // 100,000 keys took a minute with pairwise comparison; a hash lookup takes milliseconds.
        let mut src: String = (0..100_000).map(|i| format!("k{i}: 1\n")).collect();
        src.push_str("k99999: 2\n'k99999': 3\n");
        let started = std::time::Instant::now();
        let (docs, sink) = load_one(&src);
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
        let Value::Map(m) = &docs[0].value else {
            panic!("not a map")
        };
        // A quoted key is kept apart from the plain one, as before.
        assert_eq!(m.len(), 100_001);
        let (errs, _) = sink.finish();
        let errs: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(
            errs,
            ["t.yaml:100001:1: error: duplicate key \"k99999\" (first at line 100000)"]
        );
    }

    #[test]
    fn integers_beyond_i128_are_too_large_not_numbers() {
        let (docs, _) = load_one("[99999999999999999999999999999999999999999999, -1e3]");
        let Value::Seq(s) = &docs[0].value else {
            panic!("not a seq")
        };
        let mut sink = Sink::new("t.yaml");
        assert_eq!(s[0].int(&mut sink, "uids"), None);
        assert_eq!(s[1].int(&mut sink, "uids"), None);
        let (errs, _) = sink.finish();
        let errs: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(
            errs,
            [
                "t.yaml:1:2: error: uids: 99999999999999999999999999999999999999999999 is too large",
                "t.yaml:1:48: error: uids: expected an integer, found a number"
            ]
        );
    }

    #[test]
    fn several_documents() {
        let (docs, sink) = load_one("a: 1\n---\nb: 2\n---\nc: 3\n");
        assert_eq!(sink.error_count(), 0);
        assert_eq!(docs.len(), 3);
        assert_eq!(docs[2].pos, Pos { line: 5, col: 1 });
    }
}
