//! The Signalbox server: the HTTP application (UI + JSON API + health + metrics) and the CLI.

pub mod access;
pub mod api;
pub mod bench;
pub mod cli;
pub mod health;
pub mod metrics;
pub mod startup;
pub mod telemetry;
pub mod watch;
