//! Lock helper shared by every module that guards state with a std `Mutex`.

use std::sync::{Mutex, MutexGuard};

/// Locks a mutex, recovering the data if a panicking thread poisoned it: every structure guarded with it is left
/// consistent between statements, and a poisoned lock must not take the host down with it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
