//! tandem-server: a headless tandem client with a conversation store, serving its sessions through the remote
//! gateway (docs/remote.md) until SIGINT or SIGTERM.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map, Value};

const HELP: &str = "\
tandem-server: serve tandem sessions over WebSocket (JSON-RPC 2.0; see docs/remote.md)

USAGE:
    tandem-server [OPTIONS]

OPTIONS:
    --store-dir DIR             conversation store (default $XDG_DATA_HOME/tandem, else ~/.local/share/tandem);
                                sessions stored there are restored when a peer attaches with their token
    --listen ADDR               IP:port to listen on (default 127.0.0.1:7700; port 0 = any free port)
    --cert FILE                 TLS certificate chain (PEM); with --key, the gateway speaks wss://
    --key FILE                  TLS private key (PEM)
    --insecure                  allow plain ws:// on an address that is not loopback (tokens travel in clear)
    --gateway-token-file FILE   file whose first line is the gateway token (listing and starting sessions);
                                default: the environment variable TANDEM_GATEWAY_TOKEN, else none
    --config JSON               more client config (tandem_client_new keys, e.g. session_defaults)
    --listen-options JSON       more listen options (tandem_client_listen keys, e.g. max_connections)
    -h, --help                  print this help

On start it prints one line, `listening on <url>`, to standard output. Peers attach to a session with its
token (tandem_session_token, or sessions.start with the gateway token). Stop it with SIGINT or SIGTERM.
";

fn object(flag: &str, text: &str) -> Result<Map<String, Value>, String> {
    match serde_json::from_str(text) {
        Ok(Value::Object(o)) => Ok(o),
        _ => Err(format!("{flag} must be a JSON object")),
    }
}

/// The client config and listen options from the command line.
fn parse(args: &[String]) -> Result<Option<(Value, Value)>, String> {
    let mut config = Map::new();
    let mut listen = Map::new();
    let (mut cert, mut key) = (None, None);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match a.as_str() {
            "-h" | "--help" => return Ok(None),
            "--store-dir" => {
                config.insert("store_dir".into(), json!(value(a)?));
            }
            "--listen" => {
                listen.insert("address".into(), json!(value(a)?));
            }
            "--cert" => cert = Some(value(a)?),
            "--key" => key = Some(value(a)?),
            "--insecure" => {
                listen.insert("insecure".into(), json!(true));
            }
            "--gateway-token-file" => {
                listen.insert("gateway_token_file".into(), json!(value(a)?));
            }
            "--config" => config.extend(object(a, &value(a)?)?),
            "--listen-options" => listen.extend(object(a, &value(a)?)?),
            other => return Err(format!("unknown argument {other:?} (see --help)")),
        }
    }
    match (cert, key) {
        (Some(c), Some(k)) => {
            listen.insert("tls".into(), json!({"cert_file": c, "key_file": k}));
        }
        (None, None) => {}
        _ => return Err("--cert and --key go together".into()),
    }
    listen
        .entry("address")
        .or_insert_with(|| json!("127.0.0.1:7700"));
    Ok(Some((Value::Object(config), Value::Object(listen))))
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((config, listen)) = parse(&args)? else {
        print!("{HELP}");
        return Ok(());
    };
    let client =
        Arc::new(tandem::Client::new(Some(&config.to_string())).map_err(|e| e.to_string())?);
    let address = client
        .listen(Some(&listen.to_string()))
        .map_err(|e| e.to_string())?;
    println!("listening on {address}");
    let signals = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot wait for signals: {e}"))?;
    signals.block_on(async {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            _ = term.recv() => {},
        }
        Ok::<(), String>(())
    })?;
    client
        .shutdown(Duration::from_secs(10))
        .map_err(|e| e.to_string())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("tandem-server: {e}");
        std::process::exit(2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flags_become_config_and_listen_options() {
        let (c, l) = parse(&args(&[
            "--store-dir",
            "/s",
            "--listen",
            "0.0.0.0:1",
            "--cert",
            "c.pem",
            "--key",
            "k.pem",
            "--gateway-token-file",
            "t",
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(c, json!({"store_dir": "/s"}));
        assert_eq!(
            l,
            json!({"address": "0.0.0.0:1", "tls": {"cert_file": "c.pem", "key_file": "k.pem"},
                   "gateway_token_file": "t"})
        );
        assert!(parse(&args(&["--help"])).unwrap().is_none());
        assert!(parse(&args(&["--cert", "c"])).is_err());
        assert!(parse(&args(&["--listen"])).is_err());
        assert!(parse(&args(&["--bogus"])).is_err());
        assert!(parse(&args(&["--config", "[]"])).is_err());
    }
}
