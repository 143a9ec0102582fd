//! MCP tools as tandem tools: the names they are offered under (`mcp__<server>__<tool>`), their specs and gating,
//! calls (progress, timeout, `notifications/cancelled` when a call is abandoned) and their results as text, plus
//! the `mcp__<server>__read_resource` tool for servers that offer resources.

use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CancelledNotificationParam, ClientRequest, ReadResourceRequestParams,
    Request, ServerResult,
};
use rmcp::service::{Peer, PeerRequestOptions, RoleClient, ServiceError};
use serde_json::{json, Value};

use super::config::Trust;
use super::server::{Conn, Server};
use crate::tools::{ToolContext, ToolOutcome};
use crate::vocab::model::ToolSpec;

/// Bytes of a result kept for the model; the rest is cut with a note.
const MAX_RESULT_BYTES: usize = 100_000;

/// The tool tandem adds for a server that offers resources.
const READ_RESOURCE: &str = "read_resource";

/// The name tool `tool` of `server` is offered under: characters models refuse become `_`.
pub fn offered_name(server: &str, tool: &str) -> String {
    let clean: String = tool
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("mcp__{server}__{clean}")
}

/// The names a connection's tools are offered under, in the server's order (then `read_resource`).
pub fn offered_names(server: &str, conn: &Conn) -> Vec<String> {
    let mut names: Vec<String> = conn
        .tools
        .iter()
        .map(|t| offered_name(server, &t.name))
        .collect();
    if adds_read_resource(conn) {
        names.push(offered_name(server, READ_RESOURCE));
    }
    names
}

fn adds_read_resource(conn: &Conn) -> bool {
    conn.resources && !conn.tools.iter().any(|t| t.name == READ_RESOURCE)
}

/// What an offered name refers to on a server.
pub enum Target {
    /// A tool of the server (its own name) and whether calls are gated.
    Tool(String, bool),
    /// tandem's resource reader.
    ReadResource,
}

/// The tool `offered` names on `server`'s connection.
pub fn target(server: &Server, conn: &Conn, offered: &str) -> Option<Target> {
    let name = &server.config.name;
    if let Some(t) = conn
        .tools
        .iter()
        .find(|t| offered_name(name, &t.name) == offered)
    {
        let read_only = t
            .annotations
            .as_ref()
            .and_then(|a| a.read_only_hint)
            .unwrap_or(false);
        let gated = match server.config.trust {
            Trust::All => false,
            Trust::Untrusted => true,
            Trust::Annotations => !read_only,
        };
        return Some(Target::Tool(t.name.to_string(), gated));
    }
    (adds_read_resource(conn) && offered == offered_name(name, READ_RESOURCE))
        .then_some(Target::ReadResource)
}

/// Specs of a connection's tools.
pub fn specs(server: &str, conn: &Conn) -> Vec<ToolSpec> {
    let mut out: Vec<ToolSpec> = conn
        .tools
        .iter()
        .map(|t| ToolSpec {
            name: offered_name(server, &t.name),
            description: t.description.as_deref().or(t.title.as_deref()).map_or_else(
                || format!("Tool {} of MCP server {server}", t.name),
                str::to_string,
            ),
            input_schema: Value::Object((*t.input_schema).clone()),
        })
        .collect();
    if adds_read_resource(conn) {
        out.push(ToolSpec {
            name: offered_name(server, READ_RESOURCE),
            description: format!(
                "Reads a resource of MCP server {server} by URI; without a URI, lists its resources."
            ),
            input_schema: json!({
                "type": "object",
                "properties": {"uri": {"type": "string", "description": "The resource's URI"}},
                "additionalProperties": false
            }),
        });
    }
    out
}

/// Sends `notifications/cancelled` for a request that is dropped before its answer (the turn was aborted).
struct CancelOnDrop {
    peer: Peer<RoleClient>,
    id: Option<rmcp::model::RequestId>,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        let Some(id) = self.id.take() else {
            return;
        };
        let peer = self.peer.clone();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let param = CancelledNotificationParam::new(Some(id), Some("aborted".into()));
                // The server may be gone; then nothing runs that could be cancelled.
                let _ = peer.notify_cancelled(param).await;
            });
        }
    }
}

/// Calls tool `tool` of `server` with `args`, progress to `ctx`.
pub async fn call(
    server: &Server,
    conn: Arc<Conn>,
    tool: &str,
    args: &Value,
    ctx: &ToolContext,
) -> ToolOutcome {
    let name = &server.config.name;
    let mut params = CallToolRequestParams::new(tool.to_string());
    match args {
        Value::Object(m) => params = params.with_arguments(m.clone()),
        Value::Null => {}
        _ => return ToolOutcome::error("MCP tool arguments must be a JSON object"),
    }
    let timeout = server.config.call_timeout;
    let request = ClientRequest::CallToolRequest(Request::new(params));
    let handle = match conn
        .peer
        .send_cancellable_request(request, PeerRequestOptions::with_timeout(timeout))
        .await
    {
        Ok(h) => h,
        Err(e) => return ToolOutcome::error(failure(name, tool, e, timeout)),
    };
    let token = handle.progress_token.clone();
    let sink = ctx.clone();
    conn.progress.insert(
        token.clone(),
        Arc::new(move |text: &str| sink.progress(text)),
    );
    let mut guard = CancelOnDrop {
        peer: conn.peer.clone(),
        id: Some(handle.id.clone()),
    };
    let answer = handle.await_response().await;
    // Answered (or timed out, which rmcp cancels itself): nothing to cancel any more.
    guard.id = None;
    conn.progress.remove(&token);
    match answer {
        Ok(ServerResult::CallToolResult(r)) => {
            let v = serde_json::to_value(&r).unwrap_or_default();
            let is_error = v["isError"].as_bool().unwrap_or(false);
            let text = cap(render(&v));
            ToolOutcome {
                is_error,
                ..ToolOutcome::ok(text)
            }
        }
        Ok(_) => ToolOutcome::error(format!(
            "MCP server {name} answered tools/call of {tool} with something other than a tool result"
        )),
        Err(e) => ToolOutcome::error(failure(name, tool, e, timeout)),
    }
}

