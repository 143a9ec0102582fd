//! The vocabulary every layer shares: content and messages, provider events and model messages, tool specs, file
//! changes and boundaries, the gate's terms, statuses and settings. It imports nothing above it.

pub mod content;
pub mod files;
pub mod gate;
pub mod model;
pub mod settings;
