//! Sources turn what they read into [`Event`]s; nothing downstream knows where an event came from.
//!
//! Poll sources keep a durable cursor: the monitor stores the cursor a poll returns in the same
//! transaction as the events it covers, so a crash neither loses nor double-counts events.

pub mod demo;
pub mod file;
pub mod loki;
pub mod otlp;
pub mod railway;
pub mod sentry;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

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

/// A boxed task a source runs beside its polls (its live stream).
pub type StreamTask = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A source the monitor polls, and that may also stream.
///
/// A streaming source buffers what its stream delivers and calls [`StreamWake::absorb`]; the
/// monitor then calls [`PollSource::absorb`] with the stored cursor, in turn with the polls,
/// so that one cursor covers both ways in.
pub trait PollSource: Send + Sync {
    /// Stable name, used as the cursor key and the `source` of its events.
    fn name(&self) -> &str;
    /// How often the monitor polls it.
    fn interval(&self) -> Duration;
    /// Reads what arrived after `cursor` (None: first run), up to `now`.
    fn poll<'a>(&'a self, cursor: Option<&'a str>, now: DateTime<Utc>) -> PollFuture<'a>;

    /// The source's live stream, run by the monitor until `shutdown`; `None` (the default)
    /// for poll-only sources.
    fn stream(
        self: Arc<Self>,
        _wake: StreamWake,
        _shutdown: CancellationToken,
    ) -> Option<StreamTask> {
        None
    }

    /// Turns what the stream buffered into a batch after `cursor`.
    fn absorb(&self, cursor: Option<&str>, _now: DateTime<Utc>) -> Result<Batch, SourceError> {
        Ok(Batch {
            events: Vec::new(),
            cursor: cursor.unwrap_or_default().to_string(),
            more: false,
        })
    }

    /// Failed requests to the source's API since start (crawler bookkeeping).
    fn api_errors(&self) -> u64 {
        0
    }

    /// Source-specific state for the status endpoint (stream, rate limits …).
    fn status(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
}

/// What a source's stream asks of the monitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// Lines wait in the source's buffer: absorb them.
    Absorb,
    /// The stream may have missed lines (it reconnected): poll now.
    CatchUp,
}

/// A stream's line to the monitor.
#[derive(Clone)]
pub struct StreamWake {
    pub(crate) source: usize,
    pub(crate) tx: mpsc::Sender<(usize, Wake)>,
}

impl StreamWake {
    /// Asks the monitor to absorb the buffer (requests made while one is queued merge).
    pub fn absorb(&self) {
        let _ = self.tx.try_send((self.source, Wake::Absorb));
    }

    /// Asks the monitor to poll the source now.
    pub fn catch_up(&self) {
        let _ = self.tx.try_send((self.source, Wake::CatchUp));
    }
}
