//! The manager's bookkeeping as plain data: sessions by ID (live or restart-pending), ID generation, restart windows
//! and background sub-agent handles. No runtime, so every rule is unit-tested directly.

use std::collections::HashMap;

use super::policy::{CrashDecision, RestartPolicy, Window};
use crate::error::{Error, Result};

/// A session slot: running, or waiting for its restart timer.
#[derive(Debug)]
pub enum Slot<H> {
    /// Running with handle `H`.
    Active(H),
    /// Crashed; restart timer `timer` is armed.
    Pending {
        /// Identifies the armed timer; stale timers carry another value.
        timer: u64,
    },
}

/// One managed session.
#[derive(Debug)]
pub struct Entry<H, S> {
    /// Live or pending.
    pub slot: Slot<H>,
    /// Incarnation number; crash reports of older incarnations are ignored.
    pub generation: u64,
    /// Crashes in the current restart window.
    pub window: Option<Window>,
    /// What the last incarnation died of.
    pub last_crash: Option<String>,
    /// Everything that outlives an incarnation (token, options, state).
    pub seed: S,
}

/// What the manager must do about a crash report.
#[derive(Debug, PartialEq, Eq)]
pub enum CrashOutcome {
    /// Arm timer `timer` for `delay_ms`.
    Restart {
        /// Timer identity.
        timer: u64,
        /// Backoff.
        delay_ms: u64,
        /// Attempt in the window.
        attempt: u32,
    },
    /// The session is removed; announce it.
    Exhausted,
    /// Stale report (unknown session or older incarnation).
    Ignored,
}

/// A background sub-agent's handle.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SubagentHandle {
    /// The sub-agent's session ID.
    pub session_id: String,
    /// Its parent's session ID, if any.
    pub parent_session_id: Option<String>,
    /// The task it was given.
    pub task: String,
    /// Its model.
    pub model: String,
    /// RFC 3339 start time.
    pub started_at: String,
    /// Started detached: it goes on when its parent stops.
    pub detached: bool,
}

/// Sessions by ID plus the ID counter and sub-agent handles.
#[derive(Debug)]
pub struct Registry<H, S> {
    /// Boxed: the map keeps spare slots as it grows, and an entry (with the session's options) is large, so inline
    /// entries cost an idle session ~1 KiB of empty slots (BENCHMARKS.md, footprint).
    entries: HashMap<String, Box<Entry<H, S>>>,
    next_id: u64,
    next_timer: u64,
    subagents: Vec<SubagentHandle>,
}

impl<H, S> Default for Registry<H, S> {
    fn default() -> Self {
        Registry {
            entries: HashMap::new(),
            next_id: 1,
            next_timer: 1,
            subagents: Vec::new(),
        }
    }
}

impl<H, S> Registry<H, S> {
    /// The next free `session-N`: skips IDs that are live, restart-pending, or `taken` (e.g. present in the store).
    pub fn generate_id(&mut self, taken: impl Fn(&str) -> bool) -> String {
        loop {
            let id = format!("session-{}", self.next_id);
            self.next_id += 1;
            if !self.entries.contains_key(&id) && !taken(&id) {
                return id;
            }
        }
    }

    /// The live handle for `id`, `Ok(None)` if the ID is free, `RestartPending` while it restarts.
    pub fn existing(&self, id: &str) -> Result<Option<&H>> {
        match self.entries.get(id).map(|e| &e.slot) {
            None => Ok(None),
            Some(Slot::Active(h)) => Ok(Some(h)),
            Some(Slot::Pending { .. }) => Err(Error::RestartPending(id.into())),
        }
    }

    /// The live entry for `id`: `NotFound` if unknown, `RestartPending` while it restarts.
    pub fn active(&self, id: &str) -> Result<(&H, &S)> {
        match self.entries.get(id).map(|e| &**e) {
            None => Err(Error::no_session(id)),
            Some(Entry {
                slot: Slot::Pending { .. },
                ..
            }) => Err(Error::RestartPending(id.into())),
            Some(Entry {
                slot: Slot::Active(h),
                seed,
                ..
            }) => Ok((h, seed)),
        }
    }

