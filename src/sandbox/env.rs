//! The environment of a shell command: built from an allowlist, so a secret the host process holds (API keys,
//! `GITHUB_TOKEN`, `AWS_SECRET_ACCESS_KEY`, ...) reaches a command only when the host names it in `shell_env`.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::sync::Mutex;

/// Variables every command gets from tandem's environment (when set): what programs need to find tools, the
/// home directory, the locale, the terminal type, the time zone and the temp directory. `LC_*` is a prefix.
pub const BASE: &[&str] = &[
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "LC_*", "TERM", "TZ", "TMPDIR",
];

/// Variables some session reads its API key from (`api_key_env`). Process-wide on purpose: a key one session uses
/// is a secret for every session's commands, even one whose `shell_env` names it.
static KEY_VARIABLES: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// Marks `name` as holding an API key, so commands never get it.
pub fn mark_key_variable(name: &str) {
    KEY_VARIABLES
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(name.to_string());
}

/// Whether `name` holds a model API key: any `*_API_KEY` (any case) or a session's `api_key_env`. Such variables
/// are never passed, whatever `shell_env` says.
pub fn is_key_variable(name: &str) -> bool {
    name.to_ascii_uppercase().ends_with("_API_KEY")
        || KEY_VARIABLES
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(name)
}

fn allowed(name: &str, extra: &[String]) -> bool {
    BASE.iter()
        .copied()
        .chain(extra.iter().map(String::as_str))
        .any(|pattern| match pattern.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix),
            None => name == pattern,
        })
}

/// The variables of `vars` (tandem's environment) a command gets: those [`BASE`] or `extra` names, minus API keys.
pub fn filter(
    vars: impl Iterator<Item = (OsString, OsString)>,
    extra: &[String],
) -> Vec<(OsString, OsString)> {
    vars.filter(|(k, _)| {
        k.to_str()
            .is_some_and(|k| allowed(k, extra) && !is_key_variable(k))
    })
    .collect()
}
