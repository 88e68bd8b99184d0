//! The server, started in-process, exercised over HTTP like a user would.

mod helpers;
mod ingest;
mod logs;
mod monitor;
mod operations;
