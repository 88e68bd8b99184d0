//! One page of a Loki answer turned into events and the cursor after them. Pure: no I/O.
//!
//! The streams of an answer are merged into one list in forward order (timestamp, then stream
//! labels, each stream's own order kept) and every entry gets a deterministic id. Each stream's
//! lines go through their own multi-line [`Assembler`]. An event still open at the end of the
//! page (a trace whose next line may come in the next page) is not read yet: the page is
//! consumed only up to it, so the next poll reads it whole.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::cursor::Cursor;
use crate::model::{Event, Level};
use crate::pipeline::multiline::{Assembled, Assembler, AssemblerConfig};
use crate::pipeline::parse::{parse_assembled, LineContext};

/// Stream labels naming the service, most specific first.
const SERVICE_LABELS: &[&str] = &["service_name", "service", "app", "job"];
/// Stream labels carrying the level.
const LEVEL_LABELS: &[&str] = &["level", "detected_level"];
/// Stream labels naming the environment.
const ENVIRONMENT_LABELS: &[&str] = &["environment", "env"];
/// The `service_name` Loki 3 assigns when a stream names no service.
const UNKNOWN_SERVICE: &str = "unknown_service";

/// One stream of a query answer (`{"stream": {…}, "values": [[ts, line, …], …]}`).
#[derive(Debug, Deserialize)]
pub(crate) struct Stream {
    stream: BTreeMap<String, String>,
    values: Vec<Vec<serde_json::Value>>,
}

/// One log entry of a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The stream's labels, shared by its entries.
    pub labels: Arc<BTreeMap<String, String>>,
    /// The labels in LogQL form, `{a="b", c="d"}`: the stream's identity and sort key.
    pub stream: Arc<str>,
    /// Unix nanoseconds.
    pub ts: i64,
    pub line: String,
    /// See [`entry_id`].
    pub id: String,
}

/// The entries of an answer's streams in forward order, with their ids. An error names what
/// is malformed.
pub(crate) fn merge(streams: Vec<Stream>) -> Result<Vec<Entry>, String> {
    let mut entries = Vec::new();
    for stream in streams {
        let key: Arc<str> = Arc::from(labels_key(&stream.stream));
        let labels = Arc::new(stream.stream);
        for value in stream.values {
            let (ts, line) = entry_value(&value)?;
            entries.push(Entry {
                labels: labels.clone(),
                stream: key.clone(),
                ts,
                line,
                id: String::new(),
            });
        }
    }
    // Stable: entries of one stream at one timestamp keep Loki's order (the lines of a trace).
    entries.sort_by(|a, b| a.ts.cmp(&b.ts).then_with(|| a.stream.cmp(&b.stream)));
    let mut ordinals: HashMap<(Arc<str>, i64, String), u32> = HashMap::new();
    for entry in &mut entries {
        let ordinal = ordinals
            .entry((entry.stream.clone(), entry.ts, entry.line.clone()))
            .or_default();
        entry.id = entry_id(&entry.stream, entry.ts, &entry.line, *ordinal);
        *ordinal += 1;
    }
    Ok(entries)
}

/// `[ts, line, …]`: a nanosecond timestamp string and the line; further elements (structured
/// metadata) are ignored.
fn entry_value(value: &[serde_json::Value]) -> Result<(i64, String), String> {
    match value {
        [ts, line, ..] => {
            let ts = ts
                .as_str()
                .and_then(|t| t.parse::<i64>().ok())
                .ok_or_else(|| format!("entry timestamp {ts} is not a nanosecond string"))?;
            let line = line
                .as_str()
                .ok_or_else(|| format!("entry line {line} is not a string"))?;
            Ok((ts, line.to_string()))
        }
        _ => Err("an entry is not a [timestamp, line] pair".to_string()),
    }
}

/// The labels in LogQL form, sorted by name: `{a="b", c="d\"e"}`.
pub(crate) fn labels_key(labels: &BTreeMap<String, String>) -> String {
    let pairs: Vec<String> = labels
        .iter()
        .map(|(name, value)| format!("{name}={value:?}"))
        .collect();
    format!("{{{}}}", pairs.join(", "))
}

