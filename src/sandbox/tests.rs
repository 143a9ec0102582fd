//! Tests of the sandbox report and the environment allowlist.

use std::ffi::OsString;
use std::path::Path;

use super::*;

#[test]
fn the_report_says_what_each_mode_confines() {
    let k = kernel();
    let w = Path::new("/tmp");
    let off = report(
        &Policy {
            mode: Mode::Off,
            ..Policy::default()
        },
        w,
    );
    assert_eq!(
        (off["mode"].as_str(), off["filesystem"].as_str()),
        (Some("off"), Some("none"))
    );
    assert_eq!(off["not_enforced"], json!([]), "off asks for nothing");
    let ws = report(&Policy::default(), w);
    assert_eq!(ws["mode"], "workspace-write");
    assert_eq!(ws["environment"], "allowlist");
    match k.landlock_abi {
        Some(_) => {
            assert_eq!(ws["filesystem"], "landlock");
            assert!(ws["writable"].as_array().unwrap().contains(&json!("/tmp")));
            let ro = report(
                &Policy {
                    mode: Mode::ReadOnly,
                    ..Policy::default()
                },
                w,
            );
            assert_eq!(ro["writable"], json!([]));
        }
        None => assert!(!ws["not_enforced"].as_array().unwrap().is_empty()),
    }
    let namespaces = match (k.pid_namespace, k.user_namespace) {
        (true, _) => "direct",
        (false, true) => "user namespace",
        (false, false) => "none",
    };
    assert_eq!(ws["namespaces"], namespaces);
    let hidden = if k.isolates_processes() {
        "hidden (pid namespace)"
    } else {
        "readable"
    };
    assert_eq!(ws["parent_environ"], hidden);
    let offline = report(
        &Policy {
            network: false,
            ..Policy::default()
        },
        w,
    );
    let expected = match (k.isolates_network(), k.landlock_abi) {
        (true, _) => "network namespace",
        (false, Some(abi)) if abi >= 4 => "landlock tcp",
        _ => "none",
    };
    assert_eq!(offline["network_isolation"], expected);
    assert_eq!(offline["network"], false);
}

#[test]
fn the_environment_keeps_only_allowlisted_names() {
    let vars = [
        ("PATH", "/bin"),
        ("LC_ALL", "C"),
        ("GITHUB_TOKEN", "t"),
        ("X_API_KEY", "k"),
        ("EXTRA", "e"),
    ]
    .map(|(k, v)| (OsString::from(k), OsString::from(v)));
    let names = |extra: &[String]| -> Vec<OsString> {
        env::filter(vars.clone().into_iter(), extra)
            .into_iter()
            .map(|(k, _)| k)
            .collect()
    };
    assert_eq!(names(&[]), ["PATH", "LC_ALL"]);
    assert_eq!(
        names(&["EXTRA".into(), "X_*".into()]),
        ["PATH", "LC_ALL", "EXTRA"]
    );
}

#[test]
fn cgroups_left_by_a_dead_host_are_killed_and_removed() {
    if !kernel().cgroup {
        assert_eq!(
            report(&Policy::default(), Path::new("/tmp"))["process_tracking"]
                .as_str()
                .map(|t| t.contains("cgroup")),
            Some(false)
        );
        return;
    }
    // No process can have a pid above the kernel's limit (2^22), so this host is surely gone.
    let dir = cgroup::own_cgroup().unwrap().join("tandem-4194999-0");
    std::fs::create_dir(&dir).unwrap();
    let mut orphan = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    std::fs::write(dir.join("cgroup.procs"), orphan.id().to_string()).unwrap();
    cgroup::sweep();
    let status = orphan.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
    for _ in 0..500 {
        if !dir.exists() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("{} was not removed", dir.display());
}
