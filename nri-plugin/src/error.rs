//! Typed errors. Every malformed input from the runtime ends up as one of these, never a panic.

use std::io;
use std::time::Duration;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MuxError {
    #[error("multiplexer frame for reserved connection id 0")]
    ReservedConn,
    #[error("multiplexer frame of {0} bytes exceeds the 16 MiB limit")]
    FrameTooLarge(usize),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TtrpcError {
    #[error("ttrpc message body of {0} bytes exceeds the 4 MiB limit")]
    TooLarge(usize),
    #[error("unsupported ttrpc message type {0} (NRI uses unary calls only)")]
    UnsupportedType(u8),
    #[error("unsupported ttrpc flags {0:#x} on a unary message")]
    UnsupportedFlags(u8),
}

#[derive(Debug, thiserror::Error)]
pub enum NriError {
    #[error("invalid plugin configuration: {0}")]
    Config(String),
    #[error("connecting to the NRI socket {path}: {source}")]
    Connect { path: String, source: io::Error },
    #[error("NRI connection I/O: {0}")]
    Io(#[from] io::Error),
    #[error("NRI multiplexer: {0}")]
    Mux(#[from] MuxError),
    #[error("ttrpc on connection {conn}: {source}")]
    Ttrpc { conn: u32, source: TtrpcError },
    #[error("protocol violation: {0}")]
    Protocol(String),
    #[error("malformed {what}: {source}")]
    Decode {
        what: &'static str,
        source: prost::DecodeError,
    },
    #[error("runtime rejected registration: code {code}: {message}")]
    Rejected { code: i32, message: String },
    #[error("no answer to {what} within {timeout:?}")]
    Timeout {
        what: &'static str,
        timeout: Duration,
    },
    #[error("connection closed by the runtime{}", if *.truncated { " in the middle of a message" } else { "" })]
    Closed { truncated: bool },
}
