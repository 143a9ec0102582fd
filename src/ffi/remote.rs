//! Exported remote gateway functions: serving a client's sessions over WebSocket (docs/remote.md).

use std::ffi::c_char;

use super::boundary::{client_shared, guard, opt_str, Out};
use super::types::{tandem_client, tandem_status};

/// Starts the client's remote gateway: a WebSocket server speaking JSON-RPC 2.0 (protocol in docs/remote.md) through
/// which other processes attach to this client's sessions with a session's token (`tandem_session_token`), as the
/// driver or as viewers, and catch up on its events from a cursor.
///
/// `options_json` may be NULL for defaults. Keys: `address` (IP:port, default `127.0.0.1:0`, port 0 = any free
/// one), `tls` {`cert_file`, `key_file`} (PEM files; the gateway then speaks `wss://`), `insecure` (default false:
/// without `tls`, an address that is not loopback is refused with `TANDEM_ERR_INVALID_ARGUMENT` unless this is
/// true), `gateway_token_file` (a file whose first line is the gateway token, which lets a peer list and start
/// sessions; at least 16 characters), `gateway_token_env` (the environment variable holding it instead, default
/// `TANDEM_GATEWAY_TOKEN`; without either, listing and starting sessions is refused), `max_message_bytes` (largest
/// request, default 1048576), `max_queued_events` / `max_queued_bytes` (per connection, default 4096 / 8388608:
/// past half of them a slow peer's deltas are merged, past them its events are dropped for an `events_dropped`
/// notification), `max_connections` (default 1024), `auth_failures_per_minute` (per peer address, default 10),
/// `ping_interval_ms` (default 30000: a connection silent for twice this, pongs included, is closed),
/// `token_max_age_s` (default none: session tokens older than this since they were issued no longer attach; a peer
/// with the gateway token renews one with `sessions.renew_token`). A token is never accepted in the options.
/// Unknown keys are rejected.
///
/// On success `*address_out` is the URL to connect to (e.g. `ws://127.0.0.1:40123`), a string the caller owns:
/// free it with `tandem_string_free`. `TANDEM_ERR_ALREADY_EXISTS` while the client listens already,
/// `TANDEM_ERR_IO` when the address cannot be bound or a TLS file read, `TANDEM_ERR_NOT_SUPPORTED` in a build without
/// the `remote` feature. The gateway stops with `tandem_client_stop_listening` or the client's shutdown.
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn tandem_client_listen(
    client: *mut tandem_client,
    options_json: *const c_char,
    address_out: *mut *mut c_char,
) -> tandem_status {
    guard(|| {
        let out = Out::new(address_out, "address_out")?;
        let options = opt_str(options_json, "options_json")?;
        let address = client_shared(client)?.listen(options)?;
        out.write_string(address)
    })
}

/// Stops the client's remote gateway: no new connections, and every attached peer is disconnected (its role and
/// subscription end). Sessions keep running. Succeeds (doing nothing) when the client is not listening.
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn tandem_client_stop_listening(client: *mut tandem_client) -> tandem_status {
    guard(|| client_shared(client)?.stop_listening())
}