/// An entry's identity: a hash of its stream, timestamp, line and its ordinal among identical
/// entries (same stream, timestamp and line), so the same entry read twice has the same id
/// and two identical entries have two. 32 hex digits.
pub(crate) fn entry_id(stream: &str, ts: i64, line: &str, ordinal: u32) -> String {
    let mut hash = Sha256::new();
    for part in [stream, &ts.to_string(), &ordinal.to_string(), line] {
        hash.update(part.len().to_le_bytes());
        hash.update(part.as_bytes());
    }
    hex::encode(&hash.finalize()[..16])
}

/// A page as it came back.
#[derive(Debug)]
pub(crate) struct Page {
    /// Merged entries, see [`merge`].
    pub entries: Vec<Entry>,
    /// The query's `end` (exclusive).
    pub end: i64,
    /// The page holds `limit` entries: more may follow at and after its last timestamp.
    pub full: bool,
}

/// What a page yields.
#[derive(Debug)]
pub(crate) struct Read {
    pub events: Vec<Event>,
    pub cursor: Cursor,
}

/// The page is full of entries already read: more than a page shares one timestamp.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Stuck {
    pub ts: i64,
}

/// Reads `page`, queried from `from`: the events it completes and the cursor after them.
pub(crate) fn read_page(
    page: &Page,
    from: &Cursor,
    config: AssemblerConfig,
) -> Result<Read, Stuck> {
    let fresh: Vec<&Entry> = page
        .entries
        .iter()
        .filter(|e| !(e.ts == from.ts && from.seen.contains(&e.id)))
        .collect();
    if page.full && fresh.is_empty() {
        return Err(Stuck { ts: from.ts });
    }
    // No later line can join an event that opened more than a window before this.
    let horizon = match fresh.last() {
        Some(last) if page.full => last.ts,
        _ => page.end,
    };
    let mut streams = assemble(&fresh, horizon, config);
    let first_open = streams.iter().filter_map(StreamAssembly::first_open).min();
    let mut done = covered(&streams);
    let mut cut = consumed_up_to(first_open.unwrap_or(fresh.len()), &done);
    if cut == 0 && page.full {
        // An open event at the start of a full page would hold the source back forever:
        // read what is there, cut short.
        streams.iter_mut().for_each(StreamAssembly::finish);
        done = covered(&streams);
        cut = fresh.len();
    }
    done.retain(|c| c.last() < cut);
    done.sort_by_key(Covered::first);
    let events = done
        .iter()
        .filter_map(|c| event_of(&c.assembled, fresh[c.first_line(&fresh)]))
        .collect();
    Ok(Read {
        events,
        cursor: cursor_after(&fresh, cut, page, from),
    })
}

/// Runs each stream's entries through its own assembler, and flushes the events complete by
/// `horizon` (the time no later entry can precede).
fn assemble(fresh: &[&Entry], horizon: i64, config: AssemblerConfig) -> Vec<StreamAssembly> {
    let mut streams: BTreeMap<&str, StreamAssembly> = BTreeMap::new();
    for (index, entry) in fresh.iter().enumerate() {
        streams
            .entry(&entry.stream)
            .or_insert_with(|| StreamAssembly::new(config))
            .push(index, entry);
    }
    let mut streams: Vec<StreamAssembly> = streams.into_values().collect();
    for assembly in &mut streams {
        assembly.flush_expired(horizon);
    }
    streams
}

/// The events of every stream, with the entries they cover.
fn covered(streams: &[StreamAssembly]) -> Vec<Covered> {
    streams.iter().flat_map(StreamAssembly::covered).collect()
}

/// The number of leading fresh entries consumed when `open` is the first entry of the first
/// open event: an event is consumed whole or not at all, so the cut moves back to the first
/// line of any event it would split.
fn consumed_up_to(open: usize, done: &[Covered]) -> usize {
    let mut cut = open;
    while let Some(split) = done
        .iter()
        .filter(|c| c.first() < cut && c.last() >= cut)
        .map(Covered::first)
        .min()
    {
        cut = split;
    }
    cut
}

