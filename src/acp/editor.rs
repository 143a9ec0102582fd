//! The ACP client's `fs/read_text_file` / `fs/write_text_file` as a session's [`EditorFiles`]: the file tools read
//! the editor's buffers (unsaved changes included) and write through it, after the workdir handle checked the path.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use super::rpc::Connection;
use crate::tools::EditorFiles;

/// How long a read or write waits for the client: less than the file tools' own timeout, so the tool reports the
/// client's silence rather than its own.
const CLIENT_WAIT: Duration = Duration::from_secs(25);

/// One session's files in the client.
#[derive(Debug)]
pub struct ClientFiles {
    conn: Arc<Connection>,
    runtime: tokio::runtime::Handle,
    session_id: String,
    read: bool,
    write: bool,
}

impl ClientFiles {
    /// The files of ACP session `session_id`, over `conn` driven by `runtime`; `read` / `write`: what the client
    /// advertised.
    pub fn new(
        conn: Arc<Connection>,
        runtime: tokio::runtime::Handle,
        session_id: &str,
        read: bool,
        write: bool,
    ) -> ClientFiles {
        ClientFiles {
            conn,
            runtime,
            session_id: session_id.to_string(),
            read,
            write,
        }
    }

    /// Sends request `method` from a blocking-pool thread and waits for its answer.
    fn call(&self, method: &'static str, params: Value) -> Result<Value, String> {
        let (tx, rx) = std::sync::mpsc::channel();
        let conn = self.conn.clone();
        self.runtime.spawn(async move {
            let _ = tx.send(conn.request(method, params).await);
        });
        match rx.recv_timeout(CLIENT_WAIT) {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(format!("the editor refused: {}", e.message)),
            Err(_) => Err(format!(
                "the editor did not answer within {} s",
                CLIENT_WAIT.as_secs()
            )),
        }
    }
}

impl EditorFiles for ClientFiles {
    fn reads(&self) -> bool {
        self.read
    }

    fn writes(&self) -> bool {
        self.write
    }

    fn read(&self, path: &Path) -> Result<String, String> {
        let v = self.call(
            "fs/read_text_file",
            json!({"sessionId": self.session_id, "path": path}),
        )?;
        v.get("content")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| "the editor's answer has no content".to_string())
    }

    fn write(&self, path: &Path, content: &str) -> Result<(), String> {
        self.call(
            "fs/write_text_file",
            json!({"sessionId": self.session_id, "path": path, "content": content}),
        )
        .map(drop)
    }
}
