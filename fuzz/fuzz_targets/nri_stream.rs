//! The NRI trunk as the plugin reads it from the runtime's socket: multiplexer frames, ttrpc
//! messages reassembled per connection, ttrpc Request/Response protobufs, NRI payloads. Mirrors
//! the session's read loop (nri-plugin/src/session.rs) without sockets or tasks. The first byte
//! sets the read size, so frame and message boundaries fall anywhere relative to reads.
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_fuzz::plugin_request;
use palisade_nri::api::PLUGIN_SERVICE;
use palisade_nri::mux::{FrameDecoder, MAX_IN_PAYLOAD, PLUGIN_SERVICE_CONN, RUNTIME_SERVICE_CONN};
use palisade_nri::ttrpc::{self, MessageDecoder, MessageType, MAX_BODY};
use prost::Message as _;

fuzz_target!(|data: &[u8]| {
    let Some((&read_size, trunk)) = data.split_first() else {
        return;
    };
    let mut frames = FrameDecoder::default();
    let mut conns = [MessageDecoder::default(), MessageDecoder::default()];
    for read in trunk.chunks(usize::from(read_size) + 1) {
        frames.push(read);
        loop {
            let frame = match frames.next_frame() {
                Ok(Some(f)) => f,
                Ok(None) => break,
                // The session ends the connection on the first error: so do we.
                Err(_) => return,
            };
            assert!(frame.payload.len() <= MAX_IN_PAYLOAD);
            let conn = match frame.conn {
                PLUGIN_SERVICE_CONN => 0,
                RUNTIME_SERVICE_CONN => 1,
                _ => continue,
            };
            conns[conn].push(&frame.payload);
            loop {
                let msg = match conns[conn].next_message() {
                    Ok(Some(m)) => m,
                    Ok(None) => break,
                    Err(_) => return,
                };
                assert!(msg.body.len() <= MAX_BODY);
                // Unary messages carry nothing the decoder drops: re-encoding is lossless.
                let again = msg.encode().expect("a decoded message re-encodes");
                assert_eq!(again.len(), ttrpc::HEADER_LEN + msg.body.len());
                match (conn, msg.kind) {
                    (0, MessageType::Request) => {
                        let Ok(req) = ttrpc::Request::decode(msg.body.as_slice()) else {
                            return;
                        };
                        if req.service == PLUGIN_SERVICE {
                            plugin_request(&req.method, &req.payload);
                        }
                    }
                    (1, MessageType::Response) => {
                        let Ok(resp) = ttrpc::Response::decode(msg.body.as_slice()) else {
                            return;
                        };
                        let _ = resp.code();
                    }
                    // Wrong direction: a protocol error for the session.
                    _ => return,
                }
            }
        }
    }
});
