//! Two processes on loopback: the tandem-server executable, and peers written against Python's `websockets` (pinned
//! in tools/remote/requirements.lock, installed by scripts/install-remote-py.sh, or `TANDEM_REMOTE_PYTHON`): a
//! driver and a viewer, and a kill -9 of the gateway mid-turn followed by a restart on the same store.
#![cfg(feature = "remote")]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

const GATEWAY_TOKEN: &str = "test-gateway-token-0123456789";

/// The venv python holding `websockets`.
fn python() -> String {
    if let Ok(p) = std::env::var("TANDEM_REMOTE_PYTHON") {
        return p;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/install-remote-py.sh");
    let out = Command::new(&script)
        .stderr(Stdio::inherit())
        .output()
        .expect("run scripts/install-remote-py.sh");
    assert!(
        out.status.success(),
        "scripts/install-remote-py.sh failed (these tests need python3 >= 3.9 with venv, and PyPI once)"
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn tempdir(what: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tandem-remote-py-{what}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A running tandem-server; killed (SIGKILL) when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(dir: &Path) -> Server {
        let token_file = dir.join("gateway-token");
        std::fs::write(&token_file, format!("{GATEWAY_TOKEN}\n")).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_tandem-server"))
            .arg("--store-dir")
            .arg(dir.join("store"))
            .args(["--listen", "127.0.0.1:0", "--gateway-token-file"])
            .arg(&token_file)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start tandem-server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("tandem-server said {line:?}"))
            .to_string();
        Server { child, url }
    }

    fn kill9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn peers(py: &str) -> Command {
    let mut c = Command::new(py);
    c.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/remote_py/peers.py"));
    c
}

/// Runs a scenario to its end; its one JSON line.
fn scenario(py: &str, args: &[&str]) -> Value {
    let out = peers(py)
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(out.status.success(), "peers.py {args:?} failed");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("peers.py {args:?}: {e}"))
}

#[test]
fn a_python_driver_and_viewer_follow_one_session_of_a_gateway_process() {
    let py = python();
    let dir = tempdir("drive");
    let server = Server::start(&dir);
    let r = scenario(&py, &["drive", &server.url, GATEWAY_TOKEN]);
    assert_eq!(r["driver_role"], "driver");
    assert_eq!(r["viewer_role"], "viewer");
    assert_eq!(r["refused"]["data"]["error"], "not_driver", "{r}");
    assert_eq!(r["sent"], "sent");
    assert_eq!(r["viewer_text"], "Hello remote");
    assert_eq!(r["driver_seqs"], r["viewer_seqs"]);
    drop(server);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_gateway_killed_mid_turn_restarts_on_its_store_and_the_conversation_is_there() {
    let py = python();
    let dir = tempdir("kill9");
    let mut server = Server::start(&dir);
    let mut turn = peers(&py)
        .args(["start_turn", &server.url, GATEWAY_TOKEN])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(turn.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let started: Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("start_turn said {line:?}: {e}"));
    // Mid-turn: the script still has seconds of text to stream.
    server.kill9();
    assert!(turn.wait().unwrap().success());
    let server = Server::start(&dir);
    let seq = started["seq"].to_string();
    let r = scenario(
        &py,
        &[
            "reattach",
            &server.url,
            started["session_id"].as_str().unwrap(),
            started["token"].as_str().unwrap(),
            started["stream"].as_str().unwrap(),
            &seq,
        ],
    );
    // A new process counts a new stream: the old cursor cannot be continued, so the conversation comes whole.
    assert_eq!(r["resync"], true, "{r}");
    assert_eq!(r["role"], "driver");
    let texts: Vec<&str> = r["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(
        texts.iter().any(|t| t.contains("a long answer, please")),
        "the prompt is in the restored conversation: {texts:?}"
    );
    assert!(
        texts.iter().any(|t| t.contains("interrupted")),
        "the interrupted turn is marked: {texts:?}"
    );
    drop(server);
    std::fs::remove_dir_all(dir).unwrap();
}
