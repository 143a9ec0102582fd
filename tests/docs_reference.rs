//! The reference pages cannot drift from what they describe: docs/options.md lists exactly the session options,
//! scripted-model steps and client config keys of schemas/tandem.schema.json (nested keys included, with every
//! allowed value of an enum), and docs/tools.md lists exactly the built-in tools the crate offers a model, each with
//! exactly its arguments (type and whether required), and says which ones ask for approval and which plan mode
//! refuses. The header documents every top-level key the library accepts for a session start and a client, and the
//! library accepts exactly the schema's keys.
//!
//! Conventions the pages follow (and this test reads): an entry is a table row whose first cell is a backticked
//! name (`| \`compaction.threshold\` | ...`); nested keys are joined with `.`, the fields of an array's items with
//! `[].`. Each page is split into `## ` sections, and each section is checked against its own list.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::Value;
use tandem::tools::ToolSet;

fn read(rel: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn schema() -> Value {
    serde_json::from_str(&read("schemas/tandem.schema.json")).expect("the schema is JSON")
}

/// The `## ` sections of a page: title → rows (first cell without backticks → the whole row).
fn sections(page: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut current = None;
    for line in page.lines() {
        if let Some(title) = line.strip_prefix("## ") {
            current = Some(title.trim().to_string());
            out.entry(title.trim().to_string()).or_default();
            continue;
        }
        let Some(title) = &current else { continue };
        let Some(rest) = line.strip_prefix("| `") else {
            continue;
        };
        let Some((name, _)) = rest.split_once("` |") else {
            continue;
        };
        let rows = out.get_mut(title).expect("section entered");
        assert!(
            rows.insert(name.to_string(), line.to_string()).is_none(),
            "{title}: `{name}` is documented twice"
        );
    }
    out
}

fn section<'a>(
    page: &'a BTreeMap<String, BTreeMap<String, String>>,
    file: &str,
    title: &str,
) -> &'a BTreeMap<String, String> {
    page.get(title)
        .unwrap_or_else(|| panic!("{file} has no section \"## {title}\""))
}

/// Follows a local `$ref` (`#/$defs/name`).
fn deref<'a>(root: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r.strip_prefix("#/$defs/").expect("local ref");
            &root["$defs"][name]
        }
        None => v,
    }
}

/// Every key path below object schema `v`, each with the enum values allowed there (empty when not an enum).
/// Arrays are looked through (their items' keys are the array's). A `$ref` to a def in `stop` is not entered.
fn key_paths(
    root: &Value,
    v: &Value,
    prefix: &str,
    stop: &[&str],
    out: &mut BTreeMap<String, Vec<String>>,
) {
    if let Some(r) = v.get("$ref").and_then(Value::as_str) {
        if stop.iter().any(|s| r == format!("#/$defs/{s}")) {
            return;
        }
    }
    let v = deref(root, v);
    if let Some(items) = v.get("items") {
        key_paths(root, items, prefix, stop, out);
    }
    let Some(props) = v.get("properties").and_then(Value::as_object) else {
        return;
    };
    for (key, sub) in props {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        let sub_d = deref(root, sub);
        let values = sub_d
            .get("enum")
            .or_else(|| sub_d.pointer("/additionalProperties/enum"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        out.insert(path.clone(), values);
        key_paths(root, sub, &path, stop, out);
    }
}

/// The documented names (rows) that `known` lacks.
fn unknown<'a, V>(
    rows: &'a BTreeMap<String, String>,
    known: &'a BTreeMap<String, V>,
) -> impl Iterator<Item = &'a String> {
    rows.keys().filter(|k| !known.contains_key(*k))
}

