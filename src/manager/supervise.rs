//! Supervision: a crashed incarnation is restarted within the session's restart policy; a restart that fails to
//! start counts as another crash, and only an exhausted policy stops the session (`restart_exhausted`), and with
//! it its sub-agents that were not started detached.

use std::time::Duration;

use super::registry::{CrashOutcome, Slot};
use super::Manager;
use crate::events::{Payload, StopReason};
use crate::session;
use crate::session::machine::state::Input;
use crate::sync::lock;

impl Manager {
    pub(super) fn crashed(&self, id: &str, generation: u64, reason: String) {
        let mut reg = lock(&self.reg);
        let policy = match reg.get(id) {
            Some(e) => e.seed.options.restart.clone(),
            None => return,
        };
        let log = reg.get(id).map(|e| e.seed.log.clone());
        match reg.crashed(id, generation, &reason, crate::time::mono_ms(), &policy) {
            CrashOutcome::Ignored => {}
            CrashOutcome::Exhausted => {
                drop(reg);
                if let Some(log) = log {
                    self.bus.publish(
                        &log,
                        Payload::SessionStopped {
                            reason: StopReason::RestartExhausted,
                            detail: Some(reason),
                        },
                    );
                }
                self.stop_children_off_runtime(id);
            }
            CrashOutcome::Restart {
                timer,
                delay_ms,
                attempt,
            } => self.arm_restart(id, timer, delay_ms, attempt),
        }
    }

    /// Starts incarnation number `attempt` of `id` after `delay_ms`, unless timer `timer` was disarmed meanwhile.
    fn arm_restart(&self, id: &str, timer: u64, delay_ms: u64, attempt: u32) {
        let me = self.me.clone();
        let id = id.to_string();
        self.rt.spawn(async move {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            if let Some(m) = me.upgrade() {
                m.restart(&id, timer, attempt);
            }
        });
    }

    fn restart(&self, id: &str, timer: u64, attempt: u32) {
        let mut reg = lock(&self.reg);
        let Some(entry) = reg.take_timer(id, timer) else {
            return;
        };
        let reason = entry.last_crash.clone().unwrap_or_else(|| "crash".into());
        entry.generation += 1;
        let generation = entry.generation;
        // The new actor closes the interrupted turn as its first act, then announces the restart.
        let restart = session::Restart {
            reason: reason.clone(),
            attempt,
        };
        let seed = &reg.get(id).expect("entry exists").seed;
        let started = self.spawn_incarnation(id, seed, generation, Some(restart));
        let e = match started {
            Ok(handle) => {
                if let Some(e) = reg.take_timer(id, timer) {
                    e.slot = Slot::Active(handle);
                }
                return;
            }
            Err(e) => e,
        };
        // A failed attempt is reported, and counts against the policy like a crash (the seed's restart_failed).
        let log = reg.get(id).expect("entry exists").seed.log.clone();
        self.bus.publish(
            &log,
            Payload::Error {
                message: format!("Restart attempt {attempt} failed: {e}"),
            },
        );
        let policy = reg
            .get(id)
            .expect("entry exists")
            .seed
            .options
            .restart
            .clone();
        let failed = format!("restart failed: {e}");
        match reg.restart_failed(id, timer, &failed, crate::time::mono_ms(), &policy) {
            CrashOutcome::Restart {
                timer,
                delay_ms,
                attempt,
            } => self.arm_restart(id, timer, delay_ms, attempt),
            CrashOutcome::Ignored => {}
            CrashOutcome::Exhausted => {
                let entry = reg.remove(id).expect("entry exists");
                drop(reg);
                // No actor will run on this state: the interrupted turn is closed here, outside the registry lock.
                session::apply_and_publish(
                    &entry.seed.state,
                    &entry.seed.log,
                    &self.bus,
                    entry.seed.persist.as_ref(),
                    Input::Restarted { reason },
                );
                self.bus.publish(
                    &entry.seed.log,
                    Payload::SessionStopped {
                        reason: StopReason::RestartExhausted,
                        detail: Some(failed),
                    },
                );
                self.stop_children_off_runtime(id);
            }
        }
    }
}

#[cfg(test)]
#[path = "supervise_tests.rs"]
mod tests;
