//! Helpers shared by the C ABI fuzz targets: C strings from fuzz bytes, status checks, a shared client.
#![allow(dead_code)]

use std::ffi::{c_char, CStr};
use std::ptr;
use std::sync::OnceLock;

use serde_json::Value;
use tandem::ffi::client::{tandem_client_new, tandem_string_free};
use tandem::ffi::types::{tandem_client, tandem_status};

/// `bytes` as C sees them: up to the first NUL, NUL-terminated.
pub fn c_string(bytes: &[u8]) -> Vec<u8> {
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    let mut v = bytes[..end].to_vec();
    v.push(0);
    v
}

/// A C string literal's pointer.
pub fn lit(s: &CStr) -> *const c_char {
    s.as_ptr()
}

/// Checks what every call may return: a defined status, and never a caught panic.
pub fn check(status: tandem_status) -> bool {
    let raw = status as u32;
    assert!(
        raw <= tandem_status::TANDEM_ERR_INTERNAL as u32,
        "undefined status {raw}"
    );
    assert_ne!(status, tandem_status::TANDEM_ERR_PANIC, "a call panicked");
    status == tandem_status::TANDEM_OK
}

/// Takes ownership of a string tandem returned, giving a copy.
pub fn take(s: *mut c_char) -> Option<String> {
    if s.is_null() {
        return None;
    }
    // SAFETY: tandem returned this NUL-terminated string and it is freed exactly once, here.
    let text = unsafe { CStr::from_ptr(s) }.to_string_lossy().into_owned();
    unsafe { tandem_string_free(s) };
    Some(text)
}

/// Whether a JSON document asks for something a fuzz run must not do when a turn runs: a scripted `panic` step
/// (libFuzzer's panic hook aborts on any panic, even one tandem's supervision catches), a `workdir` (scripted tool
/// calls would then run the built-in tools, `shell` included, on real files), or a model other than a scripted one
/// (a network call).
pub fn unsafe_to_run(bytes: &[u8]) -> bool {
    fn walk(v: &Value) -> bool {
        match v {
            Value::Object(o) => o.iter().any(|(k, v)| {
                let remote_model =
                    k == "model" && !v.as_str().is_some_and(|m| m.starts_with("scripted:"));
                k == "panic" || k == "workdir" || k == "base_url" || remote_model || walk(v)
            }),
            Value::Array(a) => a.iter().any(walk),
            _ => false,
        }
    }
    // Only documents tandem parses matter; anything else is rejected before it could run.
    match serde_json::from_slice::<Value>(&bytes[..bytes.len().saturating_sub(1)]) {
        Ok(v) => walk(&v),
        Err(_) => false,
    }
}

/// One client for every run of a target (creating a runtime per run would dominate the time): no store, no pull
/// queue, so runs leave nothing behind.
pub fn shared_client() -> *mut tandem_client {
    struct Ptr(*mut tandem_client);
    // SAFETY: tandem clients are thread-safe (docs/C-ABI.md).
    unsafe impl Send for Ptr {}
    unsafe impl Sync for Ptr {}
    static CLIENT: OnceLock<Ptr> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            let mut c = ptr::null_mut();
            let config = c"{\"store_dir\":null,\"pull_events\":false,\"worker_threads\":1}";
            // SAFETY: valid config string and out-pointer.
            assert!(check(unsafe { tandem_client_new(config.as_ptr(), &mut c) }));
            Ptr(c)
        })
        .0
}