/// The cursor after the first `cut` fresh entries.
fn cursor_after(fresh: &[&Entry], cut: usize, page: &Page, from: &Cursor) -> Cursor {
    let ts = match fresh.get(cut) {
        Some(next) => next.ts,
        None => match fresh.last() {
            Some(last) if page.full => last.ts,
            // Everything before `end` is read.
            _ => return Cursor::at(page.end),
        },
    };
    let mut seen: BTreeSet<String> = if ts == from.ts {
        from.seen.clone()
    } else {
        BTreeSet::new()
    };
    seen.extend(
        fresh[..cut]
            .iter()
            .filter(|e| e.ts == ts)
            .map(|e| e.id.clone()),
    );
    Cursor { ts, seen }
}

/// An assembled event and the indices (increasing) of the fresh entries it covers.
#[derive(Debug, Clone)]
struct Covered {
    assembled: Assembled,
    entries: Vec<usize>,
}

impl Covered {
    fn first(&self) -> usize {
        self.entries.first().copied().unwrap_or_default()
    }

    fn last(&self) -> usize {
        self.entries.last().copied().unwrap_or_default()
    }

    /// The entry of its first non-blank line: the event's identity.
    fn first_line(&self, fresh: &[&Entry]) -> usize {
        self.entries
            .iter()
            .copied()
            .find(|&i| !fresh[i].line.trim().is_empty())
            .unwrap_or_else(|| self.first())
    }
}

/// One stream's assembler, the events it emitted and the entries it was given. Which entries
/// an event covers follows from the assembler's own line numbers ([`Assembled::first_line`],
/// [`Assembler::pending_first_line`]): from its first line up to the next event's.
struct StreamAssembly {
    assembler: Assembler,
    /// The fresh index of each line pushed, by the assembler's line number.
    pushed: Vec<usize>,
    /// What the assembler emitted, in order.
    emitted: Vec<Assembled>,
    /// JSON entries: whole events of their own, never pushed.
    whole: Vec<Covered>,
}

impl StreamAssembly {
    fn new(config: AssemblerConfig) -> StreamAssembly {
        StreamAssembly {
            assembler: Assembler::new(config),
            pushed: Vec::new(),
            emitted: Vec::new(),
            whole: Vec::new(),
        }
    }

    /// Adds the entry at `index`.
    fn push(&mut self, index: usize, entry: &Entry) {
        if entry.line.trim_start().starts_with('{') {
            // A JSON line is a whole event; whatever trace was open ends here.
            self.finish();
            self.whole.push(Covered {
                assembled: Assembled {
                    first_line_timestamp: timestamp(entry.ts),
                    text: entry.line.clone(),
                    line_count: 1,
                    // Not from the assembler: `entries` says which entry it is.
                    first_line: 0,
                },
                entries: vec![index],
            });
            return;
        }
        self.pushed.push(index);
        let done = self.assembler.push(timestamp(entry.ts), &entry.line);
        self.emitted.extend(done);
    }

    /// Emits the open event if its window has passed at `horizon`.
    fn flush_expired(&mut self, horizon: i64) {
        let done = self.assembler.flush_expired(timestamp(horizon));
        self.emitted.extend(done);
    }

    /// Emits the open event, complete or not.
    fn finish(&mut self) {
        let done = self.assembler.finish();
        self.emitted.extend(done);
    }

    /// The fresh index of the open event's first entry.
    fn first_open(&self) -> Option<usize> {
        let line = self.assembler.pending_first_line()?;
        self.pushed.get(line as usize).copied()
    }

    /// The events emitted, each with the entries from its first line up to the next event's
    /// (or the open event's) first line; blank lines dropped between two events go with the
    /// earlier one.
    fn covered(&self) -> Vec<Covered> {
        let line = |n: u64| (n as usize).min(self.pushed.len());
        let ends = self
            .emitted
            .iter()
            .skip(1)
            .map(|next| line(next.first_line))
            .chain([self
                .assembler
                .pending_first_line()
                .map_or(self.pushed.len(), line)]);
        self.emitted
            .iter()
            .zip(ends)
            .map(|(assembled, end)| Covered {
                assembled: assembled.clone(),
                entries: self
                    .pushed
                    .get(line(assembled.first_line)..end)
                    .unwrap_or_default()
                    .to_vec(),
            })
            .chain(self.whole.iter().cloned())
            .collect()
    }
}

