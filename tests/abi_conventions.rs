//! Source-level checks of the C ABI conventions: every export goes through the panic boundary and is documented,
//! and the header stays plain C that every binding can consume.

use std::fs;

fn ffi_sources() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for entry in fs::read_dir("src/ffi").unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rs") {
            out.push((
                path.display().to_string(),
                fs::read_to_string(&path).unwrap(),
            ));
        }
    }
    out
}

/// (file, function name, body text up to the first statement) for every `#[no_mangle]` function.
fn exports() -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for (file, src) in ffi_sources() {
        let mut rest = src.as_str();
        while let Some(pos) = rest.find("#[no_mangle]") {
            rest = &rest[pos + 12..];
            let sig_end = rest.find('{').expect("function body");
            let sig = &rest[..sig_end];
            let name = sig
                .split("fn ")
                .nth(1)
                .unwrap()
                .split('(')
                .next()
                .unwrap()
                .trim()
                .to_string();
            let body = rest[sig_end + 1..].trim_start();
            out.push((file.clone(), name, body.chars().take(60).collect()));
        }
    }
    out
}

#[test]
fn every_export_runs_inside_the_panic_boundary() {
    // The boundary helpers exports may start with; the shortcuts must themselves be built on `guard`.
    const BOUNDARY: [&str; 6] = [
        "guard(",
        "guard_value(",
        "session_json(",
        "session_do(",
        "session_arg(",
        "session_prompt(",
    ];
    let boundary = fs::read_to_string("src/ffi/boundary.rs").unwrap()
        + &fs::read_to_string("src/ffi/prompt.rs").unwrap();
    for helper in [
        "session_json",
        "session_do",
        "session_arg",
        "session_prompt",
    ] {
        let start = boundary
            .find(&format!("pub unsafe fn {helper}"))
            .expect("helper exists");
        let body = &boundary[start..];
        let body = &body[body.find(") -> tandem_status {").expect("returns a status")..];
        assert!(
            body.trim_start_matches(") -> tandem_status {")
                .trim_start()
                .starts_with("guard("),
            "{helper} does not use guard"
        );
    }
    let all = exports();
    assert!(all.len() >= 29, "found only {} exports", all.len());
    for (file, name, body) in &all {
        assert!(
            BOUNDARY.iter().any(|b| body.starts_with(b)),
            "{file}: {name} does not start with a boundary helper ({BOUNDARY:?}): {body:?}"
        );
        assert!(
            name.starts_with("tandem_"),
            "{file}: {name} lacks the tandem_ prefix"
        );
    }
}

#[test]
fn unsafe_code_lives_only_in_ffi_and_sys() {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(std::path::Path::new("src"), &mut files);
    for f in files {
        if f.starts_with("src/ffi") || f == std::path::Path::new("src/sys.rs") {
            continue;
        }
        let text = fs::read_to_string(&f).unwrap();
        assert!(
            !text.contains("unsafe "),
            "{} contains unsafe code",
            f.display()
        );
    }
}

#[test]
fn the_header_is_plain_portable_c() {
    let h = fs::read_to_string("include/tandem.h").unwrap();
    let includes: Vec<&str> = h.lines().filter(|l| l.starts_with("#include")).collect();
    assert_eq!(
        includes,
        vec![
            "#include <stdint.h>",
            "#include <stddef.h>",
            "#include <stdbool.h>"
        ]
    );
    for line in h.lines().filter(|l| l.starts_with("#define")) {
        let name = line.split_whitespace().nth(1).unwrap();
        assert!(!name.contains('('), "function-like macro: {line}");
        assert!(name.starts_with("TANDEM_"), "unprefixed macro: {line}");
    }
    assert!(h.contains("extern \"C\" {"), "missing extern \"C\" guard");
    // Every prototype is preceded by a doc comment.
    let lines: Vec<&str> = h.lines().collect();
    for (i, l) in lines.iter().enumerate() {
        let is_proto = (l.starts_with("tandem_status tandem_")
            || l.starts_with("const char *tandem_")
            || l.starts_with("void tandem_"))
            && l.contains('(');
        if is_proto {
            assert_eq!(lines[i - 1].trim(), "*/", "undocumented prototype: {l}");
        }
    }
}

#[test]
fn every_export_is_in_the_header() {
    let h = fs::read_to_string("include/tandem.h").unwrap();
    for (_, name, _) in exports() {
        assert!(
            h.contains(&format!(" {name}(")) || h.contains(&format!("*{name}(")),
            "{name} missing from include/tandem.h"
        );
    }
}
