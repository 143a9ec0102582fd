//! A build without the `mcp` feature (`cargo test --no-default-features --test no_mcp`): MCP configuration is still
//! checked, then refused with `NotSupported` (`TANDEM_ERR_NOT_SUPPORTED` at the C API), and sessions without it work
//! as usual and report no servers.
#![cfg(not(feature = "mcp"))]

mod common;

use std::ffi::{CStr, CString};
use std::ptr;

use common::*;
use tandem::error::Error;
use tandem::ffi::client::{tandem_client_free, tandem_client_new, tandem_string_free};
use tandem::ffi::mcp::tandem_session_mcp_servers;
use tandem::ffi::session::tandem_session_start;
use tandem::ffi::types::tandem_status;
use tandem::Client;

const SERVERS: &str = r#"{"files": {"command": "mcp-server", "args": ["."]}}"#;

#[test]
fn mcp_configuration_is_refused_with_not_supported() {
    let err = Client::new(Some(&format!(
        r#"{{"store_dir": null, "mcp_servers": {SERVERS}}}"#
    )))
    .err()
    .expect("a client with MCP servers is refused");
    assert!(
        matches!(err, Error::NotSupported(ref m) if m.contains("mcp")),
        "{err:?}"
    );

    let c = client();
    let err = c
        .start_session(Some(&format!(
            r#"{{"model": "scripted:echo", "mcp_servers": {SERVERS}}}"#
        )))
        .expect_err("a session with MCP servers is refused");
    assert!(matches!(err, Error::NotSupported(_)), "{err:?}");
    // Malformed configuration is still reported as such, not as unsupported.
    let err = c
        .start_session(Some(
            r#"{"model": "scripted:echo", "mcp_servers": [{"command": "c"}]}"#,
        ))
        .expect_err("a server without a name is refused");
    assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
    // An empty list configures nothing and is accepted.
    let id = c
        .start_session(Some(r#"{"model": "scripted:echo", "mcp_servers": {}}"#))
        .expect("an empty server list is fine");
    assert_eq!(c.mcp_servers(&id).unwrap(), serde_json::json!([]));
}

#[test]
fn the_c_api_reports_not_supported_for_mcp_configuration() {
    let config = CString::new(format!(
        r#"{{"store_dir": null, "mcp_servers": {SERVERS}}}"#
    ))
    .unwrap();
    let mut c = ptr::null_mut();
    let status = unsafe { tandem_client_new(config.as_ptr(), &mut c) };
    assert_eq!(status, tandem_status::TANDEM_ERR_NOT_SUPPORTED);
    assert!(c.is_null());

    let config = CString::new(r#"{"store_dir": null}"#).unwrap();
    assert_eq!(
        unsafe { tandem_client_new(config.as_ptr(), &mut c) },
        tandem_status::TANDEM_OK
    );
    let options = CString::new(format!(
        r#"{{"model": "scripted:echo", "mcp_servers": {SERVERS}}}"#
    ))
    .unwrap();
    let mut id = ptr::null_mut();
    let status = unsafe { tandem_session_start(c, options.as_ptr(), &mut id) };
    assert_eq!(status, tandem_status::TANDEM_ERR_NOT_SUPPORTED);

    let options = CString::new(r#"{"model": "scripted:echo"}"#).unwrap();
    assert_eq!(
        unsafe { tandem_session_start(c, options.as_ptr(), &mut id) },
        tandem_status::TANDEM_OK
    );
    let mut out = ptr::null_mut();
    assert_eq!(
        unsafe { tandem_session_mcp_servers(c, id, &mut out) },
        tandem_status::TANDEM_OK
    );
    assert_eq!(unsafe { CStr::from_ptr(out) }.to_str().unwrap(), "[]");
    unsafe {
        tandem_string_free(out);
        tandem_string_free(id);
        tandem_client_free(c);
    }
}
