//! MCP server configuration: the `mcp_servers` value of the client config and the session options, in both shapes
//! users already have (the Claude/Cursor object keyed by name, and ACP's array of named entries).
//!
//! Environment and header values may be `$NAME` (or `${NAME}`): they are resolved from the host's environment when
//! a server starts ([`resolve_value`]) and never written anywhere, so secrets stay out of the JSON and the store.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::error::{Error, Result};

/// Default per-call timeout of an MCP tool.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(120);
/// Default time a server has to start and answer `initialize` and `tools/list`.
pub const DEFAULT_STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// How far a server's tools are trusted to skip approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trust {
    /// Tools annotated `readOnlyHint: true` run without approval; the others are gated (the default).
    #[default]
    Annotations,
    /// Every tool is gated, whatever its annotations claim.
    Untrusted,
    /// No tool of this server is gated.
    All,
}

/// How tandem reaches a server.
#[derive(Debug, Clone, PartialEq)]
pub enum Transport {
    /// A child process speaking JSON-RPC lines on stdin/stdout.
    Stdio {
        /// The program (looked up on `PATH`).
        command: String,
        /// Its arguments.
        args: Vec<String>,
        /// Variables added to the inherited environment (values may be `$VAR` references).
        env: Vec<(String, String)>,
        /// Working directory (default: the session's workdir).
        cwd: Option<PathBuf>,
    },
    /// Streamable HTTP.
    Http {
        /// The endpoint URL (`http://` or `https://`).
        url: String,
        /// Headers sent with every request (values may be `$VAR` references).
        headers: Vec<(String, String)>,
        /// The environment variable holding a bearer token, sent as `Authorization: Bearer …`.
        bearer_token_env: Option<String>,
    },
}

/// One configured server, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// Its name: the `<server>` of `mcp__<server>__<tool>`.
    pub name: String,
    /// How to reach it.
    pub transport: Transport,
    /// Approval trust.
    pub trust: Trust,
    /// Per-call timeout.
    pub call_timeout: Duration,
    /// Start-up timeout (process start, `initialize`, first `tools/list`).
    pub startup_timeout: Duration,
    /// Started at all (a disabled server can be enabled at run time).
    pub enabled: bool,
}

/// Name/value pairs in either shape: `{"K": "v"}` or ACP's `[{"name": "K", "value": "v"}]`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Pairs {
    Map(BTreeMap<String, String>),
    List(Vec<NamedValue>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NamedValue {
    name: String,
    value: String,
}

impl Pairs {
    fn into_vec(self) -> Vec<(String, String)> {
        match self {
            Pairs::Map(m) => m.into_iter().collect(),
            Pairs::List(l) => l.into_iter().map(|p| (p.name, p.value)).collect(),
        }
    }
}

/// One entry as written. Every field is optional here so that a missing one is reported by name.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: Option<String>,
    #[serde(rename = "type", alias = "transport")]
    kind: Option<String>,
    command: Option<String>,
    args: Option<Vec<String>>,
    env: Option<Value>,
    cwd: Option<String>,
    url: Option<String>,
    headers: Option<Value>,
    bearer_token_env: Option<String>,
    trust: Option<Trust>,
    timeout_ms: Option<u64>,
    startup_timeout_ms: Option<u64>,
    disabled: Option<bool>,
}

/// Parses an `mcp_servers` value (`field` names it in messages: `mcp_servers` of the config or the options).
/// Names must be unique, 1-64 characters from `[A-Za-z0-9_-]`, without `__` (which separates the parts of a tool's
/// name).
/// Without the `mcp` feature, a well-formed list with servers is `NotSupported` (an empty one is fine).
pub fn parse(field: &str, value: &Value) -> Result<Vec<ServerConfig>> {
    let servers = read(field, value)?;
    if cfg!(not(feature = "mcp")) && !servers.is_empty() {
        return Err(Error::NotSupported(format!(
            "{field}: this build of tandem has no MCP support (built without the Cargo feature `mcp`)"
        )));
    }
    Ok(servers)
}

