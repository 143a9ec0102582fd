//! The panic boundary, the last-error slot, and conversions of C arguments and results.

use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::types::tandem_status;
use crate::client::Client;
use crate::error::{Error, Result};

/// Inputs larger than this are refused rather than parsed (64 MiB).
pub(crate) const MAX_INPUT: usize = 64 << 20;

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Records `err` as this thread's last error.
pub fn set_last_error(err: &Error) {
    let text = CString::new(err.to_string().replace('\0', "\\0")).unwrap_or_default();
    LAST_ERROR.with(|slot| *slot.borrow_mut() = text);
}

/// Pointer to this thread's last error message (valid until the thread's next failing tandem call).
pub fn last_error_ptr() -> *const c_char {
    LAST_ERROR.with(|slot| slot.borrow().as_ptr())
}

fn panic_text(payload: &Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// Runs the body of an exported function: panics become `TANDEM_ERR_PANIC`, errors their status, and both set the
/// last-error message.
pub fn guard(body: impl FnOnce() -> Result<()>) -> tandem_status {
    let err = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => return tandem_status::TANDEM_OK,
        Ok(Err(e)) => e,
        Err(payload) => Error::Panic(panic_text(&payload)),
    };
    set_last_error(&err);
    tandem_status::from(&err)
}

/// Like [`guard`] for functions that cannot return a status: a panic yields `fallback`.
pub fn guard_value<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(v) => v,
        Err(payload) => {
            set_last_error(&Error::Panic(panic_text(&payload)));
            fallback
        }
    }
}

/// Borrows a required C string argument.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that stays valid for the call.
pub unsafe fn arg_str<'a>(p: *const c_char, name: &'static str) -> Result<&'a str> {
    if p.is_null() {
        return Err(Error::NullArgument(name));
    }
    let bytes = CStr::from_ptr(p).to_bytes();
    if bytes.len() > MAX_INPUT {
        return Err(Error::invalid(format!(
            "{name} is larger than the {} MiB limit",
            MAX_INPUT >> 20
        )));
    }
    std::str::from_utf8(bytes).map_err(|e| Error::InvalidUtf8(name, e.to_string()))
}

/// Borrows an optional C string argument (NULL = `None`).
///
/// # Safety
/// As [`arg_str`].
pub unsafe fn opt_str<'a>(p: *const c_char, name: &'static str) -> Result<Option<&'a str>> {
    if p.is_null() {
        Ok(None)
    } else {
        arg_str(p, name).map(Some)
    }
}

/// Borrows the client behind a handle.
///
/// # Safety
/// `p` is NULL or a live pointer from `tandem_client_new`.
pub unsafe fn client<'a>(p: *const super::types::tandem_client) -> Result<&'a Client> {
    client_shared(p).map(|c| &**c)
}

/// Borrows the shared client behind a handle (for what outlives the call, as the remote gateway does).
///
/// # Safety
/// `p` is NULL or a live pointer from `tandem_client_new`.
pub unsafe fn client_shared<'a>(
    p: *const super::types::tandem_client,
) -> Result<&'a std::sync::Arc<Client>> {
    p.as_ref()
        .map(|c| &c.inner)
        .ok_or(Error::NullArgument("client"))
}

/// An out-parameter, checked for NULL before any work is done so a failed call has no side effects.
pub struct Out<T>(*mut T);

impl<T> Out<T> {
    /// Checks `p`.
    pub fn new(p: *mut T, name: &'static str) -> Result<Self> {
        if p.is_null() {
            Err(Error::NullArgument(name))
        } else {
            Ok(Out(p))
        }
    }

    /// Writes the result.
    pub fn write(self, value: T) {
        // SAFETY: non-NULL was checked in `new`; the caller promised a writable location.
        unsafe { self.0.write(value) }
    }
}

/// An optional out-parameter (NULL = the caller does not want it).
pub struct OptOut<T>(*mut T);

impl<T> OptOut<T> {
    /// Wraps `p`.
    pub fn new(p: *mut T) -> Self {
        OptOut(p)
    }

    /// Writes the result if wanted.
    pub fn write(self, value: T) {
        if !self.0.is_null() {
            // SAFETY: the caller passed a writable location or NULL.
            unsafe { self.0.write(value) }
        }
    }
}

impl Out<*mut c_char> {
    /// Writes an owned C string; the caller frees it with `tandem_string_free`.
    pub fn write_string(self, s: String) -> Result<()> {
        let c =
            CString::new(s).map_err(|_| Error::Internal("result contains a NUL byte".into()))?;
        self.write(c.into_raw());
        Ok(())
    }

