//! Sentry SDK ingest: the envelope (`/api/{project}/envelope/`) and legacy store
//! (`/api/{project}/store/`) formats, turned into [`Event`]s. Pure functions over bytes and
//! JSON; the HTTP side (decompression, auth, limits) lives in the server.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::model::{Event, Exception, Frame, Level};

/// The envelope or event could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SentryError {
    #[error("envelope header is not a JSON object")]
    BadHeader,
    #[error("item {0}: header is not a JSON object")]
    BadItemHeader(usize),
    #[error("item {0}: declared length runs past the end of the body")]
    Truncated(usize),
    #[error("event is not a JSON object")]
    BadEvent,
}

/// One item of an envelope: its type and its payload bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Item<'a> {
    pub kind: String,
    pub payload: &'a [u8],
}

/// A parsed envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope<'a> {
    pub header: serde_json::Map<String, Value>,
    pub items: Vec<Item<'a>>,
}

impl Envelope<'_> {
    /// The envelope's `event_id`, if any.
    pub fn event_id(&self) -> Option<&str> {
        self.header.get("event_id").and_then(Value::as_str)
    }

    /// The public key of the `dsn` in the envelope header (a way SDKs authenticate).
    pub fn dsn_key(&self) -> Option<String> {
        let dsn = self.header.get("dsn")?.as_str()?;
        let (_, rest) = dsn.split_once("://")?;
        let (userinfo, _) = rest.split_once('@')?;
        Some(userinfo.split(':').next().unwrap_or(userinfo).to_string())
    }
}

/// Splits an envelope: a JSON header line, then items of a JSON header line and a payload of
/// `length` bytes (or up to the next newline when the header has no length).
pub fn parse_envelope(body: &[u8]) -> Result<Envelope<'_>, SentryError> {
    let (first, mut rest) = split_line(body);
    let header = match serde_json::from_slice::<Value>(first) {
        Ok(Value::Object(map)) => map,
        _ => return Err(SentryError::BadHeader),
    };
    let mut items = Vec::new();
    while !rest.iter().all(u8::is_ascii_whitespace) {
        let index = items.len();
        let (line, after) = split_line(rest);
        let item_header = match serde_json::from_slice::<Value>(line) {
            Ok(Value::Object(map)) => map,
            _ => return Err(SentryError::BadItemHeader(index)),
        };
        let (payload, next) = match item_header.get("length").and_then(Value::as_u64) {
            Some(length) => {
                let length = usize::try_from(length).map_err(|_| SentryError::Truncated(index))?;
                if length > after.len() {
                    return Err(SentryError::Truncated(index));
                }
                let (payload, next) = after.split_at(length);
                (payload, next.strip_prefix(b"\n").unwrap_or(next))
            }
            None => split_line(after),
        };
        let kind = item_header
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        items.push(Item { kind, payload });
        rest = next;
    }
    Ok(Envelope { header, items })
}

fn split_line(bytes: &[u8]) -> (&[u8], &[u8]) {
    match bytes.iter().position(|&b| b == b'\n') {
        Some(i) => (&bytes[..i], &bytes[i + 1..]),
        None => (bytes, &[]),
    }
}

/// The public key in an `X-Sentry-Auth` header (`Sentry sentry_key=…, sentry_version=7`) or a
/// `sentry_key` query parameter.
pub fn auth_key(header: Option<&str>, query: Option<&str>) -> Option<String> {
    let from_header = header.and_then(|h| {
        h.trim()
            .trim_start_matches("Sentry")
            .split(',')
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(k, _)| *k == "sentry_key")
            .map(|(_, v)| v.trim().to_string())
    });
    from_header.or_else(|| {
        query?
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(k, _)| *k == "sentry_key")
            .map(|(_, v)| v.to_string())
    })
}

/// The events of an envelope: error events and log records (transactions, sessions, client
/// reports and attachments carry no errors and are accepted without events).
pub fn envelope_events(
    envelope: &Envelope,
    service: &str,
    received_at: DateTime<Utc>,
) -> Vec<Event> {
    let mut events = Vec::new();
    for item in &envelope.items {
        match item.kind.as_str() {
            "event" => {
                if let Ok(value) = serde_json::from_slice::<Value>(item.payload) {
                    if let Some(event) = event_from_json(&value, service, received_at) {
                        events.push(event);
                    }
                }
            }
            "log" => {
                if let Ok(value) = serde_json::from_slice::<Value>(item.payload) {
                    events.extend(log_events(&value, service, received_at));
                }
            }
            _ => {}
        }
    }
    events
}