/// Reads and checks an `mcp_servers` value (see [`parse`]), whatever the build's features.
fn read(field: &str, value: &Value) -> Result<Vec<ServerConfig>> {
    let entries: Vec<(Option<String>, &Value)> = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Object(m) => m.iter().map(|(k, v)| (Some(k.clone()), v)).collect(),
        Value::Array(a) => a.iter().map(|v| (None, v)).collect(),
        _ => {
            return Err(Error::invalid(format!(
                "{field} must be an object keyed by server name or an array of servers"
            )))
        }
    };
    let mut out: Vec<ServerConfig> = Vec::new();
    for (i, (key, raw)) in entries.into_iter().enumerate() {
        let at = match &key {
            Some(k) => format!("{field}.{k}"),
            None => format!("{field}[{i}]"),
        };
        let server = parse_entry(&at, key, raw)?;
        if out.iter().any(|s| s.name == server.name) {
            return Err(Error::invalid(format!(
                "{at}.name: server {:?} is configured twice",
                server.name
            )));
        }
        out.push(server);
    }
    Ok(out)
}

/// `base` with `top`'s servers added; a server of `top` with the same name as one of `base` replaces it.
pub fn overlay(base: &[ServerConfig], top: &[ServerConfig]) -> Vec<ServerConfig> {
    let mut out: Vec<ServerConfig> = base
        .iter()
        .filter(|b| !top.iter().any(|t| t.name == b.name))
        .cloned()
        .collect();
    out.extend(top.iter().cloned());
    out
}

fn parse_entry(at: &str, key: Option<String>, raw: &Value) -> Result<ServerConfig> {
    if !raw.is_object() {
        return Err(Error::invalid(format!("{at} must be an object")));
    }
    let e: Entry = serde_json::from_value(raw.clone())
        .map_err(|err| Error::invalid(format!("{at}: {err}")))?;
    let name = match (key, e.name) {
        (Some(k), None) => k,
        (Some(k), Some(n)) if n == k => k,
        (Some(_), Some(_)) => {
            return Err(Error::invalid(format!(
                "{at}.name differs from the key it is under"
            )))
        }
        (None, Some(n)) => n,
        (None, None) => return Err(Error::invalid(format!("{at}.name is missing"))),
    };
    check_name(at, &name)?;
    let kind = e
        .kind
        .as_deref()
        .unwrap_or(if e.url.is_some() { "http" } else { "stdio" });
    let only = |present: bool, what: &str, transport: &str| {
        if present {
            Err(Error::invalid(format!(
                "{at}.{what} does not apply to a {transport} server"
            )))
        } else {
            Ok(())
        }
    };
    let transport = match kind {
        "stdio" => {
            only(e.url.is_some(), "url", "stdio")?;
            only(e.headers.is_some(), "headers", "stdio")?;
            only(e.bearer_token_env.is_some(), "bearer_token_env", "stdio")?;
            let command = e
                .command
                .filter(|c| !c.is_empty())
                .ok_or_else(|| Error::invalid(format!("{at}.command is missing")))?;
            let args = e.args.unwrap_or_default();
            if command.contains('\0') || args.iter().any(|a| a.contains('\0')) {
                return Err(Error::invalid(format!("{at}.args must not contain NUL")));
            }
            Transport::Stdio {
                command,
                args,
                env: pairs(at, "env", e.env)?,
                cwd: e
                    .cwd
                    .map(|c| crate::ids::expand_path(&c))
                    .transpose()
                    .map_err(|err| Error::invalid(format!("{at}.cwd: {err}")))?,
            }
        }
        "http" | "streamable-http" | "streamable_http" | "streamableHttp" => {
            only(e.command.is_some(), "command", "http")?;
            only(e.args.is_some(), "args", "http")?;
            only(e.env.is_some(), "env", "http")?;
            only(e.cwd.is_some(), "cwd", "http")?;
            let url = e
                .url
                .ok_or_else(|| Error::invalid(format!("{at}.url is missing")))?;
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(Error::invalid(format!(
                    "{at}.url {url:?} must start with http:// or https://"
                )));
            }
            if let Some(v) = &e.bearer_token_env {
                check_var(&format!("{at}.bearer_token_env"), v)?;
            }
            Transport::Http {
                url,
                headers: pairs(at, "headers", e.headers)?,
                bearer_token_env: e.bearer_token_env,
            }
        }
        other => {
            return Err(Error::invalid(format!(
                "{at}.type {other:?} is not a transport tandem speaks (stdio or http)"
            )))
        }
    };
    let ms = |v: Option<u64>, what: &str, default: Duration| match v {
        None => Ok(default),
        Some(ms) if (1..=86_400_000).contains(&ms) => Ok(Duration::from_millis(ms)),
        Some(_) => Err(Error::invalid(format!(
            "{at}.{what} must be between 1 and 86400000"
        ))),
    };
    Ok(ServerConfig {
        name,
        transport,
        trust: e.trust.unwrap_or_default(),
        call_timeout: ms(e.timeout_ms, "timeout_ms", DEFAULT_CALL_TIMEOUT)?,
        startup_timeout: ms(
            e.startup_timeout_ms,
            "startup_timeout_ms",
            DEFAULT_STARTUP_TIMEOUT,
        )?,
        enabled: !e.disabled.unwrap_or(false),
    })
}

