//! Sources turn what they read into [`Event`]s; nothing downstream knows where an event came from.
//!
//! Poll sources keep a durable cursor: the monitor stores the cursor a poll returns in the same
//! transaction as the events it covers, so a crash neither loses nor double-counts events.

pub mod demo;
pub mod file;
pub mod loki;
pub mod otlp;
pub mod sentry;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::model::Event;

/// What one poll read.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub events: Vec<Event>,
    /// The cursor to resume from; stored with the events.
    pub cursor: String,
    /// True when the source has more to read right away (a backlog).
    pub more: bool,
}

/// A poll failed; the monitor logs it and tries again at the next interval.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("stored cursor '{0}' is not valid for this source")]
    BadCursor(String),
    #[error("upstream error: {0}")]
    Upstream(String),
}

/// A boxed future, so sources can be held as trait objects.
pub type PollFuture<'a> = Pin<Box<dyn Future<Output = Result<Batch, SourceError>> + Send + 'a>>;

/// A source the monitor polls.
pub trait PollSource: Send + Sync {
    /// Stable name, used as the cursor key and the `source` of its events.
    fn name(&self) -> &str;
    /// How often the monitor polls it.
    fn interval(&self) -> Duration;
    /// Reads what arrived after `cursor` (None: first run), up to `now`.
    fn poll<'a>(&'a self, cursor: Option<&'a str>, now: DateTime<Utc>) -> PollFuture<'a>;
}
