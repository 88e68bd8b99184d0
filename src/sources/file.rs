//! Log lines from a file or stdin (`signalbox ingest FILE|-`).

use chrono::Utc;
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

use crate::model::Event;
use crate::pipeline::parse::{parse_line, LineContext};

/// Reads lines from `reader` and hands them to `sink` in batches of `batch_size` events.
///
/// Each line of a named file gets a source id (`PATH:LINE`), so ingesting the same file twice
/// does not count its lines twice; stdin lines get none.
pub async fn read_lines<R, F, Fut, E>(
    reader: R,
    origin: Option<&str>,
    batch_size: usize,
    mut sink: F,
) -> Result<usize, E>
where
    R: AsyncBufRead + Unpin,
    F: FnMut(Vec<Event>) -> Fut,
    Fut: std::future::Future<Output = Result<(), E>>,
    E: From<std::io::Error>,
{
    let mut lines = reader.lines();
    let mut batch = Vec::with_capacity(batch_size);
    let mut total = 0;
    let mut number = 0u64;
    while let Some(line) = lines.next_line().await? {
        number += 1;
        let ctx = LineContext {
            source: "file".to_string(),
            service: None,
            received_at: Utc::now(),
        };
        let Some(mut event) = parse_line(&line, &ctx) else {
            continue;
        };
        event.source_id = origin.map(|path| format!("{path}:{number}"));
        batch.push(event);
        if batch.len() >= batch_size {
            total += batch.len();
            sink(std::mem::take(&mut batch)).await?;
        }
    }
    if !batch.is_empty() {
        total += batch.len();
        sink(batch).await?;
    }
    Ok(total)
}