    /// The entry for `id` in any state.
    pub fn get(&self, id: &str) -> Option<&Entry<H, S>> {
        self.entries.get(id).map(|e| &**e)
    }

    /// Registers a freshly started session.
    pub fn insert(&mut self, id: &str, handle: H, seed: S) {
        self.entries.insert(
            id.into(),
            Box::new(Entry {
                slot: Slot::Active(handle),
                generation: 1,
                window: None,
                last_crash: None,
                seed,
            }),
        );
    }

    /// Removes `id` (and its sub-agent handle), returning the entry.
    pub fn remove(&mut self, id: &str) -> Option<Entry<H, S>> {
        self.subagents.retain(|h| h.session_id != id);
        self.entries.remove(id).map(|e| *e)
    }

    /// Live entries.
    pub fn iter_active(&self) -> impl Iterator<Item = (&String, &H, &S)> {
        self.entries.iter().filter_map(|(id, e)| match &e.slot {
            Slot::Active(h) => Some((id, h, &e.seed)),
            Slot::Pending { .. } => None,
        })
    }

    /// All IDs, live or pending.
    pub fn ids(&self) -> Vec<String> {
        self.entries.keys().cloned().collect()
    }

    /// Handles a crash of incarnation `generation` of `id` at `now_ms`.
    pub fn crashed(
        &mut self,
        id: &str,
        generation: u64,
        reason: &str,
        now_ms: u64,
        policy: &RestartPolicy,
    ) -> CrashOutcome {
        let Some(entry) = self.entries.get_mut(id) else {
            return CrashOutcome::Ignored;
        };
        if entry.generation != generation || !matches!(entry.slot, Slot::Active(_)) {
            return CrashOutcome::Ignored;
        }
        entry.last_crash = Some(reason.into());
        let decision = policy.on_crash(entry.window, now_ms);
        if decision == CrashDecision::Exhausted {
            self.remove(id);
        }
        self.arm(id, decision)
    }

    /// Arms a restart timer for `id` when `decision` says to restart.
    fn arm(&mut self, id: &str, decision: CrashDecision) -> CrashOutcome {
        match decision {
            CrashDecision::Restart {
                attempt,
                delay_ms,
                window,
            } => {
                let timer = self.next_timer;
                self.next_timer += 1;
                let entry = self.entries.get_mut(id).expect("the caller found it");
                entry.window = Some(window);
                entry.slot = Slot::Pending { timer };
                CrashOutcome::Restart {
                    timer,
                    delay_ms,
                    attempt,
                }
            }
            CrashDecision::Exhausted => CrashOutcome::Exhausted,
        }
    }

    /// Handles a restart attempt of `id` (armed as `timer`) that failed at `now_ms`: it counts as another crash in
    /// the window, so the session waits for the next attempt, or is removed once the policy is exhausted.
    pub fn restart_failed(
        &mut self,
        id: &str,
        timer: u64,
        reason: &str,
        now_ms: u64,
        policy: &RestartPolicy,
    ) -> CrashOutcome {
        let Some(entry) = self.take_timer(id, timer) else {
            return CrashOutcome::Ignored;
        };
        entry.last_crash = Some(reason.into());
        let decision = policy.on_crash(entry.window, now_ms);
        self.arm(id, decision)
    }

    /// Claims a fired restart timer: `Some(entry)` if it is still the armed one.
    pub fn take_timer(&mut self, id: &str, timer: u64) -> Option<&mut Entry<H, S>> {
        self.entries
            .get_mut(id)
            .map(|e| &mut **e)
            .filter(|e| matches!(e.slot, Slot::Pending { timer: t } if t == timer))
    }

