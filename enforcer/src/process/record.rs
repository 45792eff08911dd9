//! Decoding of ring-buffer records from `process.bpf.c` into owned values.

use palisade_bpf::events::{self, kind, Exec, Exit, Fork, Hdr};
use thiserror::Error;

/// A record that could not be decoded (a layout mismatch or a short read); counted, never fatal.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum DecodeError {
    /// Fewer bytes than the fixed part of the record.
    #[error("record of kind {kind} is {len} bytes, shorter than its header")]
    Short {
        /// Record kind.
        kind: u32,
        /// Bytes received.
        len: usize,
    },
    /// A kind this build does not know.
    #[error("unknown record kind {0}")]
    UnknownKind(u32),
}

/// An exec, with its variable-length strings.
#[derive(Debug, Clone)]
pub struct ExecRecord {
    /// Fixed part.
    pub raw: Exec,
    /// Resolved binary path.
    pub path: String,
    /// argv, argv[0] included.
    pub argv: Vec<String>,
    /// Working directory.
    pub cwd: String,
}

/// Any record of the process object.
#[derive(Debug, Clone)]
pub enum Record {
    /// Exec.
    Exec(Box<ExecRecord>),
    /// Exit of a thread group.
    Exit(Exit),
    /// New thread group.
    Fork(Fork),
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Decodes one ring-buffer record.
pub fn decode(bytes: &[u8]) -> Result<Record, DecodeError> {
    let hdr: Hdr = events::read(bytes).ok_or(DecodeError::Short {
        kind: 0,
        len: bytes.len(),
    })?;
    let short = || DecodeError::Short {
        kind: hdr.kind,
        len: bytes.len(),
    };
    match hdr.kind {
        kind::EXEC => {
            let raw: Exec = events::read(bytes).ok_or_else(short)?;
            let tail = &bytes[std::mem::size_of::<Exec>()..];
            let (pl, al, cl) = (
                raw.path_len as usize,
                raw.args_len as usize,
                raw.cwd_len as usize,
            );
            if tail.len() < pl + al + cl {
                return Err(short());
            }
            let argv = tail[pl..pl + al]
                .split(|b| *b == 0)
                .map(lossy)
                .collect::<Vec<_>>();
            // argv ends with a NUL, which leaves one empty trailing element
            let argv = match argv.split_last() {
                Some((last, rest)) if last.is_empty() => rest.to_vec(),
                _ => argv,
            };
            Ok(Record::Exec(Box::new(ExecRecord {
                raw,
                path: lossy(&tail[..pl]),
                argv,
                cwd: lossy(&tail[pl + al..pl + al + cl]),
            })))
        }
        kind::EXIT => Ok(Record::Exit(events::read(bytes).ok_or_else(short)?)),
        kind::FORK => Ok(Record::Fork(events::read(bytes).ok_or_else(short)?)),
        other => Err(DecodeError::UnknownKind(other)),
    }
}

/// Joins arguments the way Tetragon does: space separated, quoting those with spaces or quotes.
pub fn join_args(args: &[String]) -> String {
    args.iter()
        .map(|a| {
            if a.is_empty() || a.contains([' ', '\t', '"', '\'']) {
                format!("\"{}\"", a.replace('\\', "\\\\").replace('"', "\\\""))
            } else {
                a.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exec_bytes(path: &str, args: &[&str], cwd: &str) -> Vec<u8> {
        let mut argv = Vec::new();
        for a in args {
            argv.extend_from_slice(a.as_bytes());
            argv.push(0);
        }
        let raw = Exec {
            hdr: Hdr {
                kind: kind::EXEC,
                ..Default::default()
            },
            path_len: path.len() as u16,
            args_len: argv.len() as u16,
            cwd_len: cwd.len() as u16,
            ..Default::default()
        };
        // SAFETY: Exec is plain old data.
        let mut out = unsafe { plain::as_bytes(&raw) }.to_vec();
        out.extend_from_slice(path.as_bytes());
        out.extend_from_slice(&argv);
        out.extend_from_slice(cwd.as_bytes());
        out
    }

    #[test]
    fn decodes_exec_strings() {
        let b = exec_bytes("/usr/bin/true", &["true", "a b", "c"], "/tmp");
        let Record::Exec(e) = decode(&b).unwrap() else {
            panic!("not an exec")
        };
        assert_eq!(e.path, "/usr/bin/true");
        assert_eq!(e.argv, ["true", "a b", "c"]);
        assert_eq!(e.cwd, "/tmp");
        assert_eq!(join_args(&e.argv[1..]), "\"a b\" c");
    }

    #[test]
    fn rejects_short_and_unknown() {
        let b = exec_bytes("/x", &["x"], "/");
        assert!(matches!(
            decode(&b[..b.len() - 1]),
            Err(DecodeError::Short { .. })
        ));
        assert!(matches!(decode(&[0u8; 4]), Err(DecodeError::Short { .. })));
        let h = Hdr {
            kind: 99,
            ..Default::default()
        };
        // SAFETY: Hdr is plain old data.
        let hb = unsafe { plain::as_bytes(&h) }.to_vec();
        assert_eq!(decode(&hb).unwrap_err(), DecodeError::UnknownKind(99));
    }
}
