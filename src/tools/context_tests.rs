//! Context file discovery on real directory trees: order, names, limits, confinement, refresh by stamp.

use super::super::testutil::TempDir;
use super::*;
use serde_json::json;

fn write(p: &Path, text: &str) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn paths(list: &[LoadedFile]) -> Vec<(String, &'static str)> {
    list.iter().map(|f| (f.path.clone(), f.reason)).collect()
}

#[test]
fn options_parse_and_refuse_nonsense() {
    let expand = |p: &str| Ok(PathBuf::from(p));
    assert_eq!(
        ContextConfig::parse(None, expand).unwrap(),
        Some(ContextConfig::default())
    );
    assert_eq!(
        ContextConfig::parse(Some(&json!(false)), expand).unwrap(),
        None
    );
    let c = ContextConfig::parse(
        Some(&json!({"names": ["RULES.md"], "paths": ["/etc/x.md"], "max_bytes": 10})),
        expand,
    )
    .unwrap()
    .unwrap();
    assert_eq!(c.names, vec!["RULES.md"]);
    assert_eq!(c.max_bytes, 10);
    for bad in [
        json!(3),
        json!({"names": []}),
        json!({"names": ["../x"]}),
        json!({"names": ["a/b"]}),
        json!({"paths": ["rel.md"]}),
        json!({"max_bytes": 0}),
        json!({"max_total_bytes": 99999999}),
        json!({"nmes": ["x"]}),
    ] {
        assert!(ContextConfig::parse(Some(&bad), expand).is_err(), "{bad}");
    }
}

#[test]
fn repository_root_to_workdir_then_touched_subdirectories_nearer_last() {
    let t = TempDir::new("ctx");
    let repo = t.path().join("repo");
    std::fs::create_dir_all(repo.join(".git")).unwrap();
    write(
        &t.path().join("AGENTS.md"),
        "above the repository: never read",
    );
    write(&repo.join("AGENTS.md"), "root rules");
    write(&repo.join("CLAUDE.md"), "claude only: AGENTS.md wins here");
    write(&repo.join("pkg/CLAUDE.md"), "pkg rules (claude)");
    let work = repo.join("pkg/app");
    write(&work.join("AGENTS.md"), "app rules");
    write(&work.join("src/deep/AGENTS.md"), "deep rules");
    write(&work.join("other/AGENTS.md"), "untouched: not loaded");
    let ctx = ContextFiles::new(ContextConfig::default(), Some(&work));
    let first = ctx.refresh().expect("the first refresh reports");
    assert_eq!(
        paths(&first),
        vec![
            (repo.join("AGENTS.md").display().to_string(), "ancestor"),
            (repo.join("pkg/CLAUDE.md").display().to_string(), "ancestor"),
            (work.join("AGENTS.md").display().to_string(), "workdir"),
        ]
    );
    assert!(ctx.refresh().is_none(), "nothing changed");
    assert!(ctx.touch("read_file", &json!({"path": "src/deep/x.rs"})));
    assert!(!ctx.touch("read_file", &json!({"path": "src/deep/y.rs"})));
    assert!(!ctx.touch("shell", &json!({"path": "other/x"})));
    assert!(!ctx.touch("read_file", &json!({"path": "../../x.rs"})));
    let second = ctx.refresh().expect("a touched directory adds a file");
    assert_eq!(
        second.last().unwrap().path,
        work.join("src/deep/AGENTS.md").display().to_string()
    );
    assert_eq!(second.last().unwrap().reason, "subdirectory");
    let section = ctx.section().unwrap();
    let order: Vec<usize> = ["root rules", "pkg rules", "app rules", "deep rules"]
        .iter()
        .map(|s| section.find(s).unwrap())
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{section}");
    assert!(!section.contains("claude only") && !section.contains("never read"));
    assert!(!section.contains("untouched"));
    // A change is seen by its stamp and re-read.
    write(&work.join("AGENTS.md"), "app rules, version two");
    ctx.refresh().expect("a changed file reports");
    assert!(ctx.section().unwrap().contains("version two"));
}

