//! The client's host callbacks: host tools and the host provider (registration, emitted events, cancellation).

use serde_json::Value;

use super::Client;
use crate::error::{Error, Result};

impl Client {
    /// Registers a host tool (see [`crate::tools::host`]). On `AlreadyExists` or after shutdown the sink is
    /// released at once.
    pub fn register_tool(
        &self,
        spec: crate::tools::host::HostToolSpec,
        sink: Box<dyn crate::tools::host::HostToolSink>,
    ) -> Result<()> {
        if let Err(e) =
            self.local("tandem_client_register_tool (host tools run in the gateway's process)")
        {
            sink.release();
            return Err(e);
        }
        self.host_tools.register(spec, sink)
    }

    /// Sends session `session_id`'s file tool reads and writes to `editor` (an ACP client's `fs/*`), still confined
    /// to the workdir and checked against edit boundaries; `None` sends them back to the disk. The session need not
    /// be running yet, so an editor can be set before its first turn.
    pub fn set_editor_files(
        &self,
        session_id: &str,
        editor: Option<std::sync::Arc<dyn crate::tools::EditorFiles>>,
    ) -> Result<()> {
        local_only!(self, "tandem_session_set_editor_files");
        self.live()?;
        self.host_tools.set_editor(session_id, editor);
        Ok(())
    }

    /// Registers the host provider callback (see [`crate::provider::host`]), replacing any previous one; `None`
    /// unregisters. After shutdown the sink is released at once.
    pub fn set_provider(
        &self,
        sink: Option<Box<dyn crate::provider::host::HostProviderSink>>,
    ) -> Result<()> {
        if let Err(e) =
            self.local("tandem_client_set_provider (a host provider runs in the gateway's process)")
        {
            if let Some(s) = sink {
                s.release();
            }
            return Err(e);
        }
        self.shared.host.set(sink)
    }

    /// Passes a host provider event to open request `request_id` of session `session_id`.
    pub fn provider_emit(&self, session_id: &str, request_id: u64, event_json: &str) -> Result<()> {
        self.check_process()?;
        self.shared.host.emit(session_id, request_id, event_json)
    }

    /// Passes a host provider event that names its request inside the JSON (`"request_id"`), as the C API takes it.
    pub fn provider_emit_json(&self, session_id: &str, event_json: &str) -> Result<()> {
        let mut event: Value = serde_json::from_str(event_json)
            .map_err(|e| Error::InvalidJson("event_json", e.to_string()))?;
        let request_id = event
            .as_object_mut()
            .and_then(|o| o.remove("request_id"))
            .ok_or_else(|| {
                Error::invalid(
                    "event_json needs \"request_id\": the ID of the tandem_provider_request it answers",
                )
            })?
            .as_u64()
            .ok_or_else(|| {
                Error::invalid("event_json: \"request_id\" must be a non-negative integer")
            })?;
        self.check_process()?;
        // Parsed once: the rest of the document is checked as it is, not re-serialized and parsed again.
        let event = crate::provider::host::HostEvent::from_value(event)?;
        self.shared.host.emit_event(session_id, request_id, event)
    }

    /// Whether host provider request `request_id` is no longer open (finished, aborted or unknown).
    pub fn provider_request_is_cancelled(&self, request_id: u64) -> bool {
        self.shared.host.is_cancelled(request_id)
    }

    /// The client's shared provider parts (tests: the HTTP client, open host requests).
    pub fn provider_shared(&self) -> &crate::provider::Shared {
        &self.shared
    }

    /// Unregisters a host tool.
    pub fn unregister_tool(&self, name: &str) -> Result<()> {
        self.local("tandem_client_unregister_tool")?;
        self.host_tools.unregister(name)
    }
}
