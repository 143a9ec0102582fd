//! Tests of `shell`: output and exit status, streamed progress, and that timeouts, exits and cancellation leave no
//! process of the command's group behind.

use std::sync::{Arc, Mutex};

use serde_json::json;

use super::*;
use crate::tools::testutil::TempDir;

async fn sh(root: &Path, args: Value) -> ToolOutcome {
    run(root, &Policy::default(), &args, &ToolContext::new("c")).await
}

/// Without the sandbox, so that `$$` and `$!` are pids of this test's namespace (in the sandbox they are pids of
/// the call's own PID namespace).
fn off() -> Policy {
    Policy {
        mode: Mode::Off,
        ..Policy::default()
    }
}

async fn sh_off(root: &Path, args: Value) -> ToolOutcome {
    run(root, &off(), &args, &ToolContext::new("c")).await
}

/// Whether `pid` has ended (gone, or a zombie nobody reaped yet).
fn ended(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

async fn assert_ends(pid: u32) {
    for _ in 0..200 {
        if ended(pid) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("process {pid} outlived its shell call");
}

fn pids(text: &str) -> Vec<u32> {
    text.lines().filter_map(|l| l.trim().parse().ok()).collect()
}

#[tokio::test]
async fn output_and_exit_status() {
    let t = TempDir::new("shell");
    let root = t.path();
    std::fs::write(root.join("here.txt"), "").unwrap();
    assert_eq!(
        sh(root, json!({"command": "ls"})).await,
        ToolOutcome::ok("here.txt\n")
    );
    let out = sh(root, json!({"command": "echo a; echo b >&2"})).await;
    let mut lines: Vec<&str> = out.text.lines().collect();
    lines.sort();
    assert_eq!(
        (lines, out.is_error),
        (vec!["a", "b"], false),
        "stdout and stderr combined"
    );
    assert_eq!(
        sh(root, json!({"command": "true"})).await,
        ToolOutcome::ok("(no output)")
    );
    assert_eq!(
        sh(root, json!({"command": "echo oops; exit 3"})).await,
        ToolOutcome::error("oops\n\nexit code 3")
    );
    assert_eq!(
        sh(root, json!({"command": "exit 4"})).await,
        ToolOutcome::error("exit code 4")
    );
    // In the sandbox the shell is process 1 of its PID namespace, which ignores signals it has no handler for.
    assert_eq!(
        sh_off(root, json!({"command": "kill -9 $$"})).await,
        ToolOutcome::error("killed by signal 9")
    );
}

#[tokio::test]
async fn argument_errors() {
    let t = TempDir::new("shell");
    let root = t.path();
    assert_eq!(
        sh(root, json!({"command": "true", "timeout_ms": 300_001})).await,
        ToolOutcome::error("shell: \"timeout_ms\" must be at most 300000 (5 minutes)")
    );
    assert_eq!(
        sh(root, json!({"command": "true", "timeout_ms": 0})).await,
        ToolOutcome::error("shell: \"timeout_ms\" must be a positive integer")
    );
    assert_eq!(
        sh(root, json!({})).await,
        ToolOutcome::error("shell: missing required argument \"command\"")
    );
    assert_eq!(
        sh(root, json!({"command": "true", "cwd": "/"})).await,
        ToolOutcome::error("shell: unknown argument \"cwd\"")
    );
}

#[tokio::test]
async fn output_is_capped_with_a_marker() {
    let t = TempDir::new("shell");
    let out = sh(
        t.path(),
        json!({"command": "head -c 300000 /dev/zero | tr '\\0' x"}),
    )
    .await;
    assert!(!out.is_error);
    assert_eq!(
        out.text.len(),
        OUTPUT_CAP + "\n\n[output truncated at 256KB]".len()
    );
    assert!(out.text.ends_with("xx\n\n[output truncated at 256KB]"));
}

#[tokio::test]
async fn progress_streams_the_output_so_far_at_most_every_200ms() {
    let t = TempDir::new("shell");
    let calls: Arc<Mutex<Vec<(std::time::Instant, String)>>> = Arc::default();
    let seen = calls.clone();
    let ctx = ToolContext::new("c").with_progress(move |text| {
        seen.lock()
            .unwrap()
            .push((std::time::Instant::now(), text.to_string()));
    });
    let args = json!({"command": "echo one; sleep 0.3; echo two; sleep 0.3; echo three"});
    let out = run(t.path(), &Policy::default(), &args, &ctx).await;
    assert_eq!(out, ToolOutcome::ok("one\ntwo\nthree\n"));
    let calls = calls.lock().unwrap().clone();
    assert!(calls.len() >= 2, "{calls:?}");
    assert_eq!(calls[0].1, "one\n");
    assert_eq!(calls[1].1, "one\ntwo\n");
    assert!(calls
        .iter()
        .all(|(_, text)| out.text.starts_with(text.as_str())));

    let calls: Arc<Mutex<Vec<std::time::Instant>>> = Arc::default();
    let seen = calls.clone();
    let ctx = ToolContext::new("c")
        .with_progress(move |_| seen.lock().unwrap().push(std::time::Instant::now()));
    let args =
        json!({"command": "for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo $i; sleep 0.05; done"});
    let started = std::time::Instant::now();
    let out = run(t.path(), &Policy::default(), &args, &ctx).await;
    let most = started.elapsed().as_millis() / 200 + 1;
    assert!(out.text.ends_with("11\n12\n"), "{}", out.text);
    let calls = calls.lock().unwrap().clone();
    assert!(calls.len() >= 2 && calls.len() as u128 <= most, "{calls:?}");
    for pair in calls.windows(2) {
        assert!(pair[1] - pair[0] >= PROGRESS_EVERY, "{calls:?}");
    }
}

#[tokio::test]
async fn a_timeout_kills_the_whole_group() {
    let t = TempDir::new("shell");
    let out = sh_off(
        t.path(),
        json!({"command": "sleep 30 & echo $!; wait", "timeout_ms": 300}),
    )
    .await;
    assert!(out.is_error);
    let pid = pids(&out.text)[0];
    assert_eq!(out.text, format!("{pid}\n\ncommand timed out after 300 ms"));
    assert_ends(pid).await;
}

#[tokio::test]
async fn background_jobs_end_with_the_shell() {
    let t = TempDir::new("shell");
    let started = Instant::now();
    let out = sh_off(t.path(), json!({"command": "sleep 30 & echo $!"})).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "did not wait for the job"
    );
    assert!(!out.is_error, "{}", out.text);
    assert_ends(pids(&out.text)[0]).await;
}

#[tokio::test]
async fn dropping_the_call_kills_the_shell_and_its_children() {
    let t = TempDir::new("shell");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let ctx = ToolContext::new("c").with_progress(move |text| {
        let _ = tx.send(text.to_string());
    });
    let args = json!({"command": "echo $$; sleep 30 & echo $!; wait"});
    let policy = off();
    let mut call = Box::pin(run(t.path(), &policy, &args, &ctx));
    let found = loop {
        tokio::select! {
            out = &mut call => panic!("the command ended: {out:?}"),
            Some(text) = rx.recv() => {
                if pids(&text).len() == 2 {
                    break pids(&text);
                }
            }
        }
    };
    assert!(
        found.iter().all(|p| !ended(*p)),
        "both running before the drop"
    );
    drop(call);
    for pid in found {
        assert_ends(pid).await;
    }
}

#[test]
fn api_keys_are_recognised_by_name() {
    use crate::sandbox::env::is_key_variable;
    for key in [
        "ANTHROPIC_API_KEY",
        "OPENAI_API_KEY",
        "MY_API_KEY",
        "my_api_key",
        "Foo_Api_Key",
    ] {
        assert!(is_key_variable(key), "{key}");
    }
    for other in ["PATH", "API_KEYS", "HOME", "TANDEM_TEST_MARKED_SECRET"] {
        assert!(!is_key_variable(other), "{other}");
    }
    super::mark_key_variable("TANDEM_TEST_MARKED_SECRET");
    assert!(is_key_variable("TANDEM_TEST_MARKED_SECRET"));
}

#[tokio::test]
async fn commands_get_an_allowlisted_environment_without_secrets() {
    let dir = TempDir::new("secrets");
    let root = dir.path();
    // Names no other test uses; set before the command starts, read only by the child.
    let secrets = [
        "TANDEM_SHELL_TEST_API_KEY",
        "tandem_shell_test_api_key",
        "GITHUB_TOKEN",
        "AWS_SECRET_ACCESS_KEY",
        "ANTHROPIC_AUTH_TOKEN",
    ];
    for name in secrets {
        std::env::set_var(name, "sk-do-not-leak");
    }
    std::env::set_var("TANDEM_SHELL_TEST_VISIBLE", "fine");
    std::env::set_var("TANDEM_SHELL_TEST_PREFIX_A", "a");
    let policy = |extra: &[&str]| Policy {
        env: extra.iter().map(|s| s.to_string()).collect(),
        ..Policy::default()
    };
    let env_of = |p: Policy| async move {
        run(root, &p, &json!({"command": "env"}), &ToolContext::new("c"))
            .await
            .text
    };
    let base = env_of(policy(&[])).await;
    assert!(!base.contains("sk-do-not-leak"), "{base}");
    assert!(!base.contains("TANDEM_SHELL_TEST_VISIBLE"), "{base}");
    assert!(base.lines().any(|l| l.starts_with("PATH=")), "{base}");
    // The host may add names and prefixes; API keys stay out even when named.
    let more = env_of(policy(&[
        "TANDEM_SHELL_TEST_VISIBLE",
        "TANDEM_SHELL_TEST_PREFIX_*",
        "TANDEM_SHELL_TEST_API_KEY",
        "GITHUB_TOKEN",
    ]))
    .await;
    assert!(
        more.lines().any(|l| l == "TANDEM_SHELL_TEST_VISIBLE=fine"),
        "{more}"
    );
    assert!(
        more.lines().any(|l| l == "TANDEM_SHELL_TEST_PREFIX_A=a"),
        "{more}"
    );
    assert!(
        more.lines().any(|l| l == "GITHUB_TOKEN=sk-do-not-leak"),
        "named by the host: {more}"
    );
    assert!(!more.contains("API_KEY="), "{more}");
}

#[test]
fn session_options_parse_the_sandbox_and_shell_env() {
    let p = |v: Value| Policy::from_options(Some(&v), None);
    assert_eq!(Policy::from_options(None, None).unwrap(), Policy::default());
    assert_eq!(p(json!("read-only")).unwrap().mode, Mode::ReadOnly);
    assert_eq!(p(json!("off")).unwrap().mode, Mode::Off);
    let full =
        p(json!({"mode": "workspace-write", "network": false, "writable_roots": ["/opt/cache"]}))
            .unwrap();
    assert_eq!(
        (full.mode, full.network, full.writable_roots),
        (
            Mode::WorkspaceWrite,
            false,
            vec![std::path::PathBuf::from("/opt/cache")]
        )
    );
    for bad in [
        json!("danger"),
        json!(3),
        json!({"net": false}),
        json!({"network": "no"}),
        json!({"writable_roots": [""]}),
    ] {
        assert!(p(bad.clone()).is_err(), "{bad}");
    }
    let env = ["A".to_string(), "LC_*".into()];
    assert_eq!(Policy::from_options(None, Some(&env)).unwrap().env, env);
    for bad in ["", "*", "A=B", "A*B*"] {
        assert!(
            Policy::from_options(None, Some(&[bad.to_string()])).is_err(),
            "{bad}"
        );
    }
}