/// Checks one section of docs/options.md against schema keys: the same names, and each enum value in its row.
fn check_keys(
    file: &str,
    title: &str,
    rows: &BTreeMap<String, String>,
    keys: &BTreeMap<String, Vec<String>>,
) -> Vec<String> {
    let mut problems = Vec::new();
    for (key, values) in keys {
        match rows.get(key) {
            None => problems.push(format!(
                "{file} ## {title}: `{key}` is in the schema but not documented"
            )),
            Some(row) => {
                for value in values {
                    if !row.contains(&format!("`{value}`")) {
                        problems.push(format!(
                            "{file} ## {title}: the row of `{key}` does not name its value `{value}`"
                        ));
                    }
                }
            }
        }
    }
    for name in unknown(rows, keys) {
        problems.push(format!(
            "{file} ## {title}: `{name}` is documented but not in the schema"
        ));
    }
    problems
}

#[test]
fn options_page_lists_exactly_the_schema_keys() {
    let root = schema();
    let defs = &root["$defs"];
    let page = sections(&read("docs/options.md"));
    let file = "docs/options.md";

    let mut session = BTreeMap::new();
    key_paths(
        &root,
        &defs["session_options"],
        "",
        &["script_step"],
        &mut session,
    );
    let mut steps = BTreeMap::new();
    key_paths(&root, &defs["script_step"], "", &[], &mut steps);
    let mut client = BTreeMap::new();
    key_paths(
        &root,
        &defs["client_config"],
        "",
        &["session_options"],
        &mut client,
    );
    // The walk itself must reach nested keys, or an empty page would match an empty list.
    for (set, key) in [
        (&session, "compaction.threshold"),
        (&session, "restart.max_attempts"),
        (&session, "retry.max_retries"),
        (&steps, "tool_call.name"),
        (&steps, "error.status"),
        (&client, "restart.window_ms"),
        (&client, "session_defaults"),
    ] {
        assert!(set.contains_key(key), "the schema walk missed {key}");
    }

    let mut problems = Vec::new();
    for (title, keys) in [
        ("Session options", &session),
        ("Scripted model steps", &steps),
        ("Client config", &client),
    ] {
        problems.extend(check_keys(file, title, section(&page, file, title), keys));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The argument rows a tool's schema calls for: name → (JSON type, required).
fn tool_args(schema: &Value, prefix: &str, out: &mut BTreeMap<String, (String, bool)>) {
    let required: BTreeSet<&str> = schema["required"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(props) = schema["properties"].as_object() else {
        return;
    };
    for (name, sub) in props {
        let path = format!("{prefix}{name}");
        let ty = sub["type"].as_str().unwrap_or("any").to_string();
        out.insert(path.clone(), (ty, required.contains(name.as_str())));
        if sub["items"].is_object() {
            tool_args(&sub["items"], &format!("{path}[]."), out);
        }
    }
}

/// The cells of a table row, trimmed.
fn cells(row: &str) -> Vec<String> {
    row.trim()
        .trim_matches('|')
        .split(" | ")
        .map(|c| c.trim().to_string())
        .collect()
}

#[test]
fn tools_page_lists_exactly_the_builtin_tools_and_their_arguments() {
    let file = "docs/tools.md";
    let page = sections(&read(file));
    // With a workdir every built-in tool is offered; the workdir need not exist for the specs.
    let set = ToolSet::new(Some(std::env::temp_dir()), None);
    let specs = set.specs();
    assert!(specs.len() >= 10, "the crate offers {} tools", specs.len());
    assert!(
        ToolSet::new(None, None).specs().is_empty(),
        "tools.md says a session without a workdir has no built-in tools"
    );

    let mut problems = Vec::new();
    let summary = section(&page, file, "Summary");
    let names: BTreeSet<&str> = specs.iter().map(|s| s.name.as_str()).collect();
    for spec in &specs {
        let name = spec.name.as_str();
        let destructive = set.is_destructive(name);
        match summary.get(name) {
            None => problems.push(format!("{file} ## Summary: no row for `{name}`")),
            Some(row) => {
                // | tool | what it may do | `destructive` mode (default) | plan mode |
                let c = cells(row);
                let (asks, plan) = (c.get(2).map(String::as_str), c.get(3).map(String::as_str));
                let want = if destructive {
                    (Some("asks"), Some("refused"))
                } else {
                    (Some("runs"), Some("runs"))
                };
                if (asks, plan) != want {
                    problems.push(format!(
                        "{file} ## Summary: `{name}` says {asks:?} / {plan:?}, the crate means {want:?}"
                    ));
                }
            }
        }
        let title = format!("`{name}`");
        let Some(rows) = page.get(&title) else {
            problems.push(format!("{file}: no section \"## `{name}`\""));
            continue;
        };
        let mut args = BTreeMap::new();
        tool_args(&spec.input_schema, "", &mut args);
        for (arg, (ty, required)) in &args {
            let Some(row) = rows.get(arg) else {
                problems.push(format!(
                    "{file} ## `{name}`: argument `{arg}` is not documented"
                ));
                continue;
            };
            // | argument | type | required | meaning |
            let c = cells(row);
            if !c.get(1).is_some_and(|t| t.contains(ty.as_str())) {
                problems.push(format!("{file} ## `{name}`: `{arg}` should say type {ty}"));
            }
            let want = if *required { "yes" } else { "no" };
            if c.get(2).map(String::as_str) != Some(want) {
                problems.push(format!(
                    "{file} ## `{name}`: `{arg}` should say required: {want}"
                ));
            }
        }
        for arg in unknown(rows, &args) {
            problems.push(format!(
                "{file} ## `{name}`: `{arg}` is documented but not an argument of the tool"
            ));
        }
    }
    for name in summary.keys() {
        if !names.contains(name.as_str()) {
            problems.push(format!(
                "{file} ## Summary: `{name}` is not a built-in tool"
            ));
        }
    }
    for title in page.keys() {
        if let Some(name) = title.strip_prefix('`').and_then(|t| t.strip_suffix('`')) {
            if !names.contains(name) {
                problems.push(format!("{file}: `{name}` is not a built-in tool"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The doc comment (`/** ... */`) right before `function`'s declaration in include/tandem.h.
fn header_doc(function: &str) -> String {
    let header = read("include/tandem.h");
    let decl = header
        .find(&format!("tandem_status {function}("))
        .unwrap_or_else(|| panic!("{function} is not declared in include/tandem.h"));
    let start = header[..decl]
        .rfind("/**")
        .unwrap_or_else(|| panic!("{function} has no doc comment"));
    header[start..decl].to_string()
}

/// The keys serde names in its refusal of an unknown key (`unknown field `x`, expected one of `a`, `b``).
fn expected_keys(refusal: &str) -> BTreeSet<String> {
    let list = refusal
        .split_once("expected one of ")
        .unwrap_or_else(|| panic!("not a refusal listing the keys: {refusal}"))
        .1;
    list.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

#[test]
fn the_header_names_every_key_of_session_options_and_client_config() {
    let root = schema();
    let props = |def: &str| -> BTreeSet<String> {
        root["$defs"][def]["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("$defs.{def} has no properties"))
            .keys()
            .cloned()
            .collect()
    };
    let unknown = r#"{"no_such_key": 1}"#;
    let session_refusal = tandem::Client::new(Some(r#"{"store_dir": null}"#))
        .unwrap()
        .start_session(Some(unknown))
        .expect_err("an unknown session option is refused")
        .to_string();
    let client_refusal = tandem::client::Config::parse(Some(unknown))
        .expect_err("an unknown config key is refused")
        .to_string();
    for (def, function, refusal) in [
        // session_options and subagent_options share their keys through session_option_keys.
        (
            "session_option_keys",
            "tandem_session_start",
            session_refusal,
        ),
        ("client_config", "tandem_client_new", client_refusal),
    ] {
        let keys = props(def);
        assert!(keys.len() > 5, "{def}: {keys:?}");
        assert_eq!(
            expected_keys(&refusal),
            keys,
            "the library's {def} keys differ from the schema's"
        );
        let doc = header_doc(function);
        let missing: Vec<&String> = keys
            .iter()
            .filter(|k| !doc.contains(&format!("`{k}`")))
            .collect();
        assert!(
            missing.is_empty(),
            "the doc of {function} in include/tandem.h does not name {missing:?}"
        );
    }
}
