//! Log lines from a file or stdin (`signalbox ingest FILE|-`).

use chrono::Utc;
use chrono::{DateTime, Duration};
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

use crate::model::Event;
use crate::pipeline::multiline::{Assembler, AssemblerConfig};
use crate::pipeline::parse::{parse_assembled, LineContext};

/// Reads events from lines, a batch at a time; multi-line stack traces become one event.
///
/// Each event of a named file gets a source id (`PATH#N`, its rank in the file), so ingesting
/// the same file twice does not count its lines twice; stdin events get none.
pub struct LineReader<R> {
    reader: R,
    buffer: Vec<u8>,
    origin: Option<String>,
    service: Option<String>,
    number: u64,
    events: u64,
    assembler: Assembler,
    done: bool,
}

impl<R: AsyncBufRead + Unpin> LineReader<R> {
    /// Reads `reader`; `origin` is the file's path (None for stdin), `service` the default
    /// service of lines that name none.
    pub fn new(reader: R, origin: Option<String>, service: Option<String>) -> Self {
        LineReader {
            reader,
            buffer: Vec::new(),
            origin,
            service,
            number: 0,
            events: 0,
            assembler: Assembler::new(AssemblerConfig::default()),
            done: false,
        }
    }

    /// Lines read so far.
    pub fn lines_read(&self) -> u64 {
        self.number
    }

    /// The next events, at least one unless the input is exhausted (then empty); a batch
    /// stops growing once it reaches `max`.
    pub async fn next_batch(&mut self, max: usize) -> std::io::Result<Vec<Event>> {
        let mut batch = Vec::new();
        while batch.len() < max && !self.done {
            self.buffer.clear();
            if self.reader.read_until(b'\n', &mut self.buffer).await? == 0 {
                self.done = true;
                if let Some(last) = self.assembler.finish() {
                    self.emit(&last.text, &mut batch);
                }
                break;
            }
            self.number += 1;
            // A stray invalid byte costs one replacement character, not the whole ingest.
            let line = String::from_utf8_lossy(&self.buffer);
            let line = line.trim_end_matches(['\n', '\r']).to_string();
            if line.trim_start().starts_with('{') {
                // A JSON line is a whole event; whatever trace was open ends here.
                if let Some(open) = self.assembler.finish() {
                    self.emit(&open.text, &mut batch);
                }
                self.emit(&line, &mut batch);
                continue;
            }
            // Line-numbered time, not the wall clock: how a file is cut into events must not
            // depend on how fast it is read, or re-ingesting it would not find the same events.
            let at = DateTime::UNIX_EPOCH + Duration::microseconds(self.number as i64);
            for assembled in self.assembler.push(at, &line) {
                self.emit(&assembled.text, &mut batch);
            }
        }
        Ok(batch)
    }

    /// Parses one assembled text (one line, or a line plus its trace) into the batch.
    fn emit(&mut self, text: &str, batch: &mut Vec<Event>) {
        let ctx = LineContext {
            source: "file".to_string(),
            service: self.service.clone(),
            received_at: Utc::now(),
        };
        let Some(mut event) = parse_assembled(text, &ctx) else {
            return;
        };
        self.events += 1;
        event.source_id = self
            .origin
            .as_ref()
            .map(|path| format!("{path}#{}", self.events));
        batch.push(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Level;

    async fn read_all(input: &str) -> Vec<Event> {
        let mut reader =
            LineReader::new(input.as_bytes(), Some("/x.log".into()), Some("web".into()));
        let mut all = Vec::new();
        loop {
            let batch = reader.next_batch(2).await.expect("reads");
            if batch.is_empty() {
                return all;
            }
            all.extend(batch);
        }
    }

    #[tokio::test]
    async fn batches_and_ids() {
        let events =
            read_all("INFO a\n\nERROR b\n{\"level\":\"warn\",\"msg\":\"c\"}\nINFO d\n").await;
        let summary: Vec<(Level, &str)> = events
            .iter()
            .map(|e| (e.level, e.message.as_str()))
            .collect();
        assert_eq!(
            summary,
            vec![
                (Level::Info, "a"),
                (Level::Error, "b"),
                (Level::Warn, "c"),
                (Level::Info, "d")
            ]
        );
        assert_eq!(events[1].source_id.as_deref(), Some("/x.log#2"));
        assert_eq!(events[1].service.as_deref(), Some("web"));
    }

    #[tokio::test]
    async fn invalid_bytes_do_not_stop_the_read() {
        let input: &[u8] = b"ERROR bad \xff byte\nINFO fine\n";
        let mut reader = LineReader::new(input, None, None);
        let events = reader.next_batch(10).await.expect("reads");
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].message, "bad \u{fffd} byte");
    }

    #[tokio::test]
    async fn a_trace_is_one_event() {
        let input = "2026-11-27 10:00:00 INFO start\n\
Traceback (most recent call last):\n  File \"/app/shop/cart.py\", line 12, in add_item\n    total = prices[item]\nKeyError: 'sku-1'\n2026-11-27 10:00:01 INFO next\n";
        let events = read_all(input).await;
        assert_eq!(events.len(), 3, "{events:#?}");
        assert_eq!(events[1].level, Level::Error);
        assert!(events[1]
            .stack_trace
            .as_deref()
            .is_some_and(|t| t.ends_with("KeyError: 'sku-1'")));
    }
}
