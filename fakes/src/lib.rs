//! Fakes of the outside services Signalbox talks to, written from the wire notes in
//! `../shared/specs/`. They behave like the real services, errors and rate limits included, so
//! the tests and the benchmarks exercise the real clients against something that pushes back.
//!
//! Each fake is an axum server on a loopback port with a handle to script it (add log lines,
//! fail the next requests, drop WebSocket connections) and to read its truth (what it served).

pub mod anthropic;
pub mod github;
pub mod loki;
pub mod railway;
pub mod slack;
pub mod target;
