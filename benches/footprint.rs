//! Benchmark 5: footprint. Size of the stripped `libtandem.so`, time of `tandem_client_new` (and free), and the
//! resident memory of a fresh client.
//!
//! Run with `cargo bench --bench footprint` after a release build (or `scripts/bench.sh`, which builds it);
//! `TANDEM_BENCH_LIB` names the library (default `$CARGO_TARGET_DIR/release/libtandem.so`).

mod support;

use std::ffi::CString;
use std::process::Command;
use std::ptr;
use std::time::{Duration, Instant};

use support::{median, ms, row, rss_kib};
use tandem::ffi::client::{tandem_client_free, tandem_client_new};

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
}
