//! tandem-acp driven end to end by the official ACP TypeScript SDK (`@agentclientprotocol/sdk`, pinned in
//! tools/acp/package-lock.json and installed by scripts/install-acp.sh, or found through `TANDEM_ACP_SDK_DIR`) as an
//! editor drives it: tests/acp/driver.mjs runs one editor session and reports what it saw; these tests check it.
#![cfg(feature = "acp")]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// A guard against a hung driver (not a timing assertion): a run far beyond any normal one is killed and fails.
const HANG: Duration = Duration::from_secs(180);

/// The SDK's install directory and the `node` to run the driver with. Fails, never skips, without npm.
fn sdk() -> &'static (PathBuf, String) {
    static DIR: OnceLock<(PathBuf, String)> = OnceLock::new();
    DIR.get_or_init(|| common::npm_install("install-acp.sh", "TANDEM_ACP_SDK_DIR"))
}

/// A temp directory (a workdir and a store) removed on drop.
struct Dirs(PathBuf);

impl Dirs {
    fn new(name: &str) -> Dirs {
        let p = std::env::temp_dir().join(format!("tandem-acp-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(p.join("work")).unwrap();
        Dirs(p.canonicalize().unwrap())
    }

    fn work(&self) -> PathBuf {
        self.0.join("work")
    }

    /// tandem-acp's arguments: this store, and a config whose sessions run `script` on the scripted model.
    fn args(&self, script: Value) -> Vec<String> {
        let config = self.0.join("config.json");
        let c = json!({"session_defaults": {"model": "scripted:script", "script": script}});
        std::fs::write(&config, c.to_string()).unwrap();
        vec![
            "--store-dir".into(),
            self.0.join("store").display().to_string(),
            "--config".into(),
            config.display().to_string(),
        ]
    }
}

impl Drop for Dirs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the driver on `spec` (completed with the agent's path and the workdir) and returns its report.
fn drive(dirs: &Dirs, mut spec: Value) -> Value {
    let (dir, node) = sdk();
    spec["agent"] = json!(env!("CARGO_BIN_EXE_tandem-acp"));
    if spec.get("cwd").is_none() {
        spec["cwd"] = json!(dirs.work());
    }
    let driver = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/acp/driver.mjs");
    let mut child = Command::new(node)
        .arg(driver)
        .arg(dir)
        .arg(spec.to_string())
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("OPENAI_API_KEY")
        .stdout(Stdio::piped())
        .spawn()
        .expect("run node");
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > HANG {
            let _ = child.kill();
            panic!("the driver hung: {spec}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "driver failed: {spec}");
    let report: Value = serde_json::from_slice(&out.stdout).expect("the driver's report");
    assert_eq!(
        report["exit_code"], 0,
        "tandem-acp exits cleanly when the editor closes: {report}"
    );
    report
}

fn updates<'a>(report: &'a Value, kind: &str) -> Vec<&'a Value> {
    report["updates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["sessionUpdate"] == kind)
        .collect()
}

fn chunks(report: &Value, kind: &str) -> Vec<String> {
    updates(report, kind)
        .iter()
        .map(|u| u["content"]["text"].as_str().unwrap().to_string())
        .collect()
}

/// The last `tool_call_update` of call `id`.
fn last_update<'a>(report: &'a Value, id: &str) -> &'a Value {
    updates(report, "tool_call_update")
        .into_iter()
        .rev()
        .find(|u| u["toolCallId"] == id)
        .unwrap_or_else(|| panic!("no update of {id}: {report}"))
}

fn write_call(id: &str, path: &str, content: &str) -> Value {
    json!({"tool_call": {"id": id, "name": "write_file", "args": {"path": path, "content": content}}})
}

#[test]
fn initialize_then_a_prompt_streams_its_chunks_and_ends_the_turn() {
    let d = Dirs::new("stream");
    let script = json!([[{"thinking": "hm"}, {"text": "Hel"}, {"text": "lo"}]]);
    let r = drive(&d, json!({"args": d.args(script), "prompts": ["hi"]}));
    let caps = &r["init"]["agentCapabilities"];
    assert_eq!(r["init"]["protocolVersion"], 1);
    assert_eq!(caps["loadSession"], true);
    assert_eq!(caps["promptCapabilities"]["image"], true);
    assert_eq!(caps["promptCapabilities"]["embeddedContext"], true);
    assert_eq!(r["init"]["agentInfo"]["name"], "tandem");
    assert!(r["session_id"].as_str().unwrap().starts_with("acp-"));
    assert_eq!(chunks(&r, "agent_thought_chunk"), ["hm"]);
    assert_eq!(chunks(&r, "agent_message_chunk"), ["Hel", "lo"]);
    assert_eq!(r["stop_reasons"], json!(["end_turn"]), "{r}");
}

#[test]
fn an_allowed_write_asks_permission_and_goes_through_the_editor() {
    let d = Dirs::new("allow");
    let script = json!([[write_call("w1", "out.txt", "x\n")], [{"text": "done"}]]);
    let spec = json!({"args": d.args(script), "prompts": ["write"], "permission": "allow_once",
        "fs": {"read": true, "write": true}});
    let r = drive(&d, spec);
    let p = &r["permissions"][0];
    assert_eq!(p["toolCall"]["toolCallId"], "w1");
    assert_eq!(p["toolCall"]["kind"], "edit");
    let kinds: Vec<&Value> = p["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| &o["kind"])
        .collect();
    assert_eq!(
        kinds,
        [
            &json!("allow_once"),
            &json!("allow_always"),
            &json!("reject_once")
        ]
    );
    let path = d.work().join("out.txt");
    assert_eq!(r["writes"], json!([{"path": path, "content": "x\n"}]));
    assert!(!path.exists(), "the editor wrote it, not tandem");
    let end = last_update(&r, "w1");
    assert_eq!(end["status"], "completed");
    assert_eq!(
        end["content"][0],
        json!({"type": "diff", "path": path, "newText": "x\n"})
    );
    let call = updates(&r, "tool_call")[0];
    assert_eq!(call["locations"][0]["path"], json!(path));
    assert_eq!(r["stop_reasons"], json!(["end_turn"]));
}

#[test]
fn a_refused_write_fails_and_writes_nothing() {
    let d = Dirs::new("reject");
    let script = json!([[write_call("w1", "out.txt", "x\n")], [{"text": "ok"}]]);
    for fs in [true, false] {
        let spec = json!({"args": d.args(script.clone()), "prompts": ["write"], "permission": "reject",
            "fs": {"read": fs, "write": fs}});
        let r = drive(&d, spec);
        assert_eq!(r["permissions"].as_array().unwrap().len(), 1);
        assert_eq!(r["writes"], json!([]));
        assert_eq!(last_update(&r, "w1")["status"], "failed");
        assert!(!d.work().join("out.txt").exists());
        assert_eq!(r["stop_reasons"], json!(["end_turn"]));
    }
}

#[test]
fn without_client_fs_tandem_writes_the_disk_itself() {
    let d = Dirs::new("disk");
    let script = json!([[write_call("w1", "out.txt", "x\n")], [{"text": "ok"}]]);
    let spec = json!({"args": d.args(script), "prompts": ["write"], "permission": "allow_once"});
    let r = drive(&d, spec);
    assert_eq!(r["writes"], json!([]));
    assert_eq!(
        std::fs::read_to_string(d.work().join("out.txt")).unwrap(),
        "x\n"
    );
}

#[test]
fn allow_always_trusts_the_tool_for_the_rest_of_the_session() {
    let d = Dirs::new("always");
    let script = json!([[write_call("w1", "a.txt", "a\n")], [write_call("w2", "b.txt", "b\n")], [{"text": "ok"}]]);
    let spec = json!({"args": d.args(script), "prompts": ["write"], "permission": "allow_always",
        "fs": {"read": true, "write": true}});
    let r = drive(&d, spec);
    assert_eq!(r["permissions"].as_array().unwrap().len(), 1, "{r}");
    assert_eq!(r["writes"].as_array().unwrap().len(), 2);
    assert_eq!(last_update(&r, "w2")["status"], "completed");
}

#[test]
fn cancel_mid_stream_ends_the_turn_cancelled() {
    let d = Dirs::new("cancel");
    let script =
        json!([[{"text": "start"}, {"delay_ms": 600000}, {"text": "never"}], [{"text": "after"}]]);
    let spec = json!({"args": d.args(script), "prompts": ["go"], "cancel_after_chunk": true});
    let r = drive(&d, spec);
    assert_eq!(r["stop_reasons"], json!(["cancelled"]), "{r}");
    assert_eq!(chunks(&r, "agent_message_chunk"), ["start"]);
}

#[test]
fn a_permission_cancelled_by_the_editor_leaves_nothing_pending() {
    let d = Dirs::new("permcancel");
    let script = json!([[write_call("w1", "out.txt", "x\n")], [{"text": "ok"}]]);
    let spec = json!({"args": d.args(script), "prompts": ["write"], "permission": "cancel",
        "cancel_after_chunk": false, "fs": {"read": true, "write": true}});
    // The editor answers `cancelled` without cancelling the turn: tandem must not run the call, and the process
    // still ends cleanly when the editor goes (checked by `drive`).
    let r = drive(&d, spec);
    assert_eq!(r["writes"], json!([]));
    assert_eq!(last_update(&r, "w1")["status"], "failed");
    assert_eq!(r["stop_reasons"], json!(["end_turn"]));
}

#[test]
fn a_session_loads_after_a_restart_with_its_history_replayed() {
    let d = Dirs::new("load");
    let first = drive(
        &d,
        json!({"args": d.args(json!([[{"text": "Hello"}]])), "prompts": ["hi"]}),
    );
    let id = first["session_id"].as_str().unwrap();
    let spec = json!({"args": d.args(json!([[{"text": "again"}]])), "list": true, "load": id, "prompts": ["more"]});
    let r = drive(&d, spec);
    let listed: Vec<&Value> = r["list"]["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["sessionId"])
        .collect();
    assert_eq!(listed, [&json!(id)]);
    let replayed: Vec<(String, String)> = r["updates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["sessionUpdate"].as_str().unwrap().into(),
                u["content"]["text"].as_str().unwrap().into(),
            )
        })
        .collect();
    let want = [
        ("user_message_chunk", "hi"),
        ("agent_message_chunk", "Hello"),
        ("agent_message_chunk", "again"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(replayed, want, "history first, then the new turn");
    assert_eq!(r["stop_reasons"], json!(["end_turn"]));
}

#[test]
fn client_fs_reads_the_editor_buffer_and_a_path_escaping_the_workdir_is_refused() {
    let d = Dirs::new("fs");
    std::fs::write(d.work().join("a.txt"), "on disk\n").unwrap();
    std::fs::write(d.0.join("outside.txt"), "secret\n").unwrap();
    let read = |id: &str, path: &str| json!({"tool_call": {"id": id, "name": "read_file", "args": {"path": path}}});
    let script = json!([[read("r1", "a.txt")], [read("r2", "../outside.txt")], [{"text": "ok"}]]);
    let a = d.work().join("a.txt");
    let mut buffers = serde_json::Map::new();
    buffers.insert(a.display().to_string(), json!("unsaved\n"));
    let spec = json!({"args": d.args(script), "prompts": ["read"], "buffers": buffers,
        "fs": {"read": true, "write": true}});
    let r = drive(&d, spec);
    assert_eq!(
        r["reads"],
        json!([a]),
        "only the file inside the workdir reaches the editor"
    );
    let r1 = last_update(&r, "r1");
    assert_eq!(
        (&r1["status"], &r1["content"][0]["content"]["text"]),
        (&json!("completed"), &json!("unsaved\n"))
    );
    let r2 = last_update(&r, "r2");
    assert_eq!(r2["status"], "failed");
    assert!(
        r2["content"][0]["content"]["text"]
            .as_str()
            .unwrap()
            .contains("escapes"),
        "{r2}"
    );
}

#[test]
fn plan_mode_refuses_writes() {
    let d = Dirs::new("plan");
    let script = json!([[write_call("w1", "out.txt", "x\n")], [{"text": "ok"}]]);
    let spec = json!({"args": d.args(script), "prompts": ["write"], "mode": "plan", "permission": "allow_once"});
    let r = drive(&d, spec);
    assert_eq!(
        updates(&r, "current_mode_update")[0]["currentModeId"],
        "plan"
    );
    assert_eq!(last_update(&r, "w1")["status"], "failed");
    assert!(!d.work().join("out.txt").exists());
}

#[test]
fn model_and_thinking_are_config_options_the_editor_sets() {
    let d = Dirs::new("config");
    let spec = json!({"args": d.args(json!([[{"text": "ok"}]])), "prompts": ["hi"],
        "config": [["thinking", "high"], ["model", "scripted:echo"], ["colour", "blue"]]});
    let r = drive(&d, spec);
    let opened = &r["opened"]["configOptions"];
    assert_eq!(
        (&opened[0]["id"], &opened[0]["currentValue"]),
        (&json!("model"), &json!("scripted:script"))
    );
    assert_eq!(
        (&opened[1]["id"], &opened[1]["currentValue"]),
        (&json!("thinking"), &json!("off"))
    );
    assert_eq!(r["config"][0]["configOptions"][1]["currentValue"], "high");
    assert_eq!(
        r["config"][1]["configOptions"][0]["currentValue"],
        "scripted:echo"
    );
    assert!(
        r["config"][2]["error"].as_str().unwrap().contains("colour"),
        "{r}"
    );
    assert_eq!(r["stop_reasons"], json!(["end_turn"]));
}

#[test]
fn with_no_key_and_no_model_it_runs_the_offline_demo() {
    let d = Dirs::new("demo");
    std::fs::write(d.work().join("README.md"), "# demo\nTODO: a thing\n").unwrap();
    let store = d.0.join("store").display().to_string();
    let r = drive(
        &d,
        json!({"args": ["--store-dir", store], "prompts": ["tour"], "permission": "reject"}),
    );
    assert_eq!(r["stop_reasons"], json!(["end_turn"]), "{r}");
    assert!(!chunks(&r, "agent_message_chunk").is_empty());
    assert!(
        !updates(&r, "tool_call").is_empty(),
        "the demo tours the workdir with tools"
    );
}

#[test]
fn help_documents_the_options() {
    let out = Command::new(env!("CARGO_BIN_EXE_tandem-acp"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for opt in [
        "--store-dir",
        "--model",
        "--config",
        "ANTHROPIC_API_KEY",
        "scripted:demo",
    ] {
        assert!(help.contains(opt), "--help names {opt}");
    }
    let bad = Command::new(env!("CARGO_BIN_EXE_tandem-acp"))
        .arg("--nope")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}
