//! The NRI connection multiplexer (containerd/nri `pkg/net/multiplex`): one unix stream carries
//! frames of `conn id: u32 BE | payload length: u32 BE | payload`. Conn 1 carries the Plugin
//! service (we serve), conn 2 the Runtime service (we call). There are no control frames.
//!
//! Outgoing frames are cut to at most 4096 payload bytes: the Go side reads one frame per
//! `Read` into ttrpc's 4096-byte buffer and fails the connection with ENOMEM on anything
//! larger. Incoming frames may be of any size up to the Go writer's 16 MiB limit.

use crate::error::MuxError;

pub const PLUGIN_SERVICE_CONN: u32 = 1;
pub const RUNTIME_SERVICE_CONN: u32 = 2;
pub const FRAME_HEADER_LEN: usize = 8;
/// Largest payload we put in one frame.
pub const MAX_OUT_PAYLOAD: usize = 4096;
/// Largest payload the Go writer sends in one frame (`1 << 24`).
pub const MAX_IN_PAYLOAD: usize = 1 << 24;

/// Appends `payload` for `conn` to `out` as frames of at most [`MAX_OUT_PAYLOAD`] bytes.
pub fn encode_frames(conn: u32, payload: &[u8], out: &mut Vec<u8>) {
    for chunk in payload.chunks(MAX_OUT_PAYLOAD) {
        out.extend_from_slice(&conn.to_be_bytes());
        out.extend_from_slice(&(chunk.len() as u32).to_be_bytes());
        out.extend_from_slice(chunk);
    }
}

/// One received frame.
#[derive(Debug, PartialEq, Eq)]
pub struct Frame {
    pub conn: u32,
    pub payload: Vec<u8>,
}

/// Splits the trunk's byte stream into frames.
#[derive(Default)]
pub struct FrameDecoder {
    buf: Vec<u8>,
}

impl FrameDecoder {
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    pub fn next_frame(&mut self) -> Result<Option<Frame>, MuxError> {
        let Some(h) = self.buf.get(..FRAME_HEADER_LEN) else {
            return Ok(None);
        };
        let conn = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
        let len = u32::from_be_bytes([h[4], h[5], h[6], h[7]]) as usize;
        if conn == 0 {
            return Err(MuxError::ReservedConn);
        }
        if len > MAX_IN_PAYLOAD {
            return Err(MuxError::FrameTooLarge(len));
        }
        if self.buf.len() < FRAME_HEADER_LEN + len {
            return Ok(None);
        }
        let payload = self.buf[FRAME_HEADER_LEN..FRAME_HEADER_LEN + len].to_vec();
        self.buf.drain(..FRAME_HEADER_LEN + len);
        Ok(Some(Frame { conn, payload }))
    }

    /// Bytes of an incomplete frame still held (non-zero at EOF means a truncated stream).
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_never_exceed_4096_payload_bytes() {
        let payload: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        let mut wire = Vec::new();
        encode_frames(2, &payload, &mut wire);
        let mut d = FrameDecoder::default();
        d.push(&wire);
        let mut lens = Vec::new();
        let mut joined = Vec::new();
        while let Some(f) = d.next_frame().unwrap() {
            assert_eq!(f.conn, 2);
            lens.push(f.payload.len());
            joined.extend(f.payload);
        }
        assert_eq!(lens, [4096, 4096, 1808]);
        assert_eq!(joined, payload);
        assert_eq!(d.pending(), 0);
    }

    #[test]
    fn header_is_conn_then_length_big_endian() {
        let mut wire = Vec::new();
        encode_frames(1, b"abc", &mut wire);
        assert_eq!(wire, [0, 0, 0, 1, 0, 0, 0, 3, b'a', b'b', b'c']);
    }

    #[test]
    fn decoder_waits_for_whole_frames_and_accepts_large_ones() {
        let mut wire = vec![0, 0, 0, 1, 0, 0x01, 0, 0];
        wire.extend(vec![9u8; 0x10000]);
        let mut d = FrameDecoder::default();
        d.push(&wire[..100]);
        assert_eq!(d.next_frame().unwrap(), None);
        d.push(&wire[100..]);
        assert_eq!(d.next_frame().unwrap().unwrap().payload.len(), 0x10000);
    }

    #[test]
    fn decoder_rejects_reserved_conn_and_oversize_frames() {
        let mut d = FrameDecoder::default();
        d.push(&[0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(d.next_frame().unwrap_err(), MuxError::ReservedConn);
        let mut d = FrameDecoder::default();
        d.push(&[0, 0, 0, 1, 0x01, 0, 0, 1]);
        assert_eq!(
            d.next_frame().unwrap_err(),
            MuxError::FrameTooLarge((1 << 24) + 1)
        );
    }
}
