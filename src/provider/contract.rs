//! The provider contract: what a session asks of its provider (turns, side calls, model switches) and the link a
//! running turn reports through.

use std::sync::Arc;

use super::native::model::BoxFuture;
use super::{ModelMessage, ProviderEvent};
use crate::error::Result;
use crate::vocab::content::ContentPart;
use crate::vocab::gate::{Gate, GateRequest};
use crate::vocab::settings::ProviderConfig;
use crate::vocab::settings::{SideKind, SideResult};

/// The running turn's line to its session.
pub trait TurnLink: Send + Sync {
    /// Reports an event of this turn.
    fn emit(&self, event: ProviderEvent);
    /// Asks the session whether a tool call may run, waiting up to `timeout` for a pending approval.
    fn gate(&self, request: GateRequest, timeout: std::time::Duration) -> BoxFuture<'_, Gate>;
    /// Takes the steering queued since the last call (empty when there is none or the session does not answer).
    fn take_steering(&self) -> BoxFuture<'_, Vec<Vec<ContentPart>>>;
    /// The session's edit boundaries as the session has them now, by resolved absolute path (a copy, so tool
    /// threads never touch the session's state).
    fn boundaries(&self) -> BoxFuture<'_, Arc<Boundaries>>;
}

/// Edit boundaries by resolved absolute path.
pub type Boundaries = std::collections::BTreeMap<String, crate::vocab::files::Boundary>;

/// A session's provider. The session owns one per incarnation and drops it on stop or restart (a provider holding a
/// subprocess or host registration releases it then).
///
/// Every turn reports `AgentStart`, deltas and tool events, then exactly one `AgentEnd`; dropping the turn's future
/// is an abort and reports nothing further.
pub trait Provider: Send + Sync {
    /// Runs one turn. `context` is the branch's model context ending with the new user message, shared with the
    /// session (which keeps it between turns): a turn that adds to it copies it, and one that drops it before its
    /// `AgentEnd` lets the session extend it for the next turn without a copy.
    fn run_turn(
        self: Arc<Self>,
        context: crate::vocab::model::SharedContext,
        link: Arc<dyn TurnLink>,
    ) -> BoxFuture<'static, ()>;

    /// A model call outside any turn: a compaction summary or a saved session summary.
    fn side_call(
        self: Arc<Self>,
        kind: SideKind,
        context: Vec<ModelMessage>,
    ) -> BoxFuture<'static, std::result::Result<SideResult, String>>;

    /// The provider after a switch of model, thinking level or skills (turns already running keep theirs).
    fn reconfigure(&self, config: &ProviderConfig) -> Result<Arc<dyn Provider>>;

    /// Steering was queued while a turn runs. Providers that deliver steering as soon as it arrives take it with
    /// [`TurnLink::take_steering`]; the native loop takes it between tool batches and ignores this.
    fn steering_queued(&self) {}

    /// Whether the provider can take a turn or a side call now; `Err(why)` while it is (re)starting or missing
    /// (the session answers such calls with `ProviderNotReady` and stays usable for everything else).
    fn readiness(&self) -> std::result::Result<(), String> {
        Ok(())
    }

    /// The running turn (or side call) was aborted; its future is dropped right after. Providers whose work lives outside that
    /// future (a host answering requests) mark it cancelled here, so the host sees the abort at once.
    fn turn_aborted(&self) {}
}
