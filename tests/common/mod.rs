//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use serde_json::Value;
use tandem::{Client, Error};

/// A client with small restart delays and no persistence.
pub fn client() -> Client {
    Client::new(Some(r#"{"store_dir": null}"#)).expect("client starts")
}

/// Pulls events until one matches `pred` (returning it) or `timeout` passes (panicking with what was seen).
pub fn wait_for(
    c: &Client,
    timeout: Duration,
    mut pred: impl FnMut(&Value) -> bool,
) -> (Value, Vec<Value>) {
    let deadline = Instant::now() + timeout;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match c.next_event(left) {
            Ok(e) => {
                let v: Value = serde_json::from_str(&e.to_json()).unwrap();
                seen.push(v.clone());
                if pred(&v) {
                    return (v, seen);
                }
            }
            Err(Error::Timeout(_)) => panic!("timed out; saw {:#?}", seen),
            Err(e) => panic!("next_event failed: {e}; saw {seen:#?}"),
        }
    }
}

/// Waits for `turn_ended` of session `id`.
pub fn turn_end(c: &Client, id: &str) -> (Value, Vec<Value>) {
    wait_for(c, Duration::from_secs(10), |e| {
        e["kind"] == "turn_ended" && e["session_id"] == id
    })
}

/// The concatenated text deltas of session `id` in `events`.
pub fn text_of(events: &[Value], id: &str) -> String {
    events
        .iter()
        .filter(|e| e["kind"] == "text_delta" && e["session_id"] == id)
        .map(|e| e["delta"].as_str().unwrap().to_string())
        .collect()
}

/// Retries `f` while the session is restarting.
pub fn retry_pending<T>(mut f: impl FnMut() -> Result<T, Error>) -> Result<T, Error> {
    for _ in 0..500 {
        match f() {
            Err(Error::RestartPending(_)) => std::thread::sleep(Duration::from_millis(5)),
            other => return other,
        }
    }
    f()
}

/// Waits until `count` reaches `want`: a replaced callback's userdata is released once its last running call has
/// returned, which may be a moment after the call that replaced it. Panics after 10 s with the count seen.
pub fn released_within(count: &std::sync::atomic::AtomicUsize, want: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = count.load(std::sync::atomic::Ordering::SeqCst);
        if now == want {
            return;
        }
        assert!(
            now < want && Instant::now() < deadline,
            "released {now} times, want {want}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The user messages of session `id`, oldest first.
pub fn user_messages(c: &Client, id: &str) -> Vec<Value> {
    c.messages(id)
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == "user")
        .cloned()
        .collect()
}

/// Whether the tests run as root (the effective user of /proc/self), as CI does on its Linux machine.
pub fn is_root() -> bool {
    std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self").unwrap()) == 0
}

/// Marks test `test` as not run here because of `why`. As root (CI runs as root on Linux, where every such test must
/// run) it fails instead. Otherwise it prints `SKIPPED` and appends a line to the file `TANDEM_SKIPPED_LOG` names,
/// so `scripts/test-all.sh` lists the test as skipped in its summary instead of counting it as passed.
pub fn cannot_run(test: &str, why: &str) {
    assert!(
        !is_root(),
        "{test} could not run although this is root, where it must: {why}"
    );
    println!("SKIPPED: {test}: {why}");
    if let Some(log) = std::env::var_os("TANDEM_SKIPPED_LOG") {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("TANDEM_SKIPPED_LOG is writable");
        writeln!(f, "{test} ({why})").expect("TANDEM_SKIPPED_LOG is writable");
    }
}

pub mod acp;
pub mod http_mock;

/// The tool call messages of session `id`, in order.
pub fn tool_calls(c: &Client, id: &str) -> Vec<Value> {
    c.messages(id)
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == "tool_call")
        .cloned()
        .collect()
}

/// A one-part text prompt.
pub fn prompt(t: &str) -> Vec<tandem::session::transcript::ContentPart> {
    vec![tandem::session::transcript::ContentPart::Text { text: t.into() }]
}

/// A fresh, canonical directory under the temp dir named after the test file (`prefix`) and the test (`name`).
pub fn fresh_dir(prefix: &str, name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "tandem-{prefix}-{name}-{}-{}",
        std::process::id(),
        tandem::time::mono_ms()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d.canonicalize().unwrap()
}

/// Waits for the end of the turn of the read-a-file scenario the provider tests share (thought "Need the file.",
/// "Reading.", a `read_file` call whose result has "alpha", "It says alpha."), checks its events and returns them.
pub fn read_round(c: &Client, id: &str) -> (Value, Vec<Value>) {
    let (end, events) = turn_end(c, id);
    assert_eq!(end["reason"], "completed", "{events:#?}");
    assert_eq!(text_of(&events, id), "Reading.It says alpha.");
    assert!(events
        .iter()
        .any(|e| e["kind"] == "thinking_delta" && e["delta"] == "Need the file."));
    assert!(events
        .iter()
        .any(|e| e["kind"] == "tool_ended" && e["result"].as_str().unwrap().contains("alpha")));
    (end, events)
}

/// Runs `scripts/<script>` (an npm install of pinned packages: install-mcp.sh, install-acp.sh) and returns the
/// directory it printed and the `node` to run them with; the directory in `$override_var` instead when that is set.
/// Fails, never skips, without npm.
pub fn npm_install(script: &str, override_var: &str) -> (std::path::PathBuf, String) {
    if let Some(d) = std::env::var_os(override_var) {
        return (std::path::PathBuf::from(d), "node".into());
    }
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(script);
    let out = std::process::Command::new("bash")
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("run scripts/{script}: {e}"));
    assert!(
        out.status.success(),
        "scripts/{script} failed (it needs npm and Node.js >= 20): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let mut lines = stdout.lines();
    let dir = std::path::PathBuf::from(lines.next().unwrap());
    (dir, lines.next().unwrap_or("node").to_string())
}

/// A validator for definition `def` of the JSON Schema file `file` (relative to the crate root).
pub fn schema_validator(file: &str, def: &str) -> jsonschema::Validator {
    let mut root: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    root["$ref"] = serde_json::json!(format!("#/$defs/{def}"));
    jsonschema::validator_for(&root)
        .unwrap_or_else(|e| panic!("schema {def} does not compile: {e}"))
}

/// Fails unless `doc` validates against definition `def` of `file`, listing every error.
pub fn check_schema(file: &str, def: &str, doc: &Value) {
    let errors: Vec<String> = schema_validator(file, def)
        .iter_errors(doc)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "{def} rejects {doc:#}:\n{}",
        errors.join("\n")
    );
}
