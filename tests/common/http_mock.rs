//! A scripted HTTP/1.1 server for model-backend tests: one reply per connection, written in chunks of a chosen size.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;

use serde_json::{json, Value};

/// What the mock answers to one request.
pub enum Reply {
    /// Status, extra headers, body written `chunk` bytes at a time; the connection closes after it.
    Send(u16, Vec<(&'static str, String)>, String, usize),
    /// Headers of a 200 event stream, then nothing until the client goes away (reported on the channel).
    Stall(mpsc::Sender<()>),
}

/// A request as the mock received it.
pub struct Seen {
    /// Request line and headers.
    pub head: String,
    /// The JSON body.
    pub body: Value,
}

/// Serves `replies` in order, one connection each, and hands back what each request carried.
pub fn serve(replies: Vec<Reply>) -> (String, mpsc::Receiver<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for reply in replies {
            let Ok((mut s, _)) = listener.accept() else {
                return;
            };
            let seen = read_request(&mut s);
            let _ = tx.send(seen);
            match reply {
                Reply::Send(status, headers, body, chunk) => {
                    let mut head = format!("HTTP/1.1 {status} X\r\nconnection: close\r\n");
                    if status == 200 {
                        head.push_str("content-type: text/event-stream\r\n");
                    }
                    for (k, v) in headers {
                        head.push_str(&format!("{k}: {v}\r\n"));
                    }
                    head.push_str("\r\n");
                    let _ = s.write_all(head.as_bytes());
                    for piece in body.as_bytes().chunks(chunk.max(1)) {
                        if s.write_all(piece).and_then(|_| s.flush()).is_err() {
                            break;
                        }
                    }
                }
                Reply::Stall(gone) => {
                    let _ = s.write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n",
                    );
                    let _ = s.flush();
                    let mut buf = [0u8; 64];
                    // Blocks until the client closes its end.
                    while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
                    let _ = gone.send(());
                }
            }
        }
    });
    (url, rx)
}

/// Reads one request: its head, then a body of `content-length` bytes parsed as JSON (null when there is none).
pub fn read_request(s: &mut TcpStream) -> Seen {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = s.read(&mut buf).unwrap();
        data.extend_from_slice(&buf[..n]);
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_string();
            let len: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            while data.len() < end + 4 + len {
                let n = s.read(&mut buf).unwrap();
                data.extend_from_slice(&buf[..n]);
            }
            let body = if len == 0 {
                Value::Null
            } else {
                serde_json::from_slice(&data[end + 4..end + 4 + len]).unwrap()
            };
            return Seen { head, body };
        }
    }
}

/// One OpenAI Chat Completions stream chunk.
pub fn openai_chunk(delta: Value, finish: Value) -> String {
    format!(
        "data: {}\n\n",
        json!({"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    )
}

/// A complete OpenAI stream answering `say`, with usage (input, output, cached input).
pub fn openai_reply(say: &str, usage: (u64, u64, u64)) -> String {
    let mut out = openai_chunk(json!({"role": "assistant", "content": ""}), Value::Null);
    out.push_str(": keep-alive\n\n");
    out.push_str(&openai_chunk(
        json!({"reasoning_content": "hm"}),
        Value::Null,
    ));
    out.push_str(&openai_chunk(json!({"content": say}), Value::Null));
    out.push_str(&openai_chunk(json!({}), json!("stop")));
    out.push_str(&format!(
        "data: {}\n\ndata: [DONE]\n\n",
        json!({"id": "c", "choices": [], "usage": {"prompt_tokens": usage.0, "completion_tokens": usage.1,
            "prompt_tokens_details": {"cached_tokens": usage.2}}})
    ));
    out
}