    /// Records a sub-agent handle.
    pub fn add_subagent(&mut self, handle: SubagentHandle) {
        self.subagents.push(handle);
    }

    /// Sub-agent handles, oldest first; only those of `parent` when given.
    pub fn subagents(&self, parent: Option<&str>) -> Vec<SubagentHandle> {
        self.subagents
            .iter()
            .filter(|h| parent.is_none() || h.parent_session_id.as_deref() == parent)
            .cloned()
            .collect()
    }
}

/// One step of the background sub-agent prompt loop.
#[derive(Debug, PartialEq, Eq)]
pub enum RetryStep {
    /// The prompt was accepted.
    Done,
    /// Try again after this many milliseconds.
    RetryAfter(u64),
    /// Give up, telling the sub-agent's transcript why.
    GiveUp(String),
}

/// Attempts the prompt loop makes before giving up (the seed's 100 retries plus the first try).
pub(crate) const PROMPT_ATTEMPTS: u32 = 101;

/// Decides after attempt `attempt` (0-based) of delivering a sub-agent's task: transient states (restarting, provider
/// not ready yet) are retried every 10 ms, anything else ends the loop.
pub fn subagent_prompt_step(attempt: u32, result: &Result<()>) -> RetryStep {
    match result {
        Ok(()) => RetryStep::Done,
        Err(e @ (Error::RestartPending(_) | Error::ProviderNotReady(_))) => {
            if attempt + 1 < PROMPT_ATTEMPTS {
                RetryStep::RetryAfter(10)
            } else {
                RetryStep::GiveUp(format!("Background sub-agent failed to accept its task after {PROMPT_ATTEMPTS} attempts: {e}"))
            }
        }
        Err(e) => RetryStep::GiveUp(format!("Background sub-agent failed to start: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type R = Registry<&'static str, ()>;

    #[test]
    fn generated_ids_count_up_and_skip_taken_ones() {
        let mut r = R::default();
        assert_eq!(r.generate_id(|_| false), "session-1");
        r.insert("session-3", "h", ());
        assert_eq!(r.generate_id(|_| false), "session-2");
        assert_eq!(
            r.generate_id(|_| false),
            "session-4",
            "live IDs are skipped"
        );
        assert_eq!(
            r.generate_id(|id| id == "session-5"),
            "session-6",
            "stored IDs are skipped"
        );
    }

    #[test]
    fn pending_sessions_answer_restart_pending_and_stale_timers_do_nothing() {
        let mut r = R::default();
        let p = RestartPolicy::default();
        r.insert("s", "h", ());
        assert_eq!(r.existing("s").unwrap(), Some(&"h"));
        let CrashOutcome::Restart {
            timer,
            delay_ms,
            attempt,
        } = r.crashed("s", 1, "boom", 0, &p)
        else {
            panic!()
        };
        assert_eq!((delay_ms, attempt), (10, 1));
        assert!(matches!(r.existing("s"), Err(Error::RestartPending(_))));
        assert!(matches!(r.active("s"), Err(Error::RestartPending(_))));
        assert!(matches!(r.active("nope"), Err(Error::NotFound(_))));
        assert_eq!(r.iter_active().count(), 0);
        assert!(r.take_timer("s", timer + 1).is_none(), "stale timer");
        assert_eq!(
            r.crashed("s", 1, "again", 1, &p),
            CrashOutcome::Ignored,
            "already pending"
        );
        let e = r.take_timer("s", timer).unwrap();
        e.slot = Slot::Active("h2");
        e.generation += 1;
        assert_eq!(
            r.crashed("s", 1, "old incarnation", 2, &p),
            CrashOutcome::Ignored
        );
        assert!(matches!(
            r.crashed("s", 2, "boom", 3, &p),
            CrashOutcome::Restart {
                attempt: 2,
                delay_ms: 20,
                ..
            }
        ));
    }

    #[test]
    fn exhaustion_removes_the_session_and_its_subagent_handle() {
        let mut r = R::default();
        let p = RestartPolicy {
            max_attempts: 1,
            ..Default::default()
        };
        r.insert("s", "h", ());
        r.add_subagent(SubagentHandle {
            session_id: "s".into(),
            parent_session_id: None,
            task: "t".into(),
            model: "m".into(),
            started_at: "x".into(),
            detached: false,
        });
        let CrashOutcome::Restart { timer, .. } = r.crashed("s", 1, "a", 0, &p) else {
            panic!()
        };
        let e = r.take_timer("s", timer).unwrap();
        e.slot = Slot::Active("h");
        assert_eq!(r.crashed("s", 1, "b", 5, &p), CrashOutcome::Exhausted);
        assert!(r.get("s").is_none());
        assert!(r.subagents(None).is_empty());
    }

    #[test]
    fn a_failed_restart_counts_as_a_crash_until_the_policy_is_exhausted() {
        let mut r = R::default();
        let p = RestartPolicy::default();
        r.insert("s", "h", ());
        let CrashOutcome::Restart { timer, .. } = r.crashed("s", 1, "boom", 0, &p) else {
            panic!()
        };
        assert_eq!(
            r.restart_failed("s", timer + 7, "x", 1, &p),
            CrashOutcome::Ignored,
            "a stale timer"
        );
        let CrashOutcome::Restart {
            timer: second,
            delay_ms,
            attempt,
        } = r.restart_failed("s", timer, "no provider", 10, &p)
        else {
            panic!()
        };
        assert_eq!((attempt, delay_ms), (2, 20), "backoff grows per failure");
        assert!(matches!(r.existing("s"), Err(Error::RestartPending(_))));
        assert_eq!(
            r.get("s").unwrap().last_crash.as_deref(),
            Some("no provider")
        );
        let CrashOutcome::Restart {
            timer: third,
            attempt: 3,
            ..
        } = r.restart_failed("s", second, "no provider", 30, &p)
        else {
            panic!()
        };
        assert_eq!(
            r.restart_failed("s", third, "still none", 70, &p),
            CrashOutcome::Exhausted
        );
        assert!(
            r.get("s").is_some(),
            "the manager removes it, after closing its turn"
        );
    }

    #[test]
    fn subagents_filter_by_parent_oldest_first() {
        let mut r = R::default();
        for (id, parent) in [("a", Some("p")), ("b", None), ("c", Some("p"))] {
            r.add_subagent(SubagentHandle {
                session_id: id.into(),
                parent_session_id: parent.map(Into::into),
                task: String::new(),
                model: String::new(),
                started_at: String::new(),
                detached: false,
            });
        }
        let ids = |v: Vec<SubagentHandle>| v.into_iter().map(|h| h.session_id).collect::<Vec<_>>();
        assert_eq!(ids(r.subagents(None)), vec!["a", "b", "c"]);
        assert_eq!(ids(r.subagents(Some("p"))), vec!["a", "c"]);
    }

    #[test]
    fn subagent_prompt_loop_retries_transient_errors_only() {
        assert_eq!(subagent_prompt_step(0, &Ok(())), RetryStep::Done);
        assert_eq!(
            subagent_prompt_step(0, &Err(Error::RestartPending("s".into()))),
            RetryStep::RetryAfter(10)
        );
        assert_eq!(
            subagent_prompt_step(99, &Err(Error::ProviderNotReady("x".into()))),
            RetryStep::RetryAfter(10)
        );
        assert!(
            matches!(subagent_prompt_step(100, &Err(Error::ProviderNotReady("x".into()))), RetryStep::GiveUp(m) if m.contains("101 attempts"))
        );
        assert!(
            matches!(subagent_prompt_step(0, &Err(Error::invalid("bad"))), RetryStep::GiveUp(m) if m.starts_with("Background sub-agent failed to start"))
        );
    }
}
