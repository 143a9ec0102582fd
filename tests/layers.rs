//! The layer check: every module of src/ may use only modules of its own layer or below (the order written at the
//! top of docs/ARCHITECTURE.md), so the dependency picture has no circle spanning layers.

use std::fs;
use std::path::{Path, PathBuf};

/// The layers, bottom first. A top-level module of src/ may reference modules of its own layer and those below.
const LAYERS: &[&[&str]] = &[
    &["error"],
    &["sys", "sync", "time", "ids"],
    &["vocab"],
    &["events"],
    &["store", "skills", "sandbox"],
    &["tools", "mcp", "hooks"],
    &["provider"],
    &["session"],
    &["manager"],
    &["client", "commands", "remote"],
    &["ffi", "fuzzing", "acp", "bin"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// The module path of a file below src/: `src/session/machine/mod.rs` is `[session, machine]`, `src/lib.rs` is `[]`.
fn module_path(file: &str) -> Vec<String> {
    let rel = file.strip_prefix("src/").unwrap_or(file);
    let rel = rel.strip_suffix(".rs").unwrap_or(rel);
    let mut parts: Vec<String> = rel.split('/').map(str::to_string).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn ident_at(s: &str) -> &str {
    let end = s.find(|c: char| !is_ident(c)).unwrap_or(s.len());
    &s[..end]
}

/// The top-level modules a line of code names: `crate::x`, `crate::{x, y::z}`, and `super::` chains that climb out
/// of the file's own top-level module.
fn referenced(line: &str, path: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().next_back();
        let after = &rest[i + "crate::".len()..];
        rest = after;
        if before.is_some_and(|c| is_ident(c) || c == '$') {
            continue;
        }
        if let Some(group) = after.strip_prefix('{') {
            let mut depth = 0;
            let mut start = true;
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => start = true,
                    c if start && is_ident(c) => {
                        out.push(ident_at(&group[j..]).to_string());
                        start = false;
                    }
                    _ => {}
                }
            }
        } else {
            out.push(ident_at(after).to_string());
        }
    }
    let mut rest = line;
    while let Some(i) = rest.find("super::") {
        if rest[..i].chars().next_back().is_some_and(is_ident) {
            rest = &rest[i + 7..];
            continue;
        }
        let mut climbed = 0;
        let mut tail = &rest[i..];
        while let Some(t) = tail.strip_prefix("super::") {
            climbed += 1;
            tail = t;
        }
        rest = tail;
        if climbed >= path.len() {
            let name = ident_at(tail);
            if !name.is_empty() {
                out.push(name.to_string());
            }
        }
    }
    out
}

/// Every reference from a lower layer to a higher one, as `file:line: a (layer i) uses b (layer j)`.
fn violations(files: &[(String, String)]) -> Vec<String> {
    let mut found = Vec::new();
    for (file, text) in files {
        let path = module_path(file);
        let Some(own) = path.first() else { continue };
        let Some(own_layer) = layer_of(own) else {
            found.push(format!("{file}: module {own} is in no layer"));
            continue;
        };
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            for used in referenced(line, &path) {
                if let Some(l) = layer_of(&used) {
                    if l > own_layer {
                        found.push(format!(
                            "{file}:{}: {own} (layer {own_layer}) uses {used} (layer {l})",
                            n + 1
                        ));
                    }
                }
            }
        }
    }
    found
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        // src/bin holds executables: crates of their own that see only the library's public API.
        if p.is_dir() && p != Path::new("src/bin") {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn no_module_uses_a_layer_above_it() {
    let mut paths = Vec::new();
    sources(Path::new("src"), &mut paths);
    paths.sort();
    let files: Vec<(String, String)> = paths
        .iter()
        .map(|p| (p.display().to_string(), fs::read_to_string(p).unwrap()))
        .collect();
    let found = violations(&files);
    assert!(found.is_empty(), "layer violations:\n{}", found.join("\n"));
}

#[test]
fn the_checker_reports_a_synthetic_violation() {
    let files = vec![
        (
            "src/store/journal.rs".to_string(),
            "use crate::error::Result;\nuse crate::{time::Now, session::state::X};\n// crate::client in a comment\n"
                .to_string(),
        ),
        (
            "src/tools/shell.rs".to_string(),
            "fn f() { let _ = super::super::provider::Thing; crate::vocab::Usage::default(); }".to_string(),
        ),
        (
            "src/session/machine/apply.rs".to_string(),
            "use super::super::Status; use super::super::super::client::Client;".to_string(),
        ),
    ];
    let found = violations(&files);
    assert_eq!(
        found,
        vec![
            "src/store/journal.rs:2: store (layer 4) uses session (layer 7)".to_string(),
            "src/tools/shell.rs:1: tools (layer 5) uses provider (layer 6)".to_string(),
            "src/session/machine/apply.rs:1: session (layer 7) uses client (layer 9)".to_string(),
        ]
    );
}

#[test]
fn every_top_level_module_has_a_layer() {
    let lib = fs::read_to_string("src/lib.rs").unwrap();
    for line in lib.lines() {
        let line = line.trim_start();
        let decl = line
            .strip_prefix("pub mod ")
            .or_else(|| line.strip_prefix("pub(crate) mod "))
            .or_else(|| line.strip_prefix("mod "));
        if let Some(d) = decl {
            let name = d.trim_end_matches(';');
            assert!(layer_of(name).is_some(), "src/{name} is in no layer");
        }
    }
}
