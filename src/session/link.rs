//! A turn's link to its session actor: the provider's events, gate questions, steering requests and boundary
//! lookups go through the actor's channel, tagged with the turn (so answers for an aborted turn go nowhere).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::actor::Msg;
use super::handle::ReplyTo;
use super::machine::state::Reply;
use super::mailbox;
use crate::provider::native::model::BoxFuture;
use crate::provider::TurnLink;
use crate::vocab::content::ContentPart;
use crate::vocab::gate::{Gate, GateRequest};
use crate::vocab::model::ProviderEvent;

/// A turn's link to its actor: events and steering requests go through the actor's channel, tagged with the turn.
pub(super) struct ActorLink {
    pub(super) tx: mailbox::Sender<Msg>,
    pub(super) turn_id: u64,
}

/// How long the loop waits for the session to hand over steering (the session answers at once unless busy).
const STEERING_WAIT: std::time::Duration = std::time::Duration::from_millis(200);

impl TurnLink for ActorLink {
    fn boundaries(&self) -> BoxFuture<'_, Arc<crate::provider::contract::Boundaries>> {
        Box::pin(async move {
            let (tx, rx) = tokio::sync::oneshot::channel();
            // Asked through the actor's channel, so file changes this turn reported before are already applied.
            let boundaries = match self.tx.send(Msg::Boundaries(tx)) {
                Ok(()) => rx.await.unwrap_or_default(),
                // The session is gone, and with it this turn: the actor aborts it.
                Err(_) => BTreeMap::new(),
            };
            Arc::new(boundaries)
        })
    }

    fn emit(&self, event: ProviderEvent) {
        let _ = self.tx.send(Msg::Provider {
            turn_id: self.turn_id,
            event,
        });
    }

    fn gate(&self, request: GateRequest, timeout: std::time::Duration) -> BoxFuture<'_, Gate> {
        Box::pin(async move {
            let id = request.tool_call_id.clone();
            let (tx, rx) = tokio::sync::oneshot::channel();
            let msg = Msg::Gate {
                turn_id: self.turn_id,
                request,
                reply: tx,
            };
            if self.tx.send(msg).is_err() {
                return Gate::Refuse("Tool call cancelled: the session is gone".into());
            }
            match tokio::time::timeout(timeout, rx).await {
                Ok(Ok(gate)) => gate,
                Ok(Err(_)) => Gate::Refuse("Tool call cancelled: the session is gone".into()),
                Err(_) => {
                    self.emit(ProviderEvent::ApprovalTimedOut { tool_call_id: id });
                    Gate::Refuse("Tool approval timed out".into())
                }
            }
        })
    }

    fn take_steering(&self) -> BoxFuture<'_, Vec<Vec<ContentPart>>> {
        Box::pin(async move {
            let (tx, rx) = tokio::sync::oneshot::channel();
            let reply: ReplyTo = Box::new(move |r| drop(tx.send(r)));
            if self
                .tx
                .send(Msg::Steering {
                    turn_id: self.turn_id,
                    reply,
                })
                .is_err()
            {
                return Vec::new();
            }
            match tokio::time::timeout(STEERING_WAIT, rx).await {
                Ok(Ok(Reply::Steering(entries))) => entries,
                _ => Vec::new(),
            }
        })
    }
}
