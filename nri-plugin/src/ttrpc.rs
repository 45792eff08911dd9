//! ttrpc framing (containerd/ttrpc): a 10-byte big-endian header (body length u32, stream id
//! u32, message type u8, flags u8) followed by a protobuf `Request` or `Response` body. NRI only
//! uses unary calls, so only types 1 (request) and 2 (response) are accepted; streaming `Data`
//! messages are a protocol error here.

use crate::error::TtrpcError;

pub const HEADER_LEN: usize = 10;
/// Largest body ttrpc allows (4 MiB); the Go side refuses bigger messages too.
pub const MAX_BODY: usize = 4 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageType {
    Request,
    Response,
}

impl MessageType {
    fn wire(self) -> u8 {
        match self {
            MessageType::Request => 1,
            MessageType::Response => 2,
        }
    }
}

/// One whole ttrpc message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub stream_id: u32,
    pub kind: MessageType,
    pub body: Vec<u8>,
}

impl Message {
    /// Header + body; unary messages always carry flags 0.
    pub fn encode(&self) -> Result<Vec<u8>, TtrpcError> {
        if self.body.len() > MAX_BODY {
            return Err(TtrpcError::TooLarge(self.body.len()));
        }
        let mut out = Vec::with_capacity(HEADER_LEN + self.body.len());
        out.extend_from_slice(&(self.body.len() as u32).to_be_bytes());
        out.extend_from_slice(&self.stream_id.to_be_bytes());
        out.push(self.kind.wire());
        out.push(0);
        out.extend_from_slice(&self.body);
        Ok(out)
    }
}

/// Reassembles ttrpc messages from one connection's byte stream, whatever the frame boundaries.
#[derive(Default)]
pub struct MessageDecoder {
    buf: Vec<u8>,
}

impl MessageDecoder {
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete message, `Ok(None)` when more bytes are needed. After an error the
    /// stream is unusable (there is no way to resynchronise a length-prefixed stream).
    pub fn next_message(&mut self) -> Result<Option<Message>, TtrpcError> {
        let Some(header) = self.buf.get(..HEADER_LEN) else {
            return Ok(None);
        };
        let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let stream_id = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
        let (kind, flags) = (header[8], header[9]);
        if len > MAX_BODY {
            return Err(TtrpcError::TooLarge(len));
        }
        let kind = match kind {
            1 => MessageType::Request,
            2 => MessageType::Response,
            other => return Err(TtrpcError::UnsupportedType(other)),
        };
        if flags != 0 {
            return Err(TtrpcError::UnsupportedFlags(flags));
        }
        if self.buf.len() < HEADER_LEN + len {
            return Ok(None);
        }
        let body = self.buf[HEADER_LEN..HEADER_LEN + len].to_vec();
        self.buf.drain(..HEADER_LEN + len);
        Ok(Some(Message {
            stream_id,
            kind,
            body,
        }))
    }

    /// Bytes of an incomplete message still held (non-zero at EOF means a truncated stream).
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

/// `ttrpc.Request`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Request {
    #[prost(string, tag = "1")]
    pub service: String,
    #[prost(string, tag = "2")]
    pub method: String,
    #[prost(bytes = "vec", tag = "3")]
    pub payload: Vec<u8>,
    /// Caller's deadline in nanoseconds, 0 for none (containerd sends its request timeout).
    #[prost(int64, tag = "4")]
    pub timeout_nano: i64,
    #[prost(message, repeated, tag = "5")]
    pub metadata: Vec<KeyValue>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct KeyValue {
    #[prost(string, tag = "1")]
    pub key: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `ttrpc.Response`; an absent status means OK.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Response {
    #[prost(message, optional, tag = "1")]
    pub status: Option<Status>,
    #[prost(bytes = "vec", tag = "2")]
    pub payload: Vec<u8>,
}

/// `google.rpc.Status` without `details` (never produced nor needed by NRI).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Status {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
}

/// gRPC canonical status codes used by this crate.
pub mod code {
    pub const OK: i32 = 0;
    pub const INVALID_ARGUMENT: i32 = 3;
    pub const PERMISSION_DENIED: i32 = 7;
    pub const UNIMPLEMENTED: i32 = 12;
}

impl Response {
    pub fn ok(payload: Vec<u8>) -> Self {
        Response {
            status: None,
            payload,
        }
    }

    pub fn error(code: i32, message: impl Into<String>) -> Self {
        Response {
            status: Some(Status {
                code,
                message: message.into(),
            }),
            payload: Vec::new(),
        }
    }

    /// The status code, treating an absent status as OK.
    pub fn code(&self) -> i32 {
        self.status.as_ref().map_or(code::OK, |s| s.code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(id: u32, body: &[u8]) -> Message {
        Message {
            stream_id: id,
            kind: MessageType::Request,
            body: body.to_vec(),
        }
    }

    #[test]
    fn header_layout_is_big_endian() {
        let bytes = Message {
            stream_id: 3,
            kind: MessageType::Response,
            body: vec![7; 5],
        }
        .encode()
        .unwrap();
        assert_eq!(&bytes[..HEADER_LEN], &[0, 0, 0, 5, 0, 0, 0, 3, 2, 0]);
    }

    #[test]
    fn decoder_reassembles_across_any_split() {
        let mut wire = msg(1, b"hello").encode().unwrap();
        wire.extend(msg(3, &[0xab; 5000]).encode().unwrap());
        wire.extend(msg(5, b"").encode().unwrap());
        for split in [1, 3, 10, 11, 4096, wire.len()] {
            let mut d = MessageDecoder::default();
            let mut got = Vec::new();
            for chunk in wire.chunks(split) {
                d.push(chunk);
                while let Some(m) = d.next_message().unwrap() {
                    got.push(m);
                }
            }
            assert_eq!(
                got,
                vec![msg(1, b"hello"), msg(3, &[0xab; 5000]), msg(5, b"")]
            );
            assert_eq!(d.pending(), 0);
        }
    }

    #[test]
    fn decoder_rejects_malformed_headers() {
        let cases: [(&[u8], TtrpcError); 3] = [
            (
                &[0x01, 0, 0, 0, 0, 0, 0, 1, 1, 0],
                TtrpcError::TooLarge(1 << 24),
            ),
            (
                &[0, 0, 0, 0, 0, 0, 0, 1, 3, 0],
                TtrpcError::UnsupportedType(3),
            ),
            (
                &[0, 0, 0, 0, 0, 0, 0, 1, 1, 2],
                TtrpcError::UnsupportedFlags(2),
            ),
        ];
        for (header, want) in cases {
            let mut d = MessageDecoder::default();
            d.push(header);
            assert_eq!(d.next_message().unwrap_err(), want);
        }
    }

    #[test]
    fn oversize_body_is_refused_on_encode() {
        let big = Message {
            stream_id: 1,
            kind: MessageType::Request,
            body: vec![0; MAX_BODY + 1],
        };
        assert_eq!(
            big.encode().unwrap_err(),
            TtrpcError::TooLarge(MAX_BODY + 1)
        );
    }
}
