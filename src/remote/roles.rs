//! Who may drive each served session: at most one driver per session, every other attached connection a viewer.
//! Every change is announced to each attached connection as a `roles` notification.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use serde_json::json;

use super::outbox::Outbox;
use super::rpc::{self, RpcError};
use crate::sync::lock;

/// What an attaching connection asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// The driver role if nobody holds it, else a viewer.
    Auto,
    /// A viewer, even when nobody drives.
    Viewer,
}

#[derive(Default)]
struct SessionRoles {
    driver: Option<u64>,
    members: BTreeMap<u64, Arc<Outbox>>,
}

/// The roles of every session with attached connections.
#[derive(Default)]
pub struct Roles {
    sessions: Mutex<HashMap<Arc<str>, SessionRoles>>,
}

impl SessionRoles {
    fn announce(&self, session: &str) {
        let viewers: Vec<u64> = self
            .members
            .keys()
            .copied()
            .filter(|c| Some(*c) != self.driver)
            .collect();
        let frame = rpc::notification(
            "roles",
            &json!({"session_id": session, "driver": self.driver, "viewers": viewers}),
        );
        for outbox in self.members.values() {
            outbox.note(frame.clone());
        }
    }
}

impl Roles {
    /// Attaches connection `conn` to `session` (again: it keeps its role); returns whether it drives.
    pub fn join(&self, session: &Arc<str>, conn: u64, outbox: &Arc<Outbox>, want: Want) -> bool {
        let mut map = lock(&self.sessions);
        let roles = map.entry(session.clone()).or_default();
        roles.members.insert(conn, outbox.clone());
        if roles.driver.is_none() && want == Want::Auto {
            roles.driver = Some(conn);
        }
        roles.announce(session);
        roles.driver == Some(conn)
    }

    /// Detaches `conn`; a leaving driver leaves the role free (the next `take_over` or attach takes it).
    pub fn leave(&self, session: &str, conn: u64) {
        let mut map = lock(&self.sessions);
        let Some(roles) = map.get_mut(session) else {
            return;
        };
        roles.members.remove(&conn);
        if roles.driver == Some(conn) {
            roles.driver = None;
        }
        if roles.members.is_empty() {
            map.remove(session);
        } else {
            roles.announce(session);
        }
    }

    /// Whether `conn` drives `session`.
    pub fn is_driver(&self, session: &str, conn: u64) -> bool {
        lock(&self.sessions)
            .get(session)
            .is_some_and(|r| r.driver == Some(conn))
    }

    /// The driver of `session`, if any.
    pub fn driver(&self, session: &str) -> Option<u64> {
        lock(&self.sessions).get(session).and_then(|r| r.driver)
    }

    /// The driver `conn` gives the role to attached connection `to` (`None`: gives it up).
    pub fn hand_over(&self, session: &str, conn: u64, to: Option<u64>) -> Result<(), RpcError> {
        let mut map = lock(&self.sessions);
        let roles = map
            .get_mut(session)
            .filter(|r| r.driver == Some(conn))
            .ok_or_else(not_driver)?;
        if let Some(to) = to {
            if !roles.members.contains_key(&to) {
                return Err(RpcError::params(format!(
                    "no connection {to} is attached to this session"
                )));
            }
        }
        roles.driver = to;
        roles.announce(session);
        Ok(())
    }

    /// An attached viewer `conn` takes the driver role (it holds the session's token, as every attached
    /// connection does).
    pub fn take_over(&self, session: &str, conn: u64) -> Result<(), RpcError> {
        let mut map = lock(&self.sessions);
        let roles = map
            .get_mut(session)
            .filter(|r| r.members.contains_key(&conn))
            .ok_or_else(|| {
                RpcError::new(
                    rpc::NOT_ATTACHED,
                    "not_attached",
                    "attach to the session first",
                )
            })?;
        roles.driver = Some(conn);
        roles.announce(session);
        Ok(())
    }
}

/// The refusal of a driver call from a viewer.
pub fn not_driver() -> RpcError {
    RpcError::new(
        rpc::NOT_DRIVER,
        "not_driver",
        "this connection is a viewer: only the session's driver may do that (session.take_over makes it the driver)",
    )
}

#[cfg(test)]
mod tests {
    use super::super::outbox::Limits;
    use super::*;

    fn ob() -> Arc<Outbox> {
        Outbox::new(Limits {
            max_events: 8,
            max_bytes: 1024,
        })
    }

    #[test]
    fn the_first_drives_viewers_take_over_and_a_leaving_driver_frees_the_role() {
        let r = Roles::default();
        let s: Arc<str> = "s".into();
        let (a, b, c) = (ob(), ob(), ob());
        assert!(r.join(&s, 1, &a, Want::Auto));
        assert!(!r.join(&s, 2, &b, Want::Auto));
        assert!(!r.join(&s, 3, &c, Want::Viewer));
        assert_eq!(r.hand_over("s", 2, Some(3)).unwrap_err().name, "not_driver");
        assert!(r.hand_over("s", 1, Some(9)).is_err());
        r.hand_over("s", 1, Some(3)).unwrap();
        assert!(r.is_driver("s", 3) && !r.is_driver("s", 1));
        r.take_over("s", 2).unwrap();
        assert_eq!(r.driver("s"), Some(2));
        assert!(r.take_over("s", 7).is_err());
        r.leave("s", 2);
        assert_eq!(r.driver("s"), None);
        // Every member heard of every change (notes are only ever queued for members).
        assert!(c.pop().is_some());
        r.leave("s", 1);
        r.leave("s", 3);
        assert!(lock(&r.sessions).is_empty());
    }
}
