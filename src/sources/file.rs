//! Log lines from a file or stdin (`signalbox ingest FILE|-`).

use chrono::Utc;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, Lines};

use crate::model::Event;
use crate::pipeline::parse::{parse_line, LineContext};

/// Reads events from lines, a batch at a time.
///
/// Each line of a named file gets a source id (`PATH:LINE`), so ingesting the same file twice
/// does not count its lines twice; stdin lines get none.
pub struct LineReader<R> {
    lines: Lines<R>,
    origin: Option<String>,
    service: Option<String>,
    number: u64,
}

impl<R: AsyncBufRead + Unpin> LineReader<R> {
    /// Reads `reader`; `origin` is the file's path (None for stdin), `service` the default
    /// service of lines that name none.
    pub fn new(reader: R, origin: Option<String>, service: Option<String>) -> Self {
        LineReader {
            lines: reader.lines(),
            origin,
            service,
            number: 0,
        }
    }

    /// Lines read so far.
    pub fn lines_read(&self) -> u64 {
        self.number
    }

    /// The next events, at most `max`; an empty vector at the end of the input.
    pub async fn next_batch(&mut self, max: usize) -> std::io::Result<Vec<Event>> {
        let mut batch = Vec::new();
        while batch.len() < max {
            let Some(line) = self.lines.next_line().await? else {
                break;
            };
            self.number += 1;
            let ctx = LineContext {
                source: "file".to_string(),
                service: self.service.clone(),
                received_at: Utc::now(),
            };
            if let Some(mut event) = parse_line(&line, &ctx) {
                event.source_id = self
                    .origin
                    .as_ref()
                    .map(|path| format!("{path}:{}", self.number));
                batch.push(event);
            }
        }
        Ok(batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Level;

    #[tokio::test]
    async fn batches_and_ids() {
        let input = "INFO a\n\nERROR b\n{\"level\":\"warn\",\"msg\":\"c\"}\n";
        let mut reader =
            LineReader::new(input.as_bytes(), Some("/x.log".into()), Some("web".into()));
        let first = reader.next_batch(2).await.expect("reads");
        assert_eq!(first.len(), 2);
        assert_eq!(first[1].level, Level::Error);
        assert_eq!(first[1].source_id.as_deref(), Some("/x.log:3"));
        assert_eq!(first[1].service.as_deref(), Some("web"));
        let second = reader.next_batch(2).await.expect("reads");
        assert_eq!(second.len(), 1);
        assert_eq!(second[0].level, Level::Warn);
        assert!(reader.next_batch(2).await.expect("reads").is_empty());
        assert_eq!(reader.lines_read(), 4);
    }
}
