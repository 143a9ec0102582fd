//! Fuzz target: `apply_diff` (hunk parsing, placement near the stated line, all-or-nothing patching, the boundary
//! check) and the edit tools' exact matching (`edit_file`, `multi_edit_file`) on arbitrary text.
//! Input: byte 0 picks the tool and whether there is a boundary, bytes 1-2 are the boundary's lines, and the rest is
//! split on NUL bytes into the file's text and the diff (or the edits' old/new texts).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem::fuzzing::{apply_diff, edit};
use tandem::session::boundaries::Boundary;

fuzz_target!(|data: &[u8]| {
    let [mode, start, len, rest @ ..] = data else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let boundary = if mode & 2 == 0 {
        None
    } else {
        Boundary::new(u32::from(*start), u32::from(*start) + u32::from(*len)).ok()
    };
    let mut parts = text.split('\0');
    let content = parts.next().unwrap_or("");
    if mode & 1 == 0 {
        let diff = parts.next().unwrap_or("");
        let before = (mode & 4 == 0).then_some(content);
        if let Ok((after, edits)) = apply_diff(before, diff, boundary) {
            // A file that had a final newline keeps one; a new file gets one.
            if before.is_none_or(|b| b.is_empty() || b.ends_with('\n')) {
                assert!(after.is_empty() || after.ends_with('\n'), "{after:?}");
            }
            if let Some(b) = boundary {
                let _ = edits
                    .iter()
                    .try_fold(b, |b, e| b.adjust(e.edit_line, e.delta_lines));
            }
        }
    } else {
        let rest: Vec<&str> = parts.collect();
        let pairs: Vec<(&str, &str)> = rest
            .chunks(2)
            .map(|p| (p[0], p.get(1).copied().unwrap_or("")))
            .collect();
        if let Ok((after, edits)) = edit(content, &pairs, boundary) {
            assert_eq!(edits.len(), pairs.len());
            let net: i64 = edits.iter().map(|e| e.delta_lines).sum();
            let lines = |s: &str| s.bytes().filter(|b| *b == b'\n').count() as i64;
            assert_eq!(lines(&after) - lines(content), net);
        }
    }
});
