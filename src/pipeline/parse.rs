//! Reading one log line (plain text or a JSON object) into an [`Event`].

use std::collections::BTreeMap;

use std::sync::LazyLock;

use chrono::{DateTime, NaiveDateTime, Utc};
use regex::Regex;
use serde_json::{Map, Value};

use crate::model::{Event, Level};

/// Where a line came from: the defaults for fields the line itself does not carry.
#[derive(Debug, Clone, Default)]
pub struct LineContext {
    pub source: String,
    pub service: Option<String>,
    pub received_at: DateTime<Utc>,
}

const LEVEL_KEYS: &[&str] = &["level", "severity", "lvl", "log.level", "levelname"];
const MESSAGE_KEYS: &[&str] = &["message", "msg", "text", "log"];
const TIME_KEYS: &[&str] = &["timestamp", "time", "ts", "@timestamp", "datetime"];
const STACK_KEYS: &[&str] = &[
    "stack",
    "stacktrace",
    "stack_trace",
    "exc_info",
    "traceback",
];
const ERROR_KEYS: &[&str] = &["error", "err", "exception"];
const SERVICE_KEYS: &[&str] = &["service", "service.name", "app", "logger"];

/// Parses one line. Returns `None` for blank lines.
pub fn parse_line(line: &str, ctx: &LineContext) -> Option<Event> {
    let line = line.trim_end_matches(['\r', '\n']);
    if line.trim().is_empty() {
        return None;
    }
    if line.trim_start().starts_with('{') {
        if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(line) {
            return Some(from_json(map, ctx));
        }
    }
    Some(from_text(line, ctx))
}

/// Parses one assembled event (see `pipeline::multiline`): its first line is the event, and
/// when more lines follow, the whole text is its stack trace and the event is at least an error.
pub fn parse_assembled(text: &str, ctx: &LineContext) -> Option<Event> {
    let Some((head, _)) = text.split_once('\n') else {
        return parse_line(text, ctx);
    };
    let mut event = parse_line(head, ctx)?;
    event.stack_trace = Some(text.to_string());
    // A stack trace is an error even when its first line carries no level word.
    event.level = event.level.max(Level::Error);
    Some(event)
}

/// Reads one JSON object (already parsed) into an event, like [`parse_line`] reads a JSON line.
pub fn parse_object(map: Map<String, Value>, ctx: &LineContext) -> Event {
    from_json(map, ctx)
}

/// A leading timestamp, as most loggers write it.
static TIME_PREFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\[?(?P<ts>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?)\]?\s+")
        .expect("the time prefix pattern is valid")
});

/// A level word right after the timestamp: `ERROR`, `[WARN]`, `INFO:`.
static LEVEL_PREFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\[?(?P<level>TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|ERR|CRITICAL|CRIT|FATAL|PANIC|ALERT|EMERG)\]?:?\s+")
        .expect("the level prefix pattern is valid")
});