/// The event of an assembled text whose first line is `first`.
fn event_of(assembled: &Assembled, first: &Entry) -> Option<Event> {
    let ctx = LineContext {
        source: "loki".to_string(),
        service: None,
        received_at: timestamp(first.ts),
    };
    let mut event = parse_assembled(&assembled.text, &ctx)?;
    let labels = first.labels.as_ref();
    event.timestamp = timestamp(first.ts);
    if let Some(level) = level_of_labels(labels) {
        // A trace stays an error whatever its stream's label says.
        event.level = if event.stack_trace.is_some() {
            level.max(Level::Error)
        } else {
            level
        };
    }
    event.service = service_of_labels(labels).or(event.service);
    event.environment = first_label(labels, ENVIRONMENT_LABELS).or(event.environment);
    event
        .attributes
        .extend(labels.iter().map(|(k, v)| (k.clone(), v.clone())));
    event.source_id = Some(first.id.clone());
    Some(event)
}

/// The service a stream's labels name.
pub(crate) fn service_of_labels(labels: &BTreeMap<String, String>) -> Option<String> {
    SERVICE_LABELS
        .iter()
        .filter_map(|name| labels.get(*name))
        .find(|v| !v.is_empty() && *v != UNKNOWN_SERVICE)
        .cloned()
}

/// The level a stream's labels give, if they give a known one.
pub(crate) fn level_of_labels(labels: &BTreeMap<String, String>) -> Option<Level> {
    LEVEL_LABELS
        .iter()
        .filter_map(|name| labels.get(*name))
        .find_map(|v| v.parse::<Level>().ok())
}

fn first_label(labels: &BTreeMap<String, String>, names: &[&str]) -> Option<String> {
    names
        .iter()
        .filter_map(|name| labels.get(*name))
        .find(|v| !v.is_empty())
        .cloned()
}

