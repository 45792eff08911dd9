//! One NRI Plugin-service request payload: the first byte picks the method, the rest is the
//! protobuf message the runtime sent. Reaches protobuf decoding, container identity and the
//! `palisade.dev/*` annotation parser directly, without having to discover the framing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_fuzz::{plugin_request, PLUGIN_METHODS};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, payload)) = data.split_first() else {
        return;
    };
    plugin_request(PLUGIN_METHODS[usize::from(pick) % PLUGIN_METHODS.len()], payload);
});
