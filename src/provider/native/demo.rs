//! The built-in `scripted:demo` model: a short, deterministic tour of the workdir with real tools: list it, read
//! its README (or first file), grep for open TODOs while counting the file's lines with `shell` (which asks for
//! approval), then summarize.

use serde_json::{json, Value};

use super::scripted::Step;
use crate::provider::ModelMessage;
use crate::vocab::content::Usage;

fn demo_usage(call: u64) -> Step {
    Step::Usage(Usage {
        input: 900 + 350 * call,
        output: 60 + 40 * call,
        cost: 0.0004 * (call + 1) as f64,
        ..Usage::default()
    })
}

/// Model calls since the last user prompt, and the results of tools called since.
fn since_prompt(messages: &[ModelMessage]) -> (usize, Vec<(&str, &str, bool)>) {
    let start = messages
        .iter()
        .rposition(|m| matches!(m, ModelMessage::User(_)))
        .map_or(0, |i| i + 1);
    let mut calls = 0;
    let mut results = Vec::new();
    for m in &messages[start..] {
        match m {
            ModelMessage::Assistant { .. } => calls += 1,
            ModelMessage::ToolResult {
                name,
                content,
                is_error,
                ..
            } => results.push((name.as_str(), content.as_str(), *is_error)),
            ModelMessage::User(_) => {}
        }
    }
    (calls, results)
}

/// The file the tour reads: a README if there is one, else the first regular file of the listing.
fn pick(listing: &str) -> Option<&str> {
    let files: Vec<&str> = listing
        .lines()
        .filter(|l| !l.ends_with('/') && !l.is_empty())
        .collect();
    files
        .iter()
        .find(|f| f.to_ascii_lowercase().starts_with("readme"))
        .or_else(|| files.first())
        .copied()
}

/// A single-quoted shell word.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn call(name: &str, args: Value) -> Step {
    Step::ToolCall {
        name: name.into(),
        args,
        id: None,
    }
}

/// The demo's next response, from what happened since the prompt.
pub fn demo(messages: &[ModelMessage]) -> Vec<Step> {
    let (calls, results) = since_prompt(messages);
    if let Some((tool, result, true)) = results.last().filter(|(t, ..)| *t != "shell") {
        return vec![
            Step::Text(format!(
                "\n\nI couldn't use {tool}: {result}. Give me a workdir and I'll take a look."
            )),
            demo_usage(calls as u64),
        ];
    }
    match (calls, results.as_slice()) {
        (0, _) => vec![
            Step::Thinking("The user wants to know about this project. ".into()),
            Step::Thinking(
                "I'll list the working directory first, then read the most telling file.".into(),
            ),
            Step::Text("Let me look around the workdir.".into()),
            call("list_directory", json!({"path": "."})),
            demo_usage(0),
        ],
        (1, [("list_directory", listing, _)]) => match pick(listing) {
            Some(file) => vec![
                Step::Thinking(format!(
                    "There are {} entries. {file} should say what this is.",
                    listing.lines().count()
                )),
                Step::Text(format!(" I'll read {file}.")),
                call("read_file", json!({"path": file, "limit": 40})),
                demo_usage(1),
            ],
            None => vec![
                Step::Text(format!(
                    "\n\nThe workdir has {} entries and no regular files to read.",
                    listing.lines().count()
                )),
                demo_usage(1),
            ],
        },
        (2, [("list_directory", listing, _), ("read_file", ..)]) => {
            let file = pick(listing).unwrap_or(".");
            vec![
                Step::Thinking("Next: open TODOs, and how long the file really is.".into()),
                Step::Text(" Checking for TODOs and counting its lines.".into()),
                call(
                    "grep",
                    json!({"pattern": "TODO|FIXME", "path": ".", "case_sensitive": false}),
                ),
                call(
                    "shell",
                    json!({"command": format!("wc -l < {}", quote(file))}),
                ),
                demo_usage(2),
            ]
        }
        (_, [_, ("read_file", content, _), ("grep", grep, _), ("shell", lines, shell_failed)]) => {
            summary(content, grep, (!shell_failed).then_some(*lines), calls)
        }
        _ => vec![
            Step::Text("\n\nI'm done looking around.".into()),
            demo_usage(calls as u64),
        ],
    }
}

fn summary(content: &str, grep: &str, line_count: Option<&str>, calls: usize) -> Vec<Step> {
    let body = content
        .strip_prefix('[')
        .and_then(|c| c.split_once("]\n"))
        .map_or(content, |(_, rest)| rest);
    let first = body
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("(empty)");
    let todos = if grep.starts_with("no matches") {
        "no open TODOs".to_string()
    } else {
        let n = grep.lines().filter(|l| !l.starts_with('[')).count();
        format!("{n} TODO/FIXME line{}", if n == 1 { "" } else { "s" })
    };
    let size = match line_count {
        Some(n) => format!("it is {} lines long", n.trim()),
        None => "I didn't get to count its lines".to_string(),
    };
    vec![
        Step::Thinking("Enough to summarize.".into()),
        Step::Text(format!(
            "\n\nHere's what I found: the file starts with \"{first}\", {size}, and the workdir has {todos}. "
        )),
        Step::Text("That's the tour. Ask me anything else about it.".into()),
        demo_usage(calls as u64),
    ]
}
