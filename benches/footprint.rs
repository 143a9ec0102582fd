//! Benchmark 5: footprint. Size of the stripped `libtandem.so` (and what each optional feature adds to it), time
//! of `tandem_client_new` (and free), the resident memory of a fresh client and of an idle session.
//!
//! Run with `cargo bench --bench footprint` after a release build (or `scripts/bench.sh`, which builds it);
//! `TANDEM_BENCH_LIB` names the library (default `$CARGO_TARGET_DIR/release/libtandem.so`),
//! `TANDEM_BENCH_LIB_NO_DEFAULT`, if set, one built with `--no-default-features`, and `TANDEM_BENCH_LIB_FEATURE_MCP`,
//! `_ACP`, `_REMOTE`, if set, ones built with `--no-default-features --features <that one>`.

mod support;

use std::ffi::CString;
use std::process::Command;
use std::ptr;
use std::time::{Duration, Instant};

use support::{median, ms, row, rss_kib};
use tandem::ffi::client::{tandem_client_free, tandem_client_new, tandem_string_free};
use tandem::ffi::session::{tandem_session_start, tandem_session_stop};

/// Idle sessions started for the per-session memory.
const IDLE: usize = 10_000;

/// Resident memory per idle `scripted:echo` session: the VmRSS growth over IDLE sessions started through the C
/// ABI on a client without a store, divided by IDLE.
fn idle_session_kib() -> f64 {
    let config = CString::new(r#"{"store_dir": null, "pull_events": false}"#).unwrap();
    let mut c = ptr::null_mut();
    assert_eq!(
        unsafe { tandem_client_new(config.as_ptr(), &mut c) } as u32,
        0
    );
    let options = CString::new(r#"{"model": "scripted:echo"}"#).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let rss0 = rss_kib();
    let ids: Vec<*mut std::ffi::c_char> = (0..IDLE)
        .map(|_| {
            let mut id = ptr::null_mut();
            assert_eq!(
                unsafe { tandem_session_start(c, options.as_ptr(), &mut id) } as u32,
                0
            );
            id
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let kib = (rss_kib() as f64 - rss0 as f64) / IDLE as f64;
    for id in ids {
        unsafe {
            tandem_session_stop(c, id);
            tandem_string_free(id);
        }
    }
    unsafe { tandem_client_free(c) };
    kib
}

fn stripped_size(lib: &std::path::Path) -> Option<(u64, u64)> {
    let out = std::env::temp_dir().join(format!("libtandem-stripped-{}.so", std::process::id()));
    let ok = Command::new("strip")
        .arg("-o")
        .arg(&out)
        .arg(lib)
        .status()
        .ok()?
        .success();
    let sizes = ok.then(|| {
        (
            std::fs::metadata(lib).unwrap().len(),
            std::fs::metadata(&out).unwrap().len(),
        )
    });
    let _ = std::fs::remove_file(&out);
    sizes
}

fn main() {
    let lib = std::env::var("TANDEM_BENCH_LIB")
        .map(Into::into)
        .unwrap_or_else(|_| {
            let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
            std::path::PathBuf::from(target).join("release/libtandem.so")
        });
    let config = CString::new(r#"{"store_dir": null}"#).unwrap();

    // Memory of the first client in this process (its runtime threads and stacks included).
    std::thread::sleep(Duration::from_millis(100));
    let rss0 = rss_kib();
    let mut c = ptr::null_mut();
    assert_eq!(
        unsafe { tandem_client_new(config.as_ptr(), &mut c) } as u32,
        0
    );
    std::thread::sleep(Duration::from_millis(100));
    let fresh_kib = rss_kib() as f64 - rss0 as f64;
    unsafe { tandem_client_free(c) };

    let (mut new, mut free) = (Vec::new(), Vec::new());
    for _ in 0..101 {
        let mut c = ptr::null_mut();
        let t = Instant::now();
        assert_eq!(
            unsafe { tandem_client_new(config.as_ptr(), &mut c) } as u32,
            0
        );
        new.push(ms(t.elapsed()));
        let t = Instant::now();
        unsafe { tandem_client_free(c) };
        free.push(ms(t.elapsed()));
    }
    let (new, free) = (median(&mut new), median(&mut free));
    let idle = idle_session_kib();

    support::header();
    match stripped_size(&lib) {
        Some((full, stripped)) => row(
            "5. stripped libtandem.so (release)",
            &format!(
                "{:.2} MiB (unstripped {:.2} MiB)",
                stripped as f64 / 1048576.0,
                full as f64 / 1048576.0
            ),
            "reported",
            None,
        ),
        None => row(
            "5. stripped libtandem.so",
            &format!("not found at {}", lib.display()),
            "reported",
            None,
        ),
    }
    if let Some(bare) = std::env::var_os("TANDEM_BENCH_LIB_NO_DEFAULT") {
        if let Some((_, without)) = stripped_size(std::path::Path::new(&bare)) {
            let mib = |b: u64| b as f64 / 1048576.0;
            row(
                "5. stripped libtandem.so built with --no-default-features (no MCP, ACP or remote gateway)",
                &format!("{:.2} MiB", mib(without)),
                "reported",
                None,
            );
            for (feature, what) in [
                ("mcp", "rmcp, reqwest 0.13, rustls set-up"),
                ("acp", "the ACP schema types, tandem-acp's agent"),
                (
                    "remote",
                    "tokio-tungstenite, tokio-rustls, the gateway and remote clients",
                ),
            ] {
                let var = format!("TANDEM_BENCH_LIB_FEATURE_{}", feature.to_uppercase());
                let Some(path) = std::env::var_os(&var) else {
                    continue;
                };
                if let Some((_, with)) = stripped_size(std::path::Path::new(&path)) {
                    row(
                        &format!("5. what the `{feature}` feature ({what}) adds to the stripped library alone"),
                        &format!("{:+.2} MiB", mib(with) - mib(without)),
                        "reported",
                        None,
                    );
                }
            }
        }
    }
    row(
        &format!("5. `tandem_client_new`, 101 runs (`tandem_client_free`: {free:.2} ms)"),
        &format!("{new:.2} ms"),
        "<= 10 ms",
        Some(new <= 10.0),
    );
    row(
        "5. resident memory of a fresh client (VmRSS delta)",
        &format!("{fresh_kib:.0} KiB"),
        "reported",
        None,
    );
    row(
        &format!("5. resident memory per idle session ({IDLE} `scripted:echo` sessions, VmRSS delta / sessions)"),
        &format!("{idle:.1} KiB"),
        "<= 8 KiB",
        Some(idle <= 8.0),
    );
}
