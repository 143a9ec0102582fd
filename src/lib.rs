//! tandem: an embeddable runtime for AI coding-agent sessions.
//!
//! A [`Client`] owns a tokio runtime, a session manager and an event bus. Sessions are addressed by string ID;
//! each runs a native agent loop (model call, tool calls, results, next call) over a model backend, and reports
//! everything it does as events. The C ABI in [`ffi`] (header `include/tandem.h`) wraps the safe API here.
#![deny(missing_docs)]
#![deny(unsafe_code)]

#[cfg(feature = "acp")]
pub mod acp;
pub mod client;
pub mod commands;
pub mod error;
pub mod events;
#[allow(unsafe_code)]
pub mod ffi;
#[doc(hidden)]
pub mod fuzzing;
pub mod hooks;
pub mod ids;
pub mod manager;
pub mod mcp;
pub mod provider;
#[cfg(feature = "remote")]
pub mod remote;
pub mod sandbox;
pub mod session;
pub mod skills;
pub mod store;
pub(crate) mod sync;
#[allow(unsafe_code)]
pub mod sys;
pub mod time;
pub mod tools;
pub mod vocab;

pub use client::Client;
pub use error::{Error, Result};

/// Library version, as in Cargo.toml.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
