//! The client side of one MCP connection as rmcp sees it: who tandem is at `initialize`, progress notifications
//! routed to the running call they belong to, and list changes passed to the server's supervisor.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use rmcp::handler::client::ClientHandler;
use rmcp::model::{
    ClientCapabilities, ClientConfig, Implementation, ProgressNotificationParam, ProgressToken,
};
use rmcp::service::{NotificationContext, RoleClient};
use tokio::sync::mpsc;

use crate::sync::lock;

/// A list the server said changed.
#[derive(Debug, Clone, Copy)]
pub enum Changed {
    /// `notifications/tools/list_changed`.
    Tools,
    /// `notifications/prompts/list_changed`.
    Prompts,
}

/// Receives one call's progress as text.
pub type ProgressFn = Arc<dyn Fn(&str) + Send + Sync>;

/// Running calls' progress callbacks by progress token.
#[derive(Clone, Default)]
pub struct ProgressMap(Arc<Mutex<HashMap<ProgressToken, ProgressFn>>>);

impl ProgressMap {
    /// Routes progress of `token` to `f` until [`ProgressMap::remove`].
    pub fn insert(&self, token: ProgressToken, f: ProgressFn) {
        lock(&self.0).insert(token, f);
    }

    /// Stops routing `token`.
    pub fn remove(&self, token: &ProgressToken) {
        lock(&self.0).remove(token);
    }

    fn get(&self, token: &ProgressToken) -> Option<ProgressFn> {
        lock(&self.0).get(token).cloned()
    }
}

/// tandem's [`ClientHandler`].
pub struct Handler {
    changed: mpsc::UnboundedSender<Changed>,
    progress: ProgressMap,
}

impl Handler {
    /// A handler reporting list changes on `changed` and routing progress through `progress`.
    pub fn new(changed: mpsc::UnboundedSender<Changed>, progress: ProgressMap) -> Handler {
        Handler { changed, progress }
    }
}

/// A progress notification as one line: `3/5 message`, `3 message` without a total.
fn progress_text(p: &ProgressNotificationParam) -> String {
    let mut out = match p.total {
        Some(t) => format!("{}/{}", p.progress, t),
        None => p.progress.to_string(),
    };
    if let Some(m) = &p.message {
        out.push(' ');
        out.push_str(m);
    }
    out
}

impl ClientHandler for Handler {
    fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) -> impl Future<Output = ()> + Send + '_ {
        if let Some(f) = self.progress.get(&params.progress_token) {
            f(&progress_text(&params));
        }
        std::future::ready(())
    }

    fn on_tool_list_changed(
        &self,
        _context: NotificationContext<RoleClient>,
    ) -> impl Future<Output = ()> + Send + '_ {
        // The supervisor may be gone (the connection is ending): nothing to update then.
        let _ = self.changed.send(Changed::Tools);
        std::future::ready(())
    }

    fn on_prompt_list_changed(
        &self,
        _context: NotificationContext<RoleClient>,
    ) -> impl Future<Output = ()> + Send + '_ {
        let _ = self.changed.send(Changed::Prompts);
        std::future::ready(())
    }

    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("tandem", env!("CARGO_PKG_VERSION")),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmcp::model::NumberOrString;

    #[test]
    fn progress_reads_as_one_line() {
        let mut p = ProgressNotificationParam::new(ProgressToken(NumberOrString::Number(1)), 3.0);
        assert_eq!(progress_text(&p), "3");
        p.total = Some(5.0);
        p.message = Some("copying".into());
        assert_eq!(progress_text(&p), "3/5 copying");
    }
}
