//! Signalbox engine: reads application logs, groups errors by fingerprint and keeps the
//! counters the System Health UI and the JSON API show.
//!
//! `model` is always available (it compiles for wasm32 and is shared with the UI); the rest
//! is behind the `engine` feature.

pub mod model;

#[cfg(feature = "engine")]
pub mod config;
#[cfg(feature = "engine")]
pub mod deploys;
#[cfg(feature = "engine")]
pub mod fixer;
#[cfg(feature = "engine")]
pub mod issues;
#[cfg(feature = "engine")]
pub mod monitor;
#[cfg(feature = "engine")]
pub mod notify;
#[cfg(feature = "engine")]
pub mod pipeline;
#[cfg(feature = "engine")]
pub mod probes;
#[cfg(feature = "engine")]
pub mod rules;
#[cfg(feature = "engine")]
pub mod self_monitor;
#[cfg(feature = "engine")]
pub mod session;
#[cfg(feature = "engine")]
pub mod sources;
#[cfg(feature = "engine")]
pub mod store;
#[cfg(feature = "engine")]
pub mod sysinfo;
#[cfg(feature = "engine")]
pub mod tasks;