#[test]
fn without_a_repository_only_the_workdir_counts() {
    let t = TempDir::new("ctx-norepo");
    assert!(!t.path().ancestors().any(|d| d.join(".git").exists()));
    write(
        &t.path().join("AGENTS.md"),
        "parent: no repository, not read",
    );
    write(&t.path().join("w/AGENTS.md"), "workdir rules");
    let ctx = ContextFiles::new(ContextConfig::default(), Some(&t.path().join("w")));
    let list = ctx.refresh().unwrap();
    assert_eq!(
        paths(&list),
        vec![(
            t.path().join("w/AGENTS.md").display().to_string(),
            "workdir"
        )]
    );
    // Nothing to load is nothing to report.
    std::fs::create_dir_all(t.path().join("empty")).unwrap();
    let none = ContextFiles::new(ContextConfig::default(), Some(&t.path().join("empty")));
    assert!(none.refresh().is_none() && none.loaded().is_empty() && none.section().is_none());
}

#[test]
fn limits_cut_with_a_marker_outermost_first() {
    let t = TempDir::new("ctx-limits");
    std::fs::create_dir_all(t.path().join(".git")).unwrap();
    write(&t.path().join("AGENTS.md"), &"r".repeat(100));
    write(&t.path().join("sub/AGENTS.md"), &"s".repeat(100));
    let config = ContextConfig {
        max_bytes: 60,
        max_total_bytes: 90,
        ..ContextConfig::default()
    };
    let ctx = ContextFiles::new(config, Some(t.path()));
    ctx.touch("list_directory", &json!({"path": "sub"}));
    let list = ctx.refresh().unwrap();
    assert_eq!(list.len(), 2);
    // The nearer file keeps its 60 bytes; the outer one gets what is left of 90.
    assert_eq!((list[1].loaded_bytes, list[1].truncated), (60, true));
    assert_eq!((list[0].loaded_bytes, list[0].truncated), (30, true));
    assert_eq!(list[0].bytes, 100);
    assert!(ctx
        .section()
        .unwrap()
        .contains("[truncated: 60 of 100 bytes shown]"));
}

#[test]
fn never_follows_links_out_of_the_workdir_nor_blocks_on_fifos() {
    let t = TempDir::new("ctx-escape");
    let work = t.path().join("w");
    write(&t.path().join("secret.md"), "secret outside");
    std::fs::create_dir_all(work.join(".git")).unwrap();
    std::os::unix::fs::symlink(t.path().join("secret.md"), work.join("AGENTS.md")).unwrap();
    std::fs::create_dir_all(work.join("fifo")).unwrap();
    let status = std::process::Command::new("mkfifo")
        .arg(work.join("fifo/AGENTS.md"))
        .status()
        .unwrap();
    assert!(status.success());
    write(&work.join("inner.md"), "linked inside");
    std::fs::create_dir_all(work.join("linked")).unwrap();
    // A relative link that stays inside (CLAUDE.md -> AGENTS.md is the common case) is followed.
    std::os::unix::fs::symlink("../inner.md", work.join("linked/CLAUDE.md")).unwrap();
    let ctx = ContextFiles::new(ContextConfig::default(), Some(&work));
    ctx.touch("find", &json!({"path": "fifo"}));
    ctx.touch("find", &json!({"path": "linked"}));
    let list = ctx.refresh().unwrap();
    assert_eq!(list.len(), 3, "{list:?}");
    assert!(list[0].error.is_some() && list[0].loaded_bytes == 0);
    assert!(list[1]
        .error
        .as_deref()
        .unwrap()
        .contains("not a regular file"));
    assert_eq!(
        list[2].loaded_bytes,
        "linked inside".len() as u64,
        "{list:?}"
    );
    let section = ctx.section().unwrap();
    assert!(!section.contains("secret") && section.contains("linked inside"));
}