/// A Sentry event (envelope `event` item or legacy store body) as an [`Event`].
pub fn event_from_json(value: &Value, service: &str, received_at: DateTime<Utc>) -> Option<Event> {
    let object = value.as_object()?;
    let str_of = |key: &str| object.get(key).and_then(Value::as_str).map(str::to_string);
    let exception = object
        .get("exception")
        .and_then(|e| e.get("values").or(Some(e)))
        .and_then(Value::as_array)
        // Values are oldest first; the last is the exception that was raised.
        .and_then(|values| values.last())
        .map(exception_of);
    let message = str_of("message")
        .or_else(|| {
            object
                .get("logentry")
                .and_then(|l| l.get("formatted").or_else(|| l.get("message")))
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .or_else(|| {
            exception
                .as_ref()
                .map(|e| format!("{}: {}", e.kind, e.value))
        })
        .unwrap_or_default();
    let level = level_of(object.get("level")).unwrap_or(Level::Error);
    let mut attributes = BTreeMap::new();
    for key in ["platform", "logger", "server_name", "transaction"] {
        if let Some(v) = str_of(key) {
            attributes.insert(key.to_string(), v);
        }
    }
    if let Some(tags) = object.get("tags") {
        for (k, v) in tag_pairs(tags) {
            attributes.insert(format!("tag.{k}"), v);
        }
    }
    if let Some(url) = object
        .get("request")
        .and_then(|r| r.get("url"))
        .and_then(Value::as_str)
    {
        attributes.insert("request.url".into(), url.to_string());
    }
    // `user` (ids, emails, IP addresses) and request headers and cookies are personal data:
    // they are not kept at all.
    Some(Event {
        timestamp: timestamp_of(object.get("timestamp")).unwrap_or(received_at),
        level,
        message,
        exception,
        stack_trace: None,
        service: Some(service.to_string()),
        deployment: str_of("release"),
        environment: str_of("environment"),
        attributes,
        source: "sentry".into(),
        source_id: str_of("event_id"),
    })
}

fn exception_of(value: &Value) -> Exception {
    let frames = value
        .get("stacktrace")
        .and_then(|s| s.get("frames"))
        .and_then(Value::as_array)
        .map(|frames| frames.iter().map(frame_of).collect())
        .unwrap_or_default();
    Exception {
        kind: value
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("Error")
            .to_string(),
        value: value
            .get("value")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        frames,
    }
}

fn frame_of(value: &Value) -> Frame {
    let s = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_string);
    let file = s("abs_path").or_else(|| s("filename"));
    let in_app = match value.get("in_app").and_then(Value::as_bool) {
        Some(flag) => flag,
        None => file
            .as_deref()
            .is_some_and(crate::pipeline::exception::is_in_app),
    };
    Frame {
        file,
        function: s("function"),
        line: value
            .get("lineno")
            .and_then(Value::as_u64)
            .and_then(|l| u32::try_from(l).ok()),
        module: s("module"),
        in_app,
    }
}

fn tag_pairs(tags: &Value) -> Vec<(String, String)> {
    match tags {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| (k.clone(), value_text(v)))
            .collect(),
        // Older SDKs send tags as [[key, value], …].
        Value::Array(pairs) => pairs
            .iter()
            .filter_map(|p| Some((p.get(0)?.as_str()?.to_string(), value_text(p.get(1)?))))
            .collect(),
        _ => Vec::new(),
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Sentry levels (`fatal`, `error`, `warning`, …) and Python logging numbers (50, 40, …).
fn level_of(value: Option<&Value>) -> Option<Level> {
    match value? {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => Some(match n.as_u64()? {
            50.. => Level::Critical,
            40..=49 => Level::Error,
            30..=39 => Level::Warn,
            20..=29 => Level::Info,
            _ => Level::Debug,
        }),
        _ => None,
    }
}

/// Seconds since the epoch (a float) or an RFC 3339 string.
fn timestamp_of(value: Option<&Value>) -> Option<DateTime<Utc>> {
    match value? {
        Value::Number(n) => {
            let seconds = n.as_f64()?;
            DateTime::from_timestamp_millis((seconds * 1000.0) as i64)
        }
        Value::String(s) => DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .or_else(|_| {
                chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
                    .map(|t| t.and_utc())
            })
            .ok(),
        _ => None,
    }
}

/// The records of a `log` item (Sentry structured logs) as events.
fn log_events(value: &Value, service: &str, received_at: DateTime<Utc>) -> Vec<Event> {
    let Some(records) = value.get("items").and_then(Value::as_array) else {
        return Vec::new();
    };
    records
        .iter()
        .filter_map(|record| {
            let body = record.get("body")?.as_str()?.to_string();
            let attributes: BTreeMap<String, String> = record
                .get("attributes")
                .and_then(Value::as_object)
                .map(|attrs| {
                    attrs
                        .iter()
                        .filter(|(k, _)| !k.starts_with("sentry.message.parameter"))
                        .map(|(k, v)| {
                            (
                                k.clone(),
                                v.get("value").map(value_text).unwrap_or_default(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            Some(Event {
                timestamp: timestamp_of(record.get("timestamp")).unwrap_or(received_at),
                level: level_of(record.get("level")).unwrap_or(Level::Info),
                message: body,
                exception: None,
                stack_trace: None,
                service: Some(service.to_string()),
                deployment: attributes.get("sentry.release").cloned(),
                environment: attributes.get("sentry.environment").cloned(),
                attributes,
                source: "sentry".into(),
                source_id: None,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_keys() {
        assert_eq!(
            auth_key(
                Some("Sentry sentry_key=abc, sentry_version=7, sentry_client=x/1"),
                None
            )
            .as_deref(),
            Some("abc")
        );
        assert_eq!(
            auth_key(None, Some("sentry_version=7&sentry_key=def")).as_deref(),
            Some("def")
        );
        assert_eq!(auth_key(Some("Bearer x"), Some("a=b")), None);
    }

    #[test]
    fn envelopes() {
        let body = b"{\"event_id\":\"e1\",\"dsn\":\"http://k1@h/42\"}\n{\"type\":\"event\",\"length\":13}\n{\"level\":\"x\"}\n{\"type\":\"session\"}\n{\"a\":1}\n";
        let envelope = parse_envelope(body).expect("valid");
        assert_eq!(envelope.event_id(), Some("e1"));
        assert_eq!(envelope.dsn_key().as_deref(), Some("k1"));
        let kinds: Vec<&str> = envelope.items.iter().map(|i| i.kind.as_str()).collect();
        assert_eq!(kinds, ["event", "session"]);
        assert_eq!(envelope.items[0].payload, b"{\"level\":\"x\"}");
        for (bad, error) in [
            (&b"not json\n"[..], SentryError::BadHeader),
            (&b"{}\nnot json\n"[..], SentryError::BadItemHeader(0)),
            (
                &b"{}\n{\"type\":\"event\",\"length\":999}\n{}"[..],
                SentryError::Truncated(0),
            ),
        ] {
            assert_eq!(parse_envelope(bad), Err(error));
        }
    }

    #[test]
    fn events_keep_no_personal_data() {
        let json: Value = serde_json::from_str(
            r#"{"event_id":"e2","level":"fatal","user":{"email":"bob@example.com","ip_address":"1.2.3.4"},
                "request":{"url":"http://x/a","headers":{"Cookie":"session=s3cret"}},
                "exception":{"values":[{"type":"A","value":"first"},{"type":"B","value":"second","stacktrace":{"frames":[{"filename":"app.py","function":"f","lineno":3,"in_app":true}]}}]}}"#,
        )
        .expect("json");
        let event = event_from_json(&json, "api", Utc::now()).expect("event");
        assert_eq!(event.level, Level::Critical);
        let exception = event.exception.clone().expect("exception");
        assert_eq!(
            (exception.kind.as_str(), exception.value.as_str()),
            ("B", "second")
        );
        assert_eq!(exception.frames[0].line, Some(3));
        let printed = format!("{event:?}");
        assert!(
            !printed.contains("bob@example.com")
                && !printed.contains("s3cret")
                && !printed.contains("1.2.3.4")
        );
    }
}