/// Unix nanoseconds as a time.
pub(crate) fn timestamp(ns: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(ns)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;
    const PY: [&str; 4] = [
        "Traceback (most recent call last):",
        "  File \"/app/cart.py\", line 12, in add_item",
        "    total = prices[item]",
        "KeyError: 'sku-1'",
    ];

    fn labels(service: &str) -> BTreeMap<String, String> {
        [("service_name", service), ("env", "prod")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Merged entries of `(service, seconds, line)` triples, one stream per service.
    fn entries(lines: &[(&str, i64, &str)]) -> Vec<Entry> {
        let mut streams: BTreeMap<&str, Vec<Vec<serde_json::Value>>> = BTreeMap::new();
        for (service, seconds, line) in lines {
            streams
                .entry(service)
                .or_default()
                .push(vec![(seconds * S).to_string().into(), (*line).into()]);
        }
        let streams = streams
            .into_iter()
            .map(|(service, values)| Stream {
                stream: labels(service),
                values,
            })
            .collect();
        merge(streams).expect("well-formed")
    }

    fn page(lines: &[(&str, i64, &str)], full: bool, end_seconds: i64) -> Page {
        Page {
            entries: entries(lines),
            end: end_seconds * S,
            full,
        }
    }

    fn read(page: &Page, from: &Cursor) -> Read {
        read_page(page, from, AssemblerConfig::default()).expect("not stuck")
    }

    /// (seconds, message or first trace line) of each event.
    fn summary(read: &Read) -> Vec<(i64, String)> {
        read.events
            .iter()
            .map(|e| {
                let first = e.stack_trace.as_deref().unwrap_or(&e.message);
                let first = first.lines().next().unwrap_or("").to_string();
                (e.timestamp.timestamp(), first)
            })
            .collect()
    }

    fn ids_at(page: &Page, seconds: i64) -> BTreeSet<String> {
        page.entries
            .iter()
            .filter(|e| e.ts == seconds * S)
            .map(|e| e.id.clone())
            .collect()
    }

    #[test]
    fn merge_orders_by_time_then_stream_keeping_each_streams_order() {
        let merged = entries(&[
            ("web", 1, "w1"),
            ("web", 3, "w3b"),
            ("web", 3, "w3a"),
            ("api", 2, "a2"),
            ("api", 3, "a3"),
        ]);
        let order: Vec<&str> = merged.iter().map(|e| e.line.as_str()).collect();
        assert_eq!(order, ["w1", "a2", "a3", "w3b", "w3a"]);
        assert_eq!(
            merged[1].stream.as_ref(),
            r#"{env="prod", service_name="api"}"#
        );
    }

    #[test]
    fn ids_are_stable_and_tell_identical_entries_apart() {
        let first = entries(&[("api", 1, "same"), ("api", 1, "same"), ("web", 1, "same")]);
        let again = entries(&[("web", 1, "same"), ("api", 1, "same"), ("api", 1, "same")]);
        let ids: BTreeSet<&str> = first.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids.len(), 3, "identical entries get distinct ids");
        let again: BTreeSet<&str> = again.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, again, "the same entries get the same ids");
        assert!(first.iter().all(|e| e.id.len() == 32));
        assert_ne!(
            entry_id("{a=\"b\"}", 1, "x", 0),
            entry_id("{a=\"b\"}", 2, "x", 0)
        );
        assert_ne!(
            entry_id("{a=\"b\"}", 1, "x", 0),
            entry_id("{a=\"c\"}", 1, "x", 0)
        );
    }

    #[test]
    fn malformed_values_are_errors() {
        for (value, error) in [
            (
                serde_json::json!([1, "x"]),
                "entry timestamp 1 is not a nanosecond string",
            ),
            (serde_json::json!(["1", 2]), "entry line 2 is not a string"),
            (
                serde_json::json!(["1"]),
                "an entry is not a [timestamp, line] pair",
            ),
        ] {
            let values = vec![value.as_array().cloned().unwrap_or_default()];
            let streams = vec![Stream {
                stream: labels("api"),
                values,
            }];
            assert_eq!(merge(streams).expect_err(error), error);
        }
        let extra = vec![Stream {
            stream: labels("api"),
            values: vec![vec![
                "5".into(),
                "x".into(),
                serde_json::json!({"trace_id": "t"}),
            ]],
        }];
        assert_eq!(merge(extra).expect("extras ignored")[0].ts, 5);
    }

    #[test]
    fn service_and_level_from_labels() {
        for (pairs, service, level) in [
            (
                vec![("service_name", "api"), ("job", "ns/api")],
                Some("api"),
                None,
            ),
            (
                vec![("service_name", "unknown_service"), ("app", "shop")],
                Some("shop"),
                None,
            ),
            (
                vec![("service", "billing"), ("app", "shop")],
                Some("billing"),
                None,
            ),
            (
                vec![("job", "varlogs"), ("level", "warn")],
                Some("varlogs"),
                Some(Level::Warn),
            ),
            (vec![("detected_level", "ERROR")], None, Some(Level::Error)),
            (
                vec![("level", "unknown"), ("detected_level", "fatal")],
                None,
                Some(Level::Critical),
            ),
            (vec![("detected_level", "unknown")], None, None),
        ] {
            let labels: BTreeMap<String, String> = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            assert_eq!(service_of_labels(&labels).as_deref(), service, "{pairs:?}");
            assert_eq!(level_of_labels(&labels), level, "{pairs:?}");
        }
    }

    #[test]
    fn events_carry_labels_level_and_id() {
        let page = page(
            &[
                ("api", 1, "2026-11-27 10:00:00 WARN disk almost full"),
                (
                    "api",
                    2,
                    r#"{"level":"error","msg":"charge failed","provider":"stripe"}"#,
                ),
            ],
            false,
            10,
        );
        let read = read(&page, &Cursor::at(0));
        let [warn, json] = read.events.as_slice() else {
            panic!("two events: {:#?}", read.events);
        };
        assert_eq!(warn.timestamp.timestamp(), 1, "Loki's time, not the line's");
        assert_eq!(warn.level, Level::Warn);
        assert_eq!(warn.message, "disk almost full");
        assert_eq!(warn.service.as_deref(), Some("api"));
        assert_eq!(warn.environment.as_deref(), Some("prod"));
        assert_eq!(warn.source, "loki");
        assert_eq!(warn.source_id.as_deref(), Some(page.entries[0].id.as_str()));
        assert_eq!(
            warn.attributes.get("service_name").map(String::as_str),
            Some("api")
        );
        assert_eq!(json.level, Level::Error);
        assert_eq!(json.message, "charge failed");
        assert_eq!(
            json.attributes.get("provider").map(String::as_str),
            Some("stripe")
        );
    }

    #[test]
    fn a_trace_in_one_entry_per_line_is_one_event() {
        let mut lines = vec![("api", 1, "INFO start")];
        lines.extend(PY.iter().map(|l| ("api", 2, *l)));
        lines.push(("web", 2, "GET / 200"));
        lines.push(("api", 3, "INFO next"));
        let page = page(&lines, false, 10);
        let read = read(&page, &Cursor::at(0));
        assert_eq!(
            summary(&read),
            vec![
                (1, "start".to_string()),
                (2, PY[0].to_string()),
                (2, "GET / 200".to_string()),
                (3, "next".to_string())
            ]
        );
        let trace = &read.events[1];
        assert_eq!(trace.level, Level::Error);
        assert_eq!(trace.stack_trace.as_deref(), Some(PY.join("\n").as_str()));
        assert_eq!(
            trace.source_id.as_deref(),
            Some(page.entries[1].id.as_str())
        );
    }

    #[test]
    fn cursor_after_a_page() {
        let tie = [("api", 5, "a5"), ("web", 5, "w5"), ("api", 5, "a5'")];
        let mut lines = vec![("api", 1, "a1"), ("web", 2, "w2")];
        lines.extend(tie);
        let whole = page(&lines, false, 10);
        let full = page(&lines, true, 10);
        let at_five = page(&tie, true, 10);
        let seen_a5 = Cursor {
            ts: 5 * S,
            seen: [at_five.entries[0].id.clone()].into(),
        };
        for (name, page, from, events, cursor) in [
            (
                "not full: everything before end is read",
                &whole,
                Cursor::at(0),
                5,
                Cursor::at(10 * S),
            ),
            (
                "full: resume at the last timestamp, its entries seen",
                &full,
                Cursor::at(0),
                5,
                Cursor {
                    ts: 5 * S,
                    seen: ids_at(&full, 5),
                },
            ),
            (
                "entries seen at the start are dropped, the seen set grows",
                &at_five,
                seen_a5.clone(),
                2,
                Cursor {
                    ts: 5 * S,
                    seen: ids_at(&full, 5),
                },
            ),
        ] {
            let read = read(page, &from);
            assert_eq!(read.events.len(), events, "{name}");
            assert_eq!(read.cursor, cursor, "{name}");
        }
    }

    #[test]
    fn an_open_trace_at_the_page_end_is_left_for_the_next_poll() {
        // api's trace opened at 8 s may go on after the page: it and everything after it wait.
        let lines = [
            ("api", 7, "INFO before"),
            ("api", 8, PY[0]),
            ("api", 8, PY[1]),
            ("web", 9, "GET / 200"),
        ];
        let open = page(&lines, false, 10);
        let read = read(&open, &Cursor::at(0));
        assert_eq!(summary(&read), vec![(7, "before".to_string())]);
        assert_eq!(read.cursor, Cursor::at(8 * S));

        // Once the window has passed at the page end, the trace is complete as it is.
        let expired = page(&lines, false, 11);
        let read = self::read(&expired, &Cursor::at(0));
        assert_eq!(read.events.len(), 3);
        assert_eq!(read.cursor, Cursor::at(11 * S));
    }

    #[test]
    fn an_event_the_cut_would_split_waits_too() {
        // web's trace (2 s, 3 s) is complete; api's trace opened at 3 s, between its lines, is
        // open: cutting at api's trace would split web's, so the cut moves back to web's.
        let lines = [
            ("web", 1, "INFO first"),
            ("web", 2, "TypeError: boom"),
            ("api", 3, PY[0]),
            ("web", 3, "    at f (/app/a.js:1:2)"),
            ("web", 3, "INFO after"),
        ];
        let page = page(&lines, false, 4);
        let read = read(&page, &Cursor::at(0));
        assert_eq!(summary(&read), vec![(1, "first".to_string())]);
        assert_eq!(
            read.cursor,
            Cursor {
                ts: 2 * S,
                seen: BTreeSet::new()
            }
        );
    }

    #[test]
    fn a_full_page_starting_with_an_open_trace_is_read_anyway() {
        let lines = [
            ("api", 1, PY[0]),
            ("api", 1, PY[1]),
            ("web", 2, "GET / 200"),
        ];
        let page = page(&lines, true, 10);
        let read = read(&page, &Cursor::at(S));
        assert_eq!(
            summary(&read),
            vec![(1, PY[0].to_string()), (2, "GET / 200".to_string())]
        );
        assert_eq!(read.cursor.ts, 2 * S);
    }

    #[test]
    fn a_full_page_of_seen_entries_is_stuck() {
        let page = page(&[("api", 5, "a"), ("web", 5, "w")], true, 10);
        let from = Cursor {
            ts: 5 * S,
            seen: ids_at(&page, 5),
        };
        assert_eq!(
            read_page(&page, &from, AssemblerConfig::default()).expect_err("stuck"),
            Stuck { ts: 5 * S }
        );
    }

    /// What an event is: its id, message and trace.
    fn identities(events: &[Event]) -> Vec<(Option<String>, String, Option<String>)> {
        let mut out: Vec<_> = events
            .iter()
            .map(|e| {
                (
                    e.source_id.clone(),
                    e.message.clone(),
                    e.stack_trace.clone(),
                )
            })
            .collect();
        out.sort();
        out
    }

    proptest::proptest! {
        /// Where a trace begins and ends depends on the entries alone: read through polls that
        /// end anywhere and pages that hold any number of entries, the events are those of one
        /// whole read (a trace open at a page's end is read again whole from the next page).
        #[test]
        fn events_do_not_depend_on_where_pages_end(
            a in proptest::collection::vec((0u8..12, 0i64..3000), 1..40),
            b in proptest::collection::vec((0u8..12, 0i64..3000), 0..40),
            cuts in proptest::collection::vec(0i64..60_000, 0..30),
            extra in 0usize..40,
        ) {
            const MS: i64 = 1_000_000;
            let config = AssemblerConfig::default();
            let scripted = crate::pipeline::multiline::fixtures::scripted;
            let streams = [("api", scripted(&a)), ("web", scripted(&b))]
                .into_iter()
                .filter(|(_, lines)| !lines.is_empty())
                .map(|(service, lines)| Stream {
                    stream: labels(service),
                    values: lines
                        .into_iter()
                        .map(|(ms, line)| vec![(ms * MS).to_string().into(), line.into()])
                        .collect(),
                })
                .collect();
            let all = merge(streams).expect("well-formed");
            let window = config.window.num_nanoseconds().unwrap_or(i64::MAX);
            let last = all.last().map_or(0, |e| e.ts);
            let done = last + window + 1_000 * MS;

            let whole = Page { entries: all.clone(), end: done, full: false };
            let want = read_page(&whole, &Cursor::at(0), config).expect("not full");

            // Pages hold several windows' worth of entries, so an event open at the start of
            // a full page has always ended by its end (a trace longer than a page is cut).
            let dense = all
                .iter()
                .map(|e| all.iter().filter(|o| o.ts >= e.ts && o.ts <= e.ts + window).count())
                .max()
                .unwrap_or(0);
            let limit = 4 * dense + 1 + extra;
            let mut ends: Vec<i64> = cuts.iter().map(|ms| ms * MS).filter(|&t| t < done).collect();
            ends.sort();
            ends.push(done);
            let mut cursor = Cursor::at(0);
            let mut got = Vec::new();
            let mut polls = 0;
            for end in ends {
                // One poll up to `end`, page after page, as the source runs it.
                while cursor.ts < end && polls < 10_000 {
                    polls += 1;
                    let mut asked = limit;
                    let read = loop {
                        let entries: Vec<Entry> = all
                            .iter()
                            .filter(|e| e.ts >= cursor.ts && e.ts < end)
                            .take(asked)
                            .cloned()
                            .collect();
                        let full = entries.len() == asked;
                        match read_page(&Page { entries, end, full }, &cursor, config) {
                            Ok(read) => break read,
                            Err(Stuck { .. }) => asked *= 2,
                        }
                    };
                    got.extend(read.events);
                    let moved = read.cursor != cursor;
                    cursor = read.cursor;
                    if !moved {
                        break;
                    }
                }
            }
            proptest::prop_assert_eq!(cursor, Cursor::at(done));
            proptest::prop_assert_eq!(identities(&got), identities(&want.events));
        }
    }
}
