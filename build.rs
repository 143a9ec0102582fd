//! Generates include/tandem.h from the Rust sources with cbindgen (version pinned in Cargo.toml).

use std::path::PathBuf;

fn main() {
    soname();
    let dir =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    // cbindgen reads the whole crate (the event kinds live in src/events, and any public constant is exported).
    println!("cargo:rerun-if-changed=src");
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

/// Gives the shared library a versioned SONAME, `libtandem.so.0.<minor>` while the major version is 0 (each 0.x
/// release may break the ABI) and `libtandem.so.<major>` after, and links that name to the library in the build's
/// output directory: programs linked in place record the SONAME and must find it there at run time.
fn soname() {
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets the version");
    let minor = std::env::var("CARGO_PKG_VERSION_MINOR").expect("cargo sets the version");
    let name = if major == "0" {
        format!("libtandem.so.0.{minor}")
    } else {
        format!("libtandem.so.{major}")
    };
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("linux") {
        return;
    }
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{name}");
    link_in_output_dir(&name);
}

#[cfg(unix)]
fn link_in_output_dir(name: &str) {
    // OUT_DIR is <profile dir>/build/<package>-<hash>/out.
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    if let Some(profile_dir) = out.ancestors().nth(3) {
        let link = profile_dir.join(name);
        if std::fs::read_link(&link).ok().as_deref() != Some(std::path::Path::new("libtandem.so")) {
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink("libtandem.so", &link)
                .expect("the build's output directory is writable");
        }
    }
}

#[cfg(not(unix))]
fn link_in_output_dir(_name: &str) {}
