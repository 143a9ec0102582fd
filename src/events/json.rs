//! Events rendered as the JSON documents hosts receive (pulls, callbacks, `events_since`): flat, with `seq`,
//! `session_id`, `parent_id` and the payload's `kind` and fields.

use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;

use super::{Event, Payload};

#[derive(Serialize)]
struct EventJson<'a> {
    seq: u64,
    session_id: Option<&'a str>,
    /// `parent_id`: `subagent_finished` has its own `parent_session_id` (the session it is published on).
    #[serde(rename = "parent_id", skip_serializing_if = "Option::is_none")]
    parent_session_id: Option<&'a str>,
    #[serde(flatten)]
    payload: &'a Payload,
}

/// Appends one JSON value as serde_json formats it (numbers through itoa, strings with its escaping).
fn put<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    serde_json::to_writer(out, value).expect("numbers and strings always serialize");
}

impl Event {
    /// The event's JSON document: `{"seq", "session_id", "kind", ...payload}`.
    pub fn to_json(&self) -> String {
        let doc = EventJson {
            seq: self.seq,
            session_id: self.session_id.as_deref(),
            parent_session_id: self.parent_session_id.as_deref(),
            payload: &self.payload,
        };
        serde_json::to_string(&doc).expect("event payloads always serialize")
    }

    /// Appends the event's JSON document (as [`Event::to_json`] renders it) to `out`: the dispatcher renders a
    /// whole batch into one reused buffer instead of allocating a string per event.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        // Deltas are nearly every event of a stream: rendered directly, byte for byte as serde renders them, instead
        // of through the map serializer that `flatten` needs (which escapes every key).
        if let (
            Payload::TextDelta { message_id, delta } | Payload::ThinkingDelta { message_id, delta },
            Some(session_id),
        ) = (&self.payload, &self.session_id)
        {
            let kind: &[u8] = match self.payload {
                Payload::TextDelta { .. } => b"text_delta",
                _ => b"thinking_delta",
            };
            out.extend_from_slice(b"{\"seq\":");
            put(out, &self.seq);
            out.extend_from_slice(b",\"session_id\":");
            put(out, &**session_id);
            if let Some(parent) = &self.parent_session_id {
                out.extend_from_slice(b",\"parent_id\":");
                put(out, &**parent);
            }
            out.extend_from_slice(b",\"kind\":\"");
            out.extend_from_slice(kind);
            out.extend_from_slice(b"\",\"message_id\":");
            put(out, message_id);
            out.extend_from_slice(b",\"delta\":");
            put(out, delta.as_str());
            out.push(b'}');
            return;
        }
        let doc = EventJson {
            seq: self.seq,
            session_id: self.session_id.as_deref(),
            parent_session_id: self.parent_session_id.as_deref(),
            payload: &self.payload,
        };
        serde_json::to_writer(out, &doc).expect("event payloads always serialize");
    }

    /// A batch of events as one JSON array of their documents, oldest first (what `tandem_client_next_events`
    /// returns; `[]` for none).
    pub fn batch_to_json(events: &[Arc<Event>]) -> String {
        let mut json = String::from("[");
        for (i, e) in events.iter().enumerate() {
            if i > 0 {
                json.push(',');
            }
            json.push_str(&e.to_json());
        }
        json.push(']');
        json
    }

    /// The event's JSON document as a value (for documents that embed events).
    pub fn to_value(&self) -> Value {
        let doc = EventJson {
            seq: self.seq,
            session_id: self.session_id.as_deref(),
            parent_session_id: self.parent_session_id.as_deref(),
            payload: &self.payload,
        };
        serde_json::to_value(doc).expect("event payloads always serialize")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_flat_with_kind_seq_and_session() {
        let ev = Event {
            seq: 7,
            session_id: Some("session-1".into()),
            parent_session_id: None,
            payload: Payload::TextDelta {
                message_id: 3,
                delta: "hi".into(),
            },
        };
        let v: Value = serde_json::from_str(&ev.to_json()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"seq": 7, "session_id": "session-1", "kind": "text_delta", "message_id": 3, "delta": "hi"})
        );
        let ev = Event {
            seq: 1,
            session_id: None,
            parent_session_id: None,
            payload: Payload::EventsDropped { count: 2 },
        };
        let v: Value = serde_json::from_str(&ev.to_json()).unwrap();
        assert_eq!(v["session_id"], Value::Null);
        assert_eq!(v["kind"], "events_dropped");
    }
}
