//! Foreign data handed over with a callback registration (subscriptions, host tools, the host provider): the host's
//! `userdata` and its free function, released exactly once; and the C strings callbacks borrow.

use std::ffi::{c_void, CString};
use std::sync::atomic::{AtomicBool, Ordering};

use super::types::tandem_userdata_free;

/// A registration's `userdata` and `userdata_free`.
pub struct ForeignData {
    userdata: *mut c_void,
    free: tandem_userdata_free,
    released: AtomicBool,
}

// SAFETY: by registering a callback the host states that its userdata may be used from tandem's threads as the
// registering function documents (events: the dispatcher thread or the unsubscribing one, never concurrently; host
// tools and the host provider: several threads at once). tandem only passes the pointer back, never dereferences it.
unsafe impl Send for ForeignData {}
// SAFETY: as above.
unsafe impl Sync for ForeignData {}

impl ForeignData {
    /// Takes over `userdata` and the function that frees it (may be NULL).
    pub fn new(userdata: *mut c_void, free: tandem_userdata_free) -> Self {
        ForeignData {
            userdata,
            free,
            released: AtomicBool::new(false),
        }
    }

    /// The pointer to pass to the host's callback.
    pub fn get(&self) -> *mut c_void {
        self.userdata
    }

    /// Calls `userdata_free` the first time, and never again: after the registration's last callback returned.
    pub fn release(&self) {
        if !self.released.swap(true, Ordering::AcqRel) {
            if let Some(free) = self.free {
                // SAFETY: called once, after the last callback, as the registering functions document.
                unsafe { free(self.userdata) }
            }
        }
    }
}

/// A C string for a callback argument; an interior NUL (never in IDs, possible in JSON text) is written as `\0`.
pub fn c_string(s: &str) -> CString {
    CString::new(s.replace('\0', "\\0")).unwrap_or_default()
}
