//! The agent's ACP session ID kept beside the tandem session's record in the store (`<store>/sessions/<id>.acp`),
//! so a tandem session started again after tandem itself restarted loads the agent's session instead of a new one.

use std::path::Path;

use serde_json::{json, Value};

/// The ACP session ID saved in `path`, if any (a missing or unreadable file is none: the agent starts afresh).
pub(crate) fn read(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    v["acp_session_id"]
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Saves `session_id` in `path`, replacing it atomically (a crash leaves the old ID or the new one).
pub(crate) fn write(path: &Path, session_id: &str) -> std::io::Result<()> {
    let body = json!({"acp_session_id": session_id}).to_string();
    crate::store::replace_file(&path.with_extension("acp.tmp"), path, body.as_bytes())
        .map_err(|(_, e)| e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_written_reads_back_and_a_missing_or_bad_file_is_none() {
        let dir = std::env::temp_dir().join(format!("tandem-acp-saved-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.acp");
        assert_eq!(read(&path), None);
        write(&path, "sess-1").unwrap();
        write(&path, "sess-2").unwrap();
        assert_eq!(read(&path).as_deref(), Some("sess-2"));
        assert!(!path.with_extension("acp.tmp").exists());
        std::fs::write(&path, "not json").unwrap();
        assert_eq!(read(&path), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
