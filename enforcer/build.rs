//! Generates the local API's gRPC code from proto/palisade.proto (needs `protoc`).
fn main() {
    println!("cargo:rerun-if-changed=proto/palisade.proto");
    tonic_prost_build::configure()
        .compile_protos(&["proto/palisade.proto"], &["proto"])
        .unwrap_or_else(|e| panic!("compiling proto/palisade.proto (is protoc installed?): {e}"));
}
