//! The server, started in-process, exercised over HTTP like a user would.

mod crash;
mod deploys;
mod failure;
mod fixes;
mod helpers;
mod ingest;
mod logs;
mod loki;
mod monitor;
mod notifications;
mod operations;
mod pages;
mod probes;
mod railway;
mod rules;
mod tasks;
mod ui;
