//! The server, started in-process, exercised over HTTP like a user would.

mod crash;
mod fixes;
mod deploys;
mod failure;
mod helpers;
mod ingest;
mod logs;
mod loki;
mod monitor;
mod notifications;
mod operations;
mod probes;
mod pages;
mod railway;
mod rules;
mod tasks;
mod ui;
