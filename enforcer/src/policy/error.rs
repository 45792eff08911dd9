//! Located diagnostics: every policy problem names `file:line:col`, like a compiler.

use std::fmt;

use serde::Serialize;

/// A position in a source file (1-based line and column, in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Pos {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub col: usize,
}

impl Pos {
    /// Start of the file.
    pub const START: Self = Self { line: 1, col: 1 };
}

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The file is rejected.
    Error,
    /// The file is accepted; something in it has no effect or was read in a non-obvious way.
    Warning,
}

/// One located message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// The file as the user named it.
    pub file: String,
    /// Where in the file; `None` for whole-file problems (unreadable file, name clash).
    #[serde(flatten)]
    pub pos: Option<Pos>,
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong, with the fix where one is known.
    pub message: String,
}

impl Diagnostic {
    /// An error at `pos`.
    pub fn error(file: &str, pos: Pos, message: impl Into<String>) -> Self {
        Self {
            file: file.to_owned(),
            pos: Some(pos),
            severity: Severity::Error,
            message: message.into(),
        }
    }

    /// An error about the whole file.
    pub fn file_error(file: &str, message: impl Into<String>) -> Self {
        Self {
            file: file.to_owned(),
            pos: None,
            severity: Severity::Error,
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        match self.pos {
            Some(p) => write!(
                f,
                "{}:{}:{}: {sev}: {}",
                self.file, p.line, p.col, self.message
            ),
            None => write!(f, "{}: {sev}: {}", self.file, self.message),
        }
    }
}

/// Every error found in one or more policy files (never empty). Displays one line per error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PolicyErrors(pub Vec<Diagnostic>);

impl fmt::Display for PolicyErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl PolicyErrors {
    /// A single whole-file error.
    pub fn file(file: &str, message: impl Into<String>) -> Self {
        Self(vec![Diagnostic::file_error(file, message)])
    }
}

/// Collects diagnostics for one file while a checker walks it.
#[derive(Debug)]
pub struct Sink {
    file: String,
    diags: Vec<Diagnostic>,
}

impl Sink {
    /// An empty sink for `file`.
    pub fn new(file: &str) -> Self {
        Self {
            file: file.to_owned(),
            diags: Vec::new(),
        }
    }

    /// Records an error.
    pub fn error(&mut self, pos: Pos, message: impl Into<String>) {
        self.diags.push(Diagnostic::error(&self.file, pos, message));
    }

    /// Records a warning.
    pub fn warning(&mut self, pos: Pos, message: impl Into<String>) {
        self.diags.push(Diagnostic {
            file: self.file.clone(),
            pos: Some(pos),
            severity: Severity::Warning,
            message: message.into(),
        });
    }

    /// Number of errors so far (warnings excluded).
    pub fn error_count(&self) -> usize {
        self.diags
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    /// Splits into (errors, warnings), errors in file order.
    pub fn finish(mut self) -> (Vec<Diagnostic>, Vec<Diagnostic>) {
        self.diags.sort_by_key(|d| d.pos.map(|p| (p.line, p.col)));
        self.diags
            .into_iter()
            .partition(|d| d.severity == Severity::Error)
    }
}

/// The closest candidate to a misspelt word, if one is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let len = word.chars().count();
    let limit = (len / 3).max(1);
    candidates
        .into_iter()
        // The distance is at least the length difference: skipping those candidates keeps a
        // megabyte-long unknown word from costing seconds and hundreds of MB of edit table.
        .filter(|c| c.chars().count().abs_diff(len) <= limit)
        .map(|c| {
            (
                edit_distance(&word.to_ascii_lowercase(), &c.to_ascii_lowercase()),
                c,
            )
        })
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// `unknown X "w" (did you mean "y"? expected one of: a, b)` tail for an unknown word.
pub fn expected_one_of(word: &str, candidates: &[&str]) -> String {
    let list = candidates.join(", ");
    match did_you_mean(word, candidates.iter().copied()) {
        Some(s) => format!("did you mean \"{s}\"? expected one of: {list}"),
        None => format!("expected one of: {list}"),
    }
}

/// Edit distance over chars where swapping two adjacent chars counts as one edit (optimal
/// string alignment): "dney" is one typo away from "deny". The words are short.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(
            did_you_mean("wrte", ["read", "write", "rename"]),
            Some("write")
        );
        assert_eq!(did_you_mean("rulez", ["rules", "mode"]), Some("rules"));
        assert_eq!(did_you_mean("zzzzzz", ["read", "write"]), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(
            did_you_mean("dney", ["allow", "deny", "audit"]),
            Some("deny")
        );
    }

    #[test]
    fn huge_words_are_not_compared() {
        // A 1 MB operation name took 2.4 s and 130 MB per candidate before the length filter.
        let word = "w".repeat(1_000_000);
        let started = std::time::Instant::now();
        assert_eq!(did_you_mean(&word, ["read", "write", "rename"]), None);
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        assert_eq!(did_you_mean("writee", ["read", "write"]), Some("write"));
    }

    #[test]
    fn display_like_a_compiler() {
        let d = Diagnostic::error(
            "p.yaml",
            Pos { line: 12, col: 7 },
            "unknown operation \"wrte\"",
        );
        assert_eq!(
            d.to_string(),
            "p.yaml:12:7: error: unknown operation \"wrte\""
        );
        assert_eq!(
            PolicyErrors::file("d/x.yaml", "cannot read").to_string(),
            "d/x.yaml: error: cannot read"
        );
    }
}