fn check_name(at: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.contains("__")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "{at}.name {name:?} must be 1-64 characters from [A-Za-z0-9_-] without \"__\""
        )))
    }
}

fn check_var(at: &str, name: &str) -> Result<()> {
    if name.is_empty() || name.contains(['=', '\0', '$']) {
        return Err(Error::invalid(format!(
            "{at} must name an environment variable"
        )));
    }
    Ok(())
}

fn pairs(at: &str, what: &str, v: Option<Value>) -> Result<Vec<(String, String)>> {
    let Some(v) = v else {
        return Ok(Vec::new());
    };
    let p: Pairs = serde_json::from_value(v).map_err(|_| {
        Error::invalid(format!(
            "{at}.{what} must be an object of strings or an array of {{\"name\", \"value\"}}"
        ))
    })?;
    let list = p.into_vec();
    for (k, v) in &list {
        if k.is_empty() || k.contains(['\0', '=']) || v.contains('\0') {
            return Err(Error::invalid(format!("{at}.{what}: bad entry {k:?}")));
        }
    }
    Ok(list)
}

/// A configured value with `$NAME` / `${NAME}` resolved from the host's environment (a whole-value reference; an
/// unset variable is an error naming it). Other values are returned as they are.
pub fn resolve_value(value: &str) -> std::result::Result<String, String> {
    let name = value
        .strip_prefix("${")
        .and_then(|v| v.strip_suffix('}'))
        .or_else(|| value.strip_prefix('$'));
    match name {
        Some(n) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') => {
            std::env::var(n).map_err(|_| format!("environment variable {n} is not set"))
        }
        _ => Ok(value.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn one(v: Value) -> Result<ServerConfig> {
        read("mcp_servers", &v).map(|mut l| l.remove(0))
    }

    #[test]
    fn both_shapes_parse_to_the_same_servers() {
        let object = read(
            "mcp_servers",
            &json!({"fs": {"command": "npx", "args": ["-y", "x"], "env": {"K": "$HOME"}},
                    "web": {"type": "http", "url": "https://h/mcp", "headers": {"X": "1"}}}),
        )
        .unwrap();
        let array = read(
            "mcp_servers",
            &json!([{"name": "fs", "command": "npx", "args": ["-y", "x"], "env": [{"name": "K", "value": "$HOME"}]},
                    {"name": "web", "type": "http", "url": "https://h/mcp", "headers": [{"name": "X", "value": "1"}]}]),
        )
        .unwrap();
        assert_eq!(object, array);
        assert_eq!(object[0].call_timeout, DEFAULT_CALL_TIMEOUT);
        assert!(
            matches!(&object[1].transport, Transport::Http { url, .. } if url == "https://h/mcp")
        );
        assert!(read("mcp_servers", &Value::Null).unwrap().is_empty());
    }

    #[test]
    fn bad_entries_name_the_field() {
        let cases = [
            (json!({"a": {"args": []}}), "mcp_servers.a.command"),
            (json!({"a": {"type": "http"}}), "mcp_servers.a.url"),
            (
                json!({"a": {"type": "sse", "url": "http://x"}}),
                "mcp_servers.a.type",
            ),
            (json!({"a": {"command": "x", "bogus": 1}}), "bogus"),
            (json!([{"command": "x"}]), "mcp_servers[0].name"),
            (json!({"a__b": {"command": "x"}}), "mcp_servers.a__b.name"),
            (
                json!({"a": {"command": "x", "url": "http://x"}}),
                "mcp_servers.a.command",
            ),
            (
                json!({"a": {"type": "stdio", "command": "x", "url": "http://x"}}),
                "mcp_servers.a.url",
            ),
            (json!({"a": {"url": "ftp://x"}}), "mcp_servers.a.url"),
            (
                json!({"a": {"command": "x", "env": [1]}}),
                "mcp_servers.a.env",
            ),
            (json!({"a": {"command": "x", "trust": "some"}}), "trust"),
            (
                json!({"a": {"command": "x", "timeout_ms": 0}}),
                "mcp_servers.a.timeout_ms",
            ),
            (
                json!([{"name": "a", "command": "x"}, {"name": "a", "command": "y"}]),
                "twice",
            ),
            (json!(3), "mcp_servers must be"),
        ];
        for (v, field) in cases {
            let e = read("mcp_servers", &v).unwrap_err();
            assert!(matches!(e, Error::InvalidArgument(_)), "{v}");
            assert!(e.to_string().contains(field), "{v}: {e}");
        }
    }

    #[test]
    fn servers_are_refused_only_in_a_build_without_mcp() {
        let r = parse("mcp_servers", &json!({"a": {"command": "x"}}));
        if cfg!(feature = "mcp") {
            assert_eq!(r.unwrap().len(), 1);
        } else {
            assert!(matches!(r, Err(Error::NotSupported(_))), "{r:?}");
        }
        assert!(parse("mcp_servers", &json!({})).unwrap().is_empty());
        let bad = parse("mcp_servers", &json!([{"command": "c"}]));
        assert!(matches!(bad, Err(Error::InvalidArgument(_))), "{bad:?}");
    }

    #[test]
    fn options_are_read() {
        let s =
            one(json!({"a": {"command": "x", "trust": "all", "timeout_ms": 5, "disabled": true}}))
                .unwrap();
        assert_eq!(s.trust, Trust::All);
        assert_eq!(s.call_timeout, Duration::from_millis(5));
        assert!(!s.enabled);
    }

    #[test]
    fn session_entries_add_to_the_clients_and_replace_same_names() {
        let base = read("c", &json!({"a": {"command": "1"}, "b": {"command": "2"}})).unwrap();
        let top = read("s", &json!({"b": {"command": "3"}, "c": {"command": "4"}})).unwrap();
        let all = overlay(&base, &top);
        let names: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert!(matches!(&all[1].transport, Transport::Stdio { command, .. } if command == "3"));
    }

    #[test]
    fn references_resolve_from_the_environment() {
        std::env::set_var("TANDEM_MCP_CONFIG_TEST", "secret");
        assert_eq!(resolve_value("$TANDEM_MCP_CONFIG_TEST").unwrap(), "secret");
        assert_eq!(
            resolve_value("${TANDEM_MCP_CONFIG_TEST}").unwrap(),
            "secret"
        );
        assert_eq!(resolve_value("plain $x").unwrap(), "plain $x");
        assert!(resolve_value("$TANDEM_MCP_UNSET_FOR_SURE")
            .unwrap_err()
            .contains("TANDEM_MCP_UNSET_FOR_SURE"));
    }
}