    /// Writes a JSON document as an owned C string.
    pub fn write_json(self, v: &impl serde::Serialize) -> Result<()> {
        self.write_string(serde_json::to_string(v).map_err(|e| Error::Internal(e.to_string()))?)
    }
}

/// Body of the exported `(client, id, char **out)` queries: checks the out-pointer, the client and the session ID,
/// runs `f`, and writes its result as JSON. Runs inside [`guard`].
///
/// # Safety
/// As [`client`] and [`arg_str`]; `out` is NULL or writable.
pub unsafe fn session_json<T: serde::Serialize>(
    client_ptr: *const super::types::tandem_client,
    id: *const c_char,
    out: *mut *mut c_char,
    f: impl FnOnce(&Client, &str) -> Result<T>,
) -> tandem_status {
    guard(|| {
        let out = Out::new(out, "out")?;
        let id = arg_str(id, "id")?;
        out.write_json(&f(client(client_ptr)?, id)?)
    })
}

/// Body of the exported `(client, id)` commands: checks the client and the session ID and runs `f`. Runs inside
/// [`guard`].
///
/// # Safety
/// As [`client`] and [`arg_str`].
pub unsafe fn session_do(
    client_ptr: *const super::types::tandem_client,
    id: *const c_char,
    f: impl FnOnce(&Client, &str) -> Result<()>,
) -> tandem_status {
    guard(|| {
        let id = arg_str(id, "id")?;
        f(client(client_ptr)?, id)
    })
}

/// Body of the exported `(client, id, const char *arg)` calls: checks the client, the session ID and the string
/// argument `name`, and runs `f`. Runs inside [`guard`].
///
/// # Safety
/// As [`client`] and [`arg_str`].
pub unsafe fn session_arg(
    client_ptr: *const super::types::tandem_client,
    id: *const c_char,
    arg: *const c_char,
    name: &'static str,
    f: impl FnOnce(&Client, &str, &str) -> Result<()>,
) -> tandem_status {
    guard(|| {
        let id = arg_str(id, "id")?;
        let arg = arg_str(arg, name)?;
        f(client(client_ptr)?, id, arg)
    })
}

/// Frees a string made by [`Out::write_string`].
///
/// # Safety
/// `p` is NULL or came from tandem and was not freed before.
pub unsafe fn free_string(p: *mut c_char) {
    if !p.is_null() {
        drop(CString::from_raw(p));
    }
}

/// A static C string.
pub fn static_str(s: &'static CStr) -> *const c_char {
    s.as_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn last() -> String {
        // SAFETY: the pointer is this thread's live last-error string.
        unsafe { CStr::from_ptr(last_error_ptr()) }
            .to_str()
            .unwrap()
            .to_string()
    }

    #[test]
    fn panics_become_a_status_and_a_message() {
        let status = guard(|| panic!("kaboom"));
        assert_eq!(status, tandem_status::TANDEM_ERR_PANIC);
        assert_eq!(last(), "internal panic: kaboom");
        assert_eq!(guard_value(7, || panic!("again")), 7);
        assert_eq!(last(), "internal panic: again");
    }

    #[test]
    fn errors_set_the_message_and_success_keeps_the_last_failure() {
        assert_eq!(
            guard(|| Err(Error::no_session("x"))),
            tandem_status::TANDEM_ERR_NOT_FOUND
        );
        assert!(last().contains("\"x\""));
        assert_eq!(guard(|| Ok(())), tandem_status::TANDEM_OK);
        assert!(last().contains("\"x\""));
    }

    #[test]
    fn arguments_are_checked() {
        // SAFETY: NULL and valid NUL-terminated literals.
        unsafe {
            assert!(matches!(
                arg_str(std::ptr::null(), "id"),
                Err(Error::NullArgument("id"))
            ));
            assert!(matches!(
                arg_str(c"\xff\xfe".as_ptr(), "id"),
                Err(Error::InvalidUtf8("id", _))
            ));
            assert_eq!(arg_str(c"ok".as_ptr(), "id").unwrap(), "ok");
            assert_eq!(opt_str(std::ptr::null(), "id").unwrap(), None);
        }
        assert!(matches!(
            Out::<u32>::new(std::ptr::null_mut(), "out"),
            Err(Error::NullArgument("out"))
        ));
    }
}
