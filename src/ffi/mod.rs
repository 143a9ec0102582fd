//! The C ABI: the only module with `unsafe` code. Every exported function runs inside [`boundary::guard`], which
//! converts panics and errors into `tandem_status` codes and records the thread's last-error message.
#![allow(non_camel_case_types)]
// The safety contract of every exported function is the C convention stated once in docs/C-ABI.md and the header:
// pointers are NULL or valid for the call, strings NUL-terminated, handles from tandem_client_new and not freed.
#![allow(clippy::missing_safety_doc)]

pub mod approvals;
pub mod boundary;
pub mod client;
pub mod compaction;
pub mod conversations;
pub mod events;
pub mod foreign;
pub mod governance;
pub mod hooks;
pub mod mcp;
pub mod models;
pub mod prompt;
pub mod provider;
pub mod queues;
pub mod remote;
pub mod session;
pub mod tools;
pub mod transcript;
pub mod types;
