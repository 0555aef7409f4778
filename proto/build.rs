//! Compiles every `.proto` under `egov/` with protox (pure Rust, no system protoc) and
//! generates the tonic/prost code and a descriptor set for reflection.

use std::path::{Path, PathBuf};

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("proto dir is readable") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "proto") {
            out.push(path);
        }
    }
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let mut files = Vec::new();
    collect(&root.join("egov"), &mut files);
    files.sort();
    println!("cargo:rerun-if-changed=egov");
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    let fds =
        protox::compile(&files, [&root]).unwrap_or_else(|e| panic!("proto compile failed: {e}"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it"));
    std::fs::write(
        out.join("egov_descriptor.bin"),
        prost::Message::encode_to_vec(&fds),
    )
    .expect("descriptor set written");
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(fds)
        .unwrap_or_else(|e| panic!("code generation failed: {e}"));
}
