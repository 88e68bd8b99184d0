//! OpenTelemetry logs (OTLP/HTTP `POST /v1/logs`), protobuf or JSON, as [`Event`]s. The
//! message types are `opentelemetry-proto`'s; this module only maps them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value::Value, AnyValue, KeyValue};
use prost::Message;

use crate::model::{Event, Exception, Level};

/// The body could not be decoded.
#[derive(Debug, thiserror::Error)]
#[error("not an OTLP logs request ({encoding}): {reason}")]
pub struct OtlpError {
    pub encoding: &'static str,
    pub reason: String,
}

/// Decodes a request body: protobuf unless the content type says JSON.
pub fn decode(body: &[u8], json: bool) -> Result<ExportLogsServiceRequest, OtlpError> {
    if json {
        serde_json::from_slice(body).map_err(|e| OtlpError {
            encoding: "json",
            reason: e.to_string(),
        })
    } else {
        ExportLogsServiceRequest::decode(body).map_err(|e| OtlpError {
            encoding: "protobuf",
            reason: e.to_string(),
        })
    }
}

/// The log records of a request as events; `default_service` names records whose resource
/// has no `service.name`.
pub fn events(
    request: &ExportLogsServiceRequest,
    default_service: &str,
    received_at: DateTime<Utc>,
) -> Vec<Event> {
    let mut events = Vec::new();
    for resource_logs in &request.resource_logs {
        let resource: BTreeMap<String, String> = resource_logs
            .resource
            .as_ref()
            .map(|r| attributes(&r.attributes))
            .unwrap_or_default();
        let service = resource
            .get("service.name")
            .cloned()
            .unwrap_or_else(|| default_service.to_string());
        let environment = resource
            .get("deployment.environment.name")
            .or_else(|| resource.get("deployment.environment"))
            .cloned();
        let deployment = resource.get("service.version").cloned();
        for scope_logs in &resource_logs.scope_logs {
            for record in &scope_logs.log_records {
                let mut attrs = attributes(&record.attributes);
                let nanos = if record.time_unix_nano > 0 {
                    record.time_unix_nano
                } else {
                    record.observed_time_unix_nano
                };
                let timestamp = i64::try_from(nanos)
                    .ok()
                    .filter(|n| *n > 0)
                    .map(DateTime::from_timestamp_nanos)
                    .unwrap_or(received_at);
                let level = level_of(record.severity_number, &record.severity_text);
                let stack_trace = attrs.remove("exception.stacktrace");
                let kind = attrs.remove("exception.type");
                let value = attrs.remove("exception.message");
                let body = record.body.as_ref().map(text).unwrap_or_default();
                let message = if body.is_empty() {
                    match (&kind, &value) {
                        (Some(k), Some(v)) => format!("{k}: {v}"),
                        (Some(k), None) => k.clone(),
                        _ => String::new(),
                    }
                } else {
                    body
                };
                // With a stack trace the pipeline extracts type, value and frames from it; the
                // attributes alone give type and value.
                let exception = match (&stack_trace, kind) {
                    (None, Some(kind)) => Some(Exception {
                        kind,
                        value: value.unwrap_or_default(),
                        frames: Vec::new(),
                    }),
                    _ => None,
                };
                if let Some(scope) = &scope_logs.scope {
                    if !scope.name.is_empty() {
                        attrs.insert("otel.scope".into(), scope.name.clone());
                    }
                }
                events.push(Event {
                    timestamp,
                    level,
                    message,
                    exception,
                    stack_trace,
                    service: Some(service.clone()),
                    deployment: deployment.clone(),
                    environment: environment.clone(),
                    attributes: attrs,
                    source: "otlp".into(),
                    source_id: None,
                });
            }
        }
    }
    events
}

/// OTLP severity numbers: 1–4 trace, 5–8 debug, 9–12 info, 13–16 warn, 17–20 error, 21–24
/// fatal; the text when the number is unset.
fn level_of(number: i32, text: &str) -> Level {
    match number {
        1..=4 => Level::Trace,
        5..=8 => Level::Debug,
        9..=12 => Level::Info,
        13..=16 => Level::Warn,
        17..=20 => Level::Error,
        21..=24 => Level::Critical,
        _ => text.parse().unwrap_or(Level::Info),
    }
}

fn attributes(pairs: &[KeyValue]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|kv| {
            (
                kv.key.clone(),
                kv.value.as_ref().map(text).unwrap_or_default(),
            )
        })
        .collect()
}

fn text(value: &AnyValue) -> String {
    match &value.value {
        Some(Value::StringValue(s)) => s.clone(),
        Some(Value::BoolValue(b)) => b.to_string(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::DoubleValue(d)) => d.to_string(),
        Some(Value::ArrayValue(a)) => a.values.iter().map(text).collect::<Vec<_>>().join(", "),
        Some(Value::KvlistValue(kv)) => kv
            .values
            .iter()
            .map(|p| {
                format!(
                    "{}={}",
                    p.key,
                    p.value.as_ref().map(text).unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join(", "),
        Some(Value::BytesValue(b)) => format!("<{} bytes>", b.len()),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_numbers() {
        for (n, text, level) in [
            (17, "", Level::Error),
            (21, "", Level::Critical),
            (9, "", Level::Info),
            (13, "", Level::Warn),
            (0, "error", Level::Error),
            (0, "", Level::Info),
        ] {
            assert_eq!(level_of(n, text), level, "{n} {text}");
        }
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(decode(b"\xff\xff\xff", false).is_err());
        assert!(decode(b"{not json", true).is_err());
    }
}