/// Parses a log timestamp: RFC 3339, or `YYYY-MM-DD HH:MM:SS[.frac]` taken as UTC.
fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.replace(',', ".");
    if let Ok(t) = DateTime::parse_from_rfc3339(&text.replacen(' ', "T", 1)) {
        return Some(t.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(&text.replacen('T', " ", 1), "%Y-%m-%d %H:%M:%S%.f")
        .ok()
        .map(|t| t.and_utc())
}

fn from_text(line: &str, ctx: &LineContext) -> Event {
    // "2026-11-27 10:00:01 ERROR message": the prefix gives time and level, the rest is the message.
    let mut rest = line.trim();
    let mut timestamp = ctx.received_at;
    if let Some(caps) = TIME_PREFIX.captures(rest) {
        if let Some(t) = caps.name("ts").and_then(|m| parse_time(m.as_str())) {
            timestamp = t;
            rest = &rest[caps.get(0).map_or(0, |m| m.end())..];
        }
    }
    let mut level = None;
    if let Some(caps) = LEVEL_PREFIX.captures(rest) {
        level = caps
            .name("level")
            .and_then(|m| m.as_str().parse::<Level>().ok());
        if level.is_some() {
            rest = &rest[caps.get(0).map_or(0, |m| m.end())..];
        }
    }
    let message = if rest.is_empty() { line.trim() } else { rest };
    Event {
        timestamp,
        level: level.unwrap_or_else(|| level_of_text(message)),
        message: message.to_string(),
        exception: None,
        stack_trace: None,
        service: ctx.service.clone(),
        deployment: None,
        environment: None,
        attributes: BTreeMap::new(),
        source: ctx.source.clone(),
        source_id: None,
    }
}

/// The level a plain-text line announces: the most severe level word among its first tokens.
pub fn level_of_text(line: &str) -> Level {
    level_word(line).unwrap_or(Level::Info)
}

/// The level a plain-text line states, if it states one (a level word after an optional
/// leading timestamp, or an upper-case level word or trace marker among its first tokens).
/// Sources that also know a level of their own (Railway's stderr = error) use theirs only
/// when the line states none.
pub fn stated_level(line: &str) -> Option<Level> {
    let mut rest = line.trim();
    if let Some(m) = TIME_PREFIX.find(rest) {
        rest = &rest[m.end()..];
    }
    if let Some(level) = LEVEL_PREFIX
        .captures(rest)
        .and_then(|caps| caps.name("level"))
        .and_then(|m| m.as_str().parse::<Level>().ok())
    {
        return Some(level);
    }
    level_word(rest)
}

/// The most severe level word (or trace marker) among the first tokens of `line`.
fn level_word(line: &str) -> Option<Level> {
    let head: String = line.chars().take(120).collect();
    let mut found: Option<Level> = None;
    for token in head.split(|c: char| !c.is_ascii_alphabetic()) {
        if token.len() < 3 {
            continue;
        }
        // Only upper-case or bracketed level words count: "error" inside prose is not a level.
        let upper = token.chars().all(|c| c.is_ascii_uppercase());
        let level = match token {
            "Traceback" | "panicked" | "Exception" => Some(Level::Error),
            _ if upper => token
                .parse::<Level>()
                .ok()
                .filter(|l| *l != Level::Info || token == "INFO"),
            _ => None,
        };
        if let Some(level) = level {
            found = Some(found.map_or(level, |f| f.max(level)));
        }
    }
    found
}

fn from_json(mut map: Map<String, Value>, ctx: &LineContext) -> Event {
    let level_text = take_string(&mut map, LEVEL_KEYS);
    let mut message = take_string(&mut map, MESSAGE_KEYS).unwrap_or_default();
    let timestamp = take_string(&mut map, TIME_KEYS)
        .and_then(|t| parse_time(&t))
        .unwrap_or(ctx.received_at);
    let stack_trace = take_string(&mut map, STACK_KEYS);
    let error = take_string(&mut map, ERROR_KEYS);
    if message.is_empty() {
        message = error.clone().unwrap_or_default();
    } else if let Some(error) = &error {
        if !message.contains(error.as_str()) {
            message = format!("{message}: {error}");
        }
    }
    let level = match level_text.as_deref().map(str::parse::<Level>) {
        Some(Ok(level)) => level,
        _ if error.is_some() || stack_trace.is_some() => Level::Error,
        _ => level_of_text(&message),
    };
    let service = take_string(&mut map, SERVICE_KEYS).or_else(|| ctx.service.clone());
    let deployment = take_string(&mut map, &["deployment", "deployment_id", "deploymentId"]);
    let environment = take_string(&mut map, &["environment", "env"]);
    let attributes = map
        .into_iter()
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            (k, v)
        })
        .collect();
    Event {
        timestamp,
        level,
        message,
        exception: None,
        stack_trace,
        service,
        deployment,
        environment,
        attributes,
        source: ctx.source.clone(),
        source_id: None,
    }
}

