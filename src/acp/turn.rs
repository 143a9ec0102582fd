//! One ACP session's event pump: tandem's events become `session/update` notifications, approvals become
//! `session/request_permission` requests, and a turn's end answers the `session/prompt` that started it.

use std::sync::{Arc, Mutex};

use agent_client_protocol_schema::v1::{
    PermissionOption, PermissionOptionKind, RequestPermissionOutcome, RequestPermissionRequest,
    RequestPermissionResponse, SessionNotification, SessionUpdate, StopReason, ToolCallUpdate,
    ToolCallUpdateFields,
};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use super::rpc::{Connection, RpcError};
use super::updates::{tool_kind, tool_title, Mapper};
use crate::client::Client;
use crate::events::dispatch::{EventSink, Prepared};
use crate::events::{Event, Payload, TurnEnd};
use crate::vocab::gate::Decision;

/// How a prompt's turn ended: its stop reason, or the error that ended it.
pub type TurnOutcome = Result<StopReason, RpcError>;

/// The permission options tandem offers, by ID, with the decision each stands for.
const OPTIONS: &[(&str, &str, PermissionOptionKind, Decision)] = &[
    (
        "allow_once",
        "Allow once",
        PermissionOptionKind::AllowOnce,
        Decision::Approve,
    ),
    (
        "allow_always",
        "Allow always (this session)",
        PermissionOptionKind::AllowAlways,
        Decision::ApproveSession,
    ),
    (
        "reject",
        "Reject",
        PermissionOptionKind::RejectOnce,
        Decision::Reject,
    ),
];

/// Forwards one session's events from tandem's dispatcher thread into the pump.
pub struct Forward(pub mpsc::UnboundedSender<Arc<Event>>);

impl EventSink for Forward {
    fn deliver(&self, event: &Prepared) {
        let _ = self.0.send(Arc::new(event.event.clone()));
    }
    fn release(&self) {}
}

/// The prompt waiting for the running turn's end (at most one: ACP clients wait for a prompt's answer).
#[derive(Debug, Default)]
pub struct Waiter(Mutex<Option<oneshot::Sender<TurnOutcome>>>);

impl Waiter {
    /// Registers the next turn's waiter; `false` when a prompt already waits.
    pub fn set(&self, tx: oneshot::Sender<TurnOutcome>) -> bool {
        let mut w = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if w.as_ref().is_some_and(|t| !t.is_closed()) {
            return false;
        }
        *w = Some(tx);
        true
    }

    /// Answers the waiting prompt, if any.
    pub fn finish(&self, outcome: TurnOutcome) {
        let tx = self.0.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(tx) = tx {
            let _ = tx.send(outcome);
        }
    }
}

/// Runs the pump of session `id` until its event channel closes (the session is unsubscribed).
pub async fn pump(
    client: Arc<Client>,
    conn: Arc<Connection>,
    id: String,
    mut mapper: Mapper,
    waiter: Arc<Waiter>,
    mut events: mpsc::UnboundedReceiver<Arc<Event>>,
) {
    let mut last_error: Option<String> = None;
    let mut limit_hit = false;
    while let Some(event) = events.recv().await {
        match &event.payload {
            Payload::ApprovalPending { approval } => {
                let (c, k, i, a) = (client.clone(), conn.clone(), id.clone(), approval.clone());
                tokio::spawn(ask(c, k, i, a));
            }
            Payload::Error { message } => last_error = Some(message.clone()),
            Payload::TurnLimitReached { .. } => limit_hit = true,
            Payload::TurnEnded { reason, .. } => {
                let outcome = match reason {
                    TurnEnd::Completed => Ok(StopReason::EndTurn),
                    TurnEnd::Aborted | TurnEnd::Interrupted => Ok(StopReason::Cancelled),
                    TurnEnd::BudgetExhausted => Ok(StopReason::MaxTokens),
                    TurnEnd::Error if limit_hit => Ok(StopReason::MaxTurnRequests),
                    TurnEnd::Error | TurnEnd::StorageError => Err(RpcError::internal(
                        last_error
                            .take()
                            .unwrap_or_else(|| "the turn failed".into()),
                    )),
                };
                waiter.finish(outcome);
                last_error = None;
                limit_hit = false;
            }
            p => {
                for u in mapper.updates(p) {
                    send_update(&conn, &id, u);
                }
            }
        }
    }
}

/// Sends one `session/update`.
pub fn send_update(conn: &Connection, session_id: &str, update: SessionUpdate) {
    let n = SessionNotification::new(session_id.to_string(), update);
    conn.notify(
        "session/update",
        serde_json::to_value(n).expect("updates serialize"),
    );
}

/// Asks the client about approval `approval` (`{approval_id, tool_call_id, name, args, preview}`) and answers
/// tandem. Anything but a selected allow option rejects the call (a cancelled request, a client that goes away),
/// so nothing stays pending.
async fn ask(client: Arc<Client>, conn: Arc<Connection>, id: String, approval: Value) {
    let s = |k: &str| {
        approval
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let (approval_id, name) = (s("approval_id"), s("name"));
    let args = approval.get("args").cloned().unwrap_or(Value::Null);
    let fields = ToolCallUpdateFields::new()
        .name(name.clone())
        .title(tool_title(&name, &args))
        .kind(tool_kind(&name))
        .raw_input(args);
    let options = OPTIONS
        .iter()
        .map(|(oid, label, kind, _)| PermissionOption::new(*oid, *label, *kind))
        .collect();
    let req = RequestPermissionRequest::new(
        id.clone(),
        ToolCallUpdate::new(s("tool_call_id"), fields),
        options,
    );
    let params = serde_json::to_value(req).expect("requests serialize");
    let decision = match conn.request("session/request_permission", params).await {
        Ok(v) => match serde_json::from_value::<RequestPermissionResponse>(v) {
            Ok(RequestPermissionResponse {
                outcome: RequestPermissionOutcome::Selected(sel),
                ..
            }) => OPTIONS
                .iter()
                .find(|o| *o.0 == *sel.option_id.0)
                .map_or(Decision::Reject, |o| o.3),
            // Cancelled (or an answer we cannot read): the call does not run. When the turn was cancelled too, the
            // abort has resolved the approval already and this answer finds nothing to answer.
            _ => Decision::Reject,
        },
        Err(_) => Decision::Reject,
    };
    // The approval may be gone already (the turn was aborted, it timed out): nothing to answer then.
    let _ = tokio::task::spawn_blocking(move || {
        client.respond_to_approval(&id, Some(&approval_id), decision)
    })
    .await;
}
