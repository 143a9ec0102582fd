//! Tests of the shell sandbox: writes outside the workdir refused, tandem's own environ and signals out of reach,
//! the network off when asked, and `setsid` daemons killed with the call. Where this kernel lacks a mechanism the
//! test checks that the result and [`sandbox_report`] say so, never that it silently passed.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Value};

use super::*;
use crate::sandbox::kernel;
use crate::tools::testutil::TempDir;

fn mode(mode: Mode) -> Policy {
    Policy {
        mode,
        ..Policy::default()
    }
}

async fn sh(root: &Path, policy: &Policy, command: &str) -> ToolOutcome {
    run(
        root,
        policy,
        &json!({ "command": command }),
        &ToolContext::new("c"),
    )
    .await
}

/// A directory outside the workdir and outside every directory the sandbox lets commands write: under the crate's
/// `target/`, or under the home directory when the checkout itself lies in a temp directory (a clone in /tmp).
fn outside_dir(tag: &str, root: &Path) -> PathBuf {
    let writable: Vec<PathBuf> = Policy::default()
        .writable(root)
        .iter()
        .map(|w| w.canonicalize().unwrap_or_else(|_| w.clone()))
        .collect();
    let name = format!("sandbox-test-{tag}-{}", std::process::id());
    let mut bases = vec![PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target")];
    bases.extend(std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")));
    bases.push(PathBuf::from("/var/lib/tandem-tests"));
    for base in bases {
        if std::fs::create_dir_all(&base).is_err() {
            continue;
        }
        let dir = base.canonicalize().unwrap().join(&name);
        if !writable.iter().any(|w| dir.starts_with(w)) {
            std::fs::create_dir_all(&dir).unwrap();
            return dir;
        }
    }
    panic!("no directory outside the sandbox's writable ones ({writable:?}) to test with")
}

fn assert_reported_missing(out: &ToolOutcome, what: &str) {
    assert!(
        out.text.contains("[sandbox: not enforced:") && out.text.contains(what),
        "{}",
        out.text
    );
}

#[tokio::test]
async fn writes_go_only_to_the_workdir_and_temp_dirs() {
    let t = TempDir::new("sbwrite");
    let root = t.path();
    let outside = outside_dir("write", root);
    let target = outside.join("escaped.txt");
    let write_outside = format!("echo x > {}", target.display());
    let out = sh(root, &Policy::default(), &write_outside).await;
    if kernel().landlock_abi.is_none() {
        assert_reported_missing(&out, "filesystem");
    } else {
        assert!(out.is_error, "{}", out.text);
        assert!(out.text.contains("Permission denied"), "{}", out.text);
        assert!(!target.exists(), "a write outside the workdir went through");
        let inside = sh(
            root,
            &Policy::default(),
            "echo x > in.txt && mkdir d && echo y > d/f && rm in.txt",
        )
        .await;
        assert_eq!(inside, ToolOutcome::ok("(no output)"));
        assert!(root.join("d/f").exists());
        let tmp = "f=$(mktemp) && echo x > \"$f\" && rm \"$f\" && echo x > /dev/null";
        assert_eq!(
            sh(root, &Policy::default(), tmp).await,
            ToolOutcome::ok("(no output)")
        );
        let read_only = sh(root, &mode(Mode::ReadOnly), "echo x > ro.txt").await;
        assert!(
            read_only.is_error && !root.join("ro.txt").exists(),
            "{}",
            read_only.text
        );
        // Reading and running programs still work in read-only.
        assert_eq!(
            sh(root, &mode(Mode::ReadOnly), "cat d/f").await,
            ToolOutcome::ok("y\n")
        );
    }
    // `off` is what it says: the same write goes through, so the refusal above is the sandbox's doing.
    assert!(!sh(root, &mode(Mode::Off), &write_outside).await.is_error);
    assert!(target.exists());
    std::fs::remove_dir_all(outside).unwrap();
}

#[tokio::test]
async fn tandems_environ_and_signals_are_out_of_reach() {
    let t = TempDir::new("sbenv");
    let root = t.path();
    let ours = std::fs::read("/proc/self/environ").unwrap();
    let first = String::from_utf8_lossy(ours.split(|b| *b == 0).next().unwrap()).into_owned();
    assert!(first.contains('='), "this test process has an environment");
    let ours = std::process::id();
    let command =
        format!("cat /proc/$PPID/environ | tr '\\0' '\\n'; kill -0 {ours} && echo signalled");
    let command = command.as_str();
    let open = sh(root, &mode(Mode::Off), command).await;
    assert!(
        open.text.contains(&first) && open.text.contains("signalled"),
        "{}",
        open.text
    );
    let out = sh(root, &Policy::default(), command).await;
    if !kernel().pid_namespace {
        assert_reported_missing(&out, "environ");
        return;
    }
    assert!(
        !out.text.contains(&first),
        "tandem's environment leaked: {}",
        out.text
    );
    assert!(!out.text.contains("signalled"), "{}", out.text);
    // Nor is it reachable by its pid: the call's /proc lists only the call's own processes.
    let out = sh(
        root,
        &Policy::default(),
        &format!("cat /proc/{ours}/environ; ls /proc | grep -c '^[0-9]'"),
    )
    .await;
    assert!(!out.text.contains(&first), "{}", out.text);
    let listed: u32 = out
        .text
        .lines()
        .last()
        .unwrap()
        .trim()
        .parse()
        .expect(&out.text);
    assert!(listed < 5, "{}", out.text);
}

/// Whether `pid` has ended (gone, or a zombie nobody reaped yet).
fn ended(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |stat| {
        stat.rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z'))
    })
}

async fn wait_ended(pid: u32) -> bool {
    for _ in 0..200 {
        if ended(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

#[tokio::test]
async fn setsid_daemons_end_with_the_call_and_when_it_is_dropped() {
    let t = TempDir::new("sbdaemon");
    let root = t.path();
    // The daemon leaves the process group and closes the output pipes, so the call ends at once.
    let daemon = "setsid sleep 30 </dev/null >/dev/null 2>&1 & echo $!";
    let out = sh(root, &mode(Mode::Off), daemon).await;
    let pid: u32 = out.text.trim().parse().expect(&out.text);
    let tracking = sandbox_report(&mode(Mode::Off), root)["process_tracking"].clone();
    if !kernel().cgroup {
        assert_eq!(tracking, "process group");
        let _ = crate::sys::kill_process(pid);
        return;
    }
    assert_eq!(tracking, "cgroup");
    assert!(ended(pid), "the daemon {pid} outlived its call");

    // Dropping the call (abort, session stop, client freed) kills the daemon too.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let ctx = ToolContext::new("c").with_progress(move |text| {
        let _ = tx.send(text.to_string());
    });
    let args = json!({"command": "setsid sh -c 'while :; do sleep 1; done' </dev/null >/dev/null 2>&1 & echo $!; sleep 30"});
    let policy = mode(Mode::Off);
    let mut call = Box::pin(run(root, &policy, &args, &ctx));
    let pid: u32 = loop {
        tokio::select! {
            out = &mut call => panic!("the command ended: {out:?}"),
            Some(text) = rx.recv() => if let Ok(pid) = text.trim().parse() { break pid },
        }
    };
    assert!(!ended(pid));
    drop(call);
    assert!(
        wait_ended(pid).await,
        "the daemon {pid} outlived the dropped call"
    );

    // In the sandbox the daemon's pid is one of the call's PID namespace: look for it by its unusual argument.
    let command = format!("{}; echo started", started_daemon("31337"));
    let out = sh(root, &Policy::default(), &command).await;
    assert_eq!(out, ToolOutcome::ok("started\n"));
    assert!(
        sleepers("31337").is_empty(),
        "{:?} outlived the sandboxed call",
        sleepers("31337")
    );
}

/// A shell snippet that starts `sleep <arg>` as a `setsid` daemon and returns once it runs (so a test that finds no
/// such process afterwards knows it was killed, not that it had not started yet).
fn started_daemon(arg: &str) -> String {
    // Waits for `sleep` itself: before setsid execs it, /proc/$!/cmdline is `setsid sleep <arg>`, which names the
    // argument too (matching that let the test look for the daemon before it existed, on a loaded machine).
    format!(
        "setsid sleep {arg} </dev/null >/dev/null 2>&1 & \
         until tr '\\0' ' ' </proc/$!/cmdline 2>/dev/null | grep -qx 'sleep {arg} '; do sleep 0.01; done"
    )
}

/// Processes of this machine running `sleep <arg>`.
fn sleepers(arg: &str) -> Vec<String> {
    let wanted = format!("sleep\0{arg}\0");
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| std::fs::read(e.path().join("cmdline")).is_ok_and(|c| c == wanted.as_bytes()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

#[tokio::test]
async fn the_network_is_off_when_asked() {
    let t = TempDir::new("sbnet");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accepts and closes connections, so a connecting client gets an empty reply instead of an error.
    std::thread::spawn(move || {
        for c in listener.incoming().take(4) {
            drop(c);
        }
    });
    let command =
        format!("curl -s -o /dev/null --max-time 5 http://127.0.0.1:{port}/; echo curl=$?");
    let on = sh(t.path(), &Policy::default(), &command).await;
    assert!(
        on.text.starts_with("curl=") && !on.text.starts_with("curl=7\n"),
        "{}",
        on.text
    );
    let offline = Policy {
        network: false,
        ..Policy::default()
    };
    let report: Value = sandbox_report(&offline, t.path());
    let off = sh(t.path(), &offline, &command).await;
    match report["network_isolation"].as_str() {
        Some("none") => assert_reported_missing(&off, "network"),
        _ => assert!(off.text.starts_with("curl=7\n"), "{report} {}", off.text),
    }
}

/// Whether this kernel refuses unprivileged user namespaces by configuration (then the product reports
/// `namespaces: none` for an unprivileged host, and the path below cannot run).
fn user_namespaces_disabled() -> bool {
    let read = |p: &str| std::fs::read_to_string(p).map(|s| s.trim().to_string());
    read("/proc/sys/user/max_user_namespaces").is_ok_and(|v| v == "0")
        || read("/proc/sys/kernel/unprivileged_userns_clone").is_ok_and(|v| v == "0")
        || read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns").is_ok_and(|v| v == "1")
}

#[tokio::test]
async fn an_unprivileged_host_gets_the_same_confinement_through_a_user_namespace() {
    if !kernel().user_namespace {
        assert!(
            user_namespaces_disabled(),
            "user namespaces are enabled, yet the probe failed"
        );
        return;
    }
    let t = TempDir::new("sbuserns");
    let root = t.path();
    let policy = Policy {
        via_user_namespace: true,
        network: false,
        ..Policy::default()
    };
    let ours = std::fs::read("/proc/self/environ").unwrap();
    let first = String::from_utf8_lossy(ours.split(|b| *b == 0).next().unwrap()).into_owned();
    let me = std::process::id();
    let command = format!(
        "echo map=$(tr -s ' ' < /proc/self/uid_map); cat /proc/{me}/environ; ls /proc | grep -c '^[0-9]'; echo x > own.txt && stat -c %u own.txt; \
         curl -s -o /dev/null --max-time 5 http://127.0.0.1:9/; echo curl=$?; \
         {}",
        started_daemon("31338")
    );
    let out = sh(root, &policy, &command).await;
    assert!(!out.text.contains(&first), "{}", out.text);
    // The user namespace maps the host's own uid: files the command creates belong to it, inside and out.
    let uid = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(root.join("own.txt")).unwrap().uid()
    };
    let lines: Vec<&str> = out.text.lines().collect();
    assert!(lines.len() >= 4, "{}", out.text);
    assert_eq!(
        lines[0],
        format!("map= {uid} {uid} 1"),
        "in a user namespace of its own"
    );
    assert!(
        lines[lines.len() - 3].parse::<u32>().unwrap() < 5,
        "{}",
        out.text
    );
    assert_eq!(
        lines[lines.len() - 2].parse::<u32>().unwrap(),
        uid,
        "{}",
        out.text
    );
    assert_eq!(lines[lines.len() - 1], "curl=7", "{}", out.text);
    assert!(sleepers("31338").is_empty(), "{:?}", sleepers("31338"));
}

#[test]
fn commands_die_with_the_host_even_when_none_of_our_code_runs() {
    // A host killed by SIGKILL drops nothing and kills nothing. Stand-in: the thread that spawned the command ends
    // while the call is forgotten (neither finished nor dropped), so only the kernel can end the command.
    let t = TempDir::new("sbhost");
    let root = t.path().to_path_buf();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let policy = Policy::default();
        let ctx = ToolContext::new("c").with_progress(move |text| {
            let _ = tx.send(text.to_string());
        });
        let command = format!("{}; echo up; sleep 30", started_daemon("31341"));
        let args = json!({ "command": command });
        let mut call = Box::pin(run(&root, &policy, &args, &ctx));
        rt.block_on(async {
            tokio::select! {
                _ = &mut call => panic!("the command ended"),
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
        });
        std::mem::forget(call);
        std::mem::forget(rt);
    });
    assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), "up\n");
    assert!(!sleepers("31341").is_empty(), "the daemon runs");
    for _ in 0..500 {
        if sleepers("31341").is_empty() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("{:?} outlived the host", sleepers("31341"));
}
