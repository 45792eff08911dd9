//! Compiles every `src/*.bpf.c` into a BPF object and generates its libbpf-rs skeleton in OUT_DIR.
//! Each object is loaded on its own, so a hook family the running kernel refuses (LSM on the dev
//! machines) never prevents the others (process tracepoints, cgroup network hooks) from loading.
use std::{env, fs, path::PathBuf};

use libbpf_cargo::SkeletonBuilder;

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    let include = manifest.join("include");
    let src = manifest.join("src");
    println!("cargo:rerun-if-changed={}", include.display());
    // the directory itself, so that a newly added .bpf.c triggers a rebuild
    println!("cargo:rerun-if-changed={}", src.display());
    for entry in fs::read_dir(&src).expect("read bpf/src") {
        let path = entry.expect("dir entry").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".h") {
            println!("cargo:rerun-if-changed={}", path.display());
        }
        let Some(stem) = name.strip_suffix(".bpf.c") else {
            continue;
        };
        println!("cargo:rerun-if-changed={}", path.display());
        SkeletonBuilder::new()
            .source(&path)
            .obj(out.join(format!("{stem}.bpf.o")))
            .clang_args([
                "-I".into(),
                include.as_os_str().to_owned(),
                "-I".into(),
                src.as_os_str().to_owned(),
                "-Wall".into(),
                "-Wno-unused-function".into(),
            ])
            .build_and_generate(out.join(format!("{stem}.skel.rs")))
            .unwrap_or_else(|e| panic!("building {name}: {e:#}"));
    }
}
