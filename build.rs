//! Generates include/tandem.h from the Rust sources with cbindgen (version pinned in Cargo.toml).

use std::path::PathBuf;

fn main() {
    let dir =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    // A hand-edited header is regenerated too, so the drift check in the test script sees it.
    println!("cargo:rerun-if-changed=include/tandem.h");
    let config =
        cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml parses");
    let header = cbindgen::Builder::new()
        .with_crate(&dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header");
    let mut text = Vec::new();
    header.write(&mut text);
    let target = dir.join("include/tandem.h");
    // Only write when it changed, so builds do not touch the committed file's timestamp needlessly.
    if std::fs::read(&target).ok().as_deref() != Some(&text[..]) {
        std::fs::create_dir_all(dir.join("include")).expect("include/ is writable");
        std::fs::write(&target, &text).expect("include/tandem.h is writable");
    }
}