/// Removes the first of `keys` present in `map` and returns it as text.
fn take_string(map: &mut Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| match map.remove(*k) {
        Some(Value::String(s)) if !s.is_empty() => Some(s),
        Some(Value::Null) | None => None,
        Some(Value::String(_)) => None,
        Some(other) => Some(other.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> LineContext {
        LineContext {
            source: "file".into(),
            service: Some("web".into()),
            received_at: DateTime::from_timestamp(1_700_000_000, 0).expect("valid"),
        }
    }

    #[test]
    fn text_levels() {
        for (line, level) in [
            ("2024-01-01 10:00:00 ERROR payment failed", Level::Error),
            ("[WARN] disk almost full", Level::Warn),
            ("CRITICAL database down", Level::Critical),
            ("FATAL: out of memory", Level::Critical),
            ("INFO started in 3s", Level::Info),
            ("no error here, just prose", Level::Info),
            ("Traceback (most recent call last):", Level::Error),
            ("thread 'main' panicked at src/main.rs:4:5", Level::Error),
            ("DEBUG cache warm", Level::Debug),
            ("GET /health 200", Level::Info),
        ] {
            assert_eq!(level_of_text(line), level, "{line}");
        }
    }

    #[test]
    fn text_prefixes_give_time_and_level() {
        for (line, level, message, time) in [
            (
                "2026-11-27 10:00:01 ERROR HTTP 500 at /x",
                Level::Error,
                "HTTP 500 at /x",
                Some("2026-11-27T10:00:01+00:00"),
            ),
            (
                "[2026-11-27T10:00:01.250Z] [WARN] slow",
                Level::Warn,
                "slow",
                Some("2026-11-27T10:00:01.250+00:00"),
            ),
            (
                "2026-11-27 10:00:01,5 INFO: up",
                Level::Info,
                "up",
                Some("2026-11-27T10:00:01.500+00:00"),
            ),
            ("ERROR: boom", Level::Error, "boom", None),
            ("FATAL", Level::Critical, "FATAL", None),
            ("plain words", Level::Info, "plain words", None),
        ] {
            let e = parse_line(line, &ctx()).expect("a line");
            assert_eq!((e.level, e.message.as_str()), (level, message), "{line}");
            let expected = time.map_or(ctx().received_at.to_rfc3339(), str::to_string);
            assert_eq!(e.timestamp.to_rfc3339(), expected, "{line}");
        }
    }

    #[test]
    fn blank_lines_are_skipped() {
        assert!(parse_line("   \n", &ctx()).is_none());
    }

    #[test]
    fn json_lines() {
        let e = parse_line(
            r#"{"level":"error","msg":"charge failed","error":"card declined","time":"2024-05-01T10:00:00Z","service":"billing","order_id":42}"#,
            &ctx(),
        )
        .expect("a line");
        assert_eq!(e.level, Level::Error);
        assert_eq!(e.message, "charge failed: card declined");
        assert_eq!(e.service.as_deref(), Some("billing"));
        assert_eq!(e.timestamp.to_rfc3339(), "2024-05-01T10:00:00+00:00");
        assert_eq!(e.attributes.get("order_id").map(String::as_str), Some("42"));
    }

    #[test]
    fn json_without_level_but_with_stack_is_an_error() {
        let e =
            parse_line(r#"{"message":"boom","stack":"at f (a.js:1:2)"}"#, &ctx()).expect("a line");
        assert_eq!(e.level, Level::Error);
        assert_eq!(e.stack_trace.as_deref(), Some("at f (a.js:1:2)"));
        assert_eq!(e.service.as_deref(), Some("web"));
    }

    #[test]
    fn broken_json_is_text() {
        let e = parse_line(r#"{"level":"error", oops"#, &ctx()).expect("a line");
        assert_eq!(e.message, r#"{"level":"error", oops"#);
    }

    #[test]
    fn stated_levels() {
        for (line, want) in [
            ("2026-11-27 10:00:00 INFO started", Some(Level::Info)),
            ("[WARN] disk almost full", Some(Level::Warn)),
            ("ERROR: boom", Some(Level::Error)),
            ("Traceback (most recent call last):", Some(Level::Error)),
            ("listening on :8080", None),
            ("an error in prose is not a level", None),
            ("", None),
        ] {
            assert_eq!(stated_level(line), want, "{line:?}");
        }
    }
}
