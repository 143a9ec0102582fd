//! The C ABI: the only module with `unsafe` code. Every exported function runs inside [`boundary::guard`], which
//! converts panics and errors into `tandem_status` codes and records the thread's last-error message.
#![allow(non_camel_case_types)]

pub mod boundary;
pub mod client;
pub mod events;
pub mod session;
pub mod types;