/// Lists (no `uri`) or reads a resource of `server`.
pub async fn read_resource(server: &Server, conn: Arc<Conn>, args: &Value) -> ToolOutcome {
    let name = &server.config.name;
    let result = match args.get("uri") {
        None | Some(Value::Null) => conn
            .peer
            .list_all_resources()
            .await
            .map(|r| serde_json::to_string_pretty(&r).unwrap_or_default()),
        Some(Value::String(uri)) => conn
            .peer
            .read_resource(ReadResourceRequestParams::new(uri.clone()))
            .await
            .map(|r| render_contents(&serde_json::to_value(&r).unwrap_or_default()["contents"])),
        Some(_) => return ToolOutcome::error("uri must be a string"),
    };
    match result {
        Ok(text) => ToolOutcome::ok(cap(text)),
        Err(e) => ToolOutcome::error(failure(name, READ_RESOURCE, e, server.config.call_timeout)),
    }
}

fn failure(server: &str, tool: &str, e: ServiceError, timeout: std::time::Duration) -> String {
    match e {
        ServiceError::Timeout { .. } => format!(
            "MCP tool {tool} of server {server} timed out after {} ms (the server's timeout_ms); it was cancelled",
            timeout.as_millis()
        ),
        ServiceError::McpError(err) => format!("MCP server {server}: {}", err.message),
        ServiceError::TransportClosed | ServiceError::TransportSend(_) => format!(
            "MCP server {server} closed the connection during the call (it is restarted; see its mcp_server_status event)"
        ),
        other => format!("MCP server {server}: {other}"),
    }
}

/// A tool result's content as text: text parts as they are, images and audio as a note of their type and size,
/// embedded resources by their text (or a note for binary ones), links by URI; the structured content as JSON when
/// no text part is there to carry it (servers should send it as text too, and most do, often differently shaped).
pub fn render(result: &Value) -> String {
    let mut parts: Vec<String> = Vec::new();
    for c in result["content"].as_array().into_iter().flatten() {
        parts.push(match c["type"].as_str().unwrap_or("") {
            "text" => c["text"].as_str().unwrap_or("").to_string(),
            "image" | "audio" => format!(
                "[{} {}, {} bytes of base64]",
                c["type"].as_str().unwrap_or(""),
                c["mimeType"].as_str().unwrap_or("?"),
                c["data"].as_str().map_or(0, str::len)
            ),
            "resource" => render_contents(&json!([c["resource"]])),
            "resource_link" => format!(
                "[resource link {} ({})]",
                c["uri"].as_str().unwrap_or(""),
                c["name"].as_str().unwrap_or("")
            ),
            other => format!("[{other} content]"),
        });
    }
    let has_text = result["content"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "text");
    if let Some(s) = result.get("structuredContent").filter(|s| !s.is_null()) {
        if !has_text {
            parts.push(serde_json::to_string(s).unwrap_or_default());
        }
    }
    parts.join("\n")
}

fn render_contents(contents: &Value) -> String {
    contents
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| match r["text"].as_str() {
            Some(t) => t.to_string(),
            None => format!(
                "[resource {} {}, {} bytes of base64]",
                r["uri"].as_str().unwrap_or(""),
                r["mimeType"].as_str().unwrap_or("?"),
                r["blob"].as_str().map_or(0, str::len)
            ),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `text` cut to [`MAX_RESULT_BYTES`] (at a character boundary) with a note of what was cut.
fn cap(mut text: String) -> String {
    if text.len() <= MAX_RESULT_BYTES {
        return text;
    }
    let total = text.len();
    let mut end = MAX_RESULT_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push_str(&format!(
        "\n[result cut: {total} bytes, the first {end} shown]"
    ));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_prefixed_and_cleaned() {
        assert_eq!(offered_name("fs", "read_file"), "mcp__fs__read_file");
        assert_eq!(
            offered_name("e", "get tiny.image"),
            "mcp__e__get_tiny_image"
        );
    }

    #[test]
    fn results_render_every_kind_of_content() {
        let v = json!({"content": [
            {"type": "image", "mimeType": "image/png", "data": "AAAA"},
            {"type": "resource", "resource": {"uri": "x://a", "text": "inside"}},
            {"type": "resource_link", "uri": "x://b", "name": "b"}
        ], "structuredContent": {"t": 1}});
        assert_eq!(
            render(&v),
            "[image image/png, 4 bytes of base64]\ninside\n[resource link x://b (b)]\n{\"t\":1}"
        );
        let carried =
            json!({"content": [{"type": "text", "text": "t is 1"}], "structuredContent": {"t": 1}});
        assert_eq!(render(&carried), "t is 1");
    }

    #[test]
    fn big_results_are_cut_with_a_note() {
        let out = cap("é".repeat(MAX_RESULT_BYTES));
        assert!(out.len() < MAX_RESULT_BYTES + 100);
        assert!(out.ends_with(&format!(
            "[result cut: {} bytes, the first {} shown]",
            2 * MAX_RESULT_BYTES,
            MAX_RESULT_BYTES
        )));
    }
}
