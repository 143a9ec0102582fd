//! The Landlock ruleset of a shell command: read and execute everywhere, write only where the policy allows, no
//! TCP when the network is off and no namespace can be made, no signals to processes outside the sandbox.
//!
//! Built in the parent (allocation and path opening are not allowed between fork and exec); the child only calls
//! `restrict_self`. Compatibility is best effort: on an older kernel the crate drops the rights that kernel does
//! not know, and [`super::report`] says what that leaves unenforced.

use std::path::Path;

use landlock::{
    path_beneath_rules, Access, AccessFs, AccessNet, Ruleset, RulesetAttr, RulesetCreated,
    RulesetCreatedAttr, Scope, ABI,
};

use super::Policy;

/// The newest ABI whose rights are used (V6 adds the signal and abstract-socket scopes).
const TARGET: ABI = ABI::V6;

/// Builds the ruleset for `policy` in `workdir`; `deny_tcp` when the network is to be taken away and no network
/// namespace can be made, so Landlock's TCP rules are what is left.
pub(super) fn ruleset(
    policy: &Policy,
    workdir: &Path,
    deny_tcp: bool,
) -> Result<RulesetCreated, String> {
    let fail = |e: landlock::RulesetError| format!("cannot build the Landlock ruleset: {e}");
    let read = AccessFs::from_read(TARGET);
    let all = AccessFs::from_all(TARGET);
    // Device files: reading and writing /dev/null, /dev/tty and the like (`> /dev/null` needs write and
    // truncate), never creating or removing entries in /dev.
    let devices = read | AccessFs::WriteFile | AccessFs::Truncate | AccessFs::IoctlDev;
    let mut ruleset = Ruleset::default().handle_access(all).map_err(fail)?;
    if deny_tcp {
        ruleset = ruleset
            .handle_access(AccessNet::from_all(TARGET))
            .map_err(fail)?;
    }
    // Scopes keep a command from signalling the host editor (or anything outside the sandbox) and from reaching
    // abstract unix sockets of other programs.
    ruleset = ruleset.scope(Scope::from_all(TARGET)).map_err(fail)?;
    ruleset
        .create()
        .map_err(fail)?
        .add_rules(path_beneath_rules(["/"], read))
        .map_err(fail)?
        .add_rules(path_beneath_rules(["/dev"], devices))
        .map_err(fail)?
        .add_rules(path_beneath_rules(policy.writable(workdir), all))
        .map_err(fail)
}
