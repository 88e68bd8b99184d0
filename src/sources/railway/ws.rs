//! Railway's log subscription over WebSocket, protocol `graphql-transport-ws`
//! (`connection_init` → `connection_ack`, `subscribe` / `next` / `error` / `complete`,
//! `ping` / `pong`). The token goes in the headers of the upgrade request, as the CLI does.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::{SinkExt, StreamExt};
use reqwest::header::HeaderMap;
use serde_json::{json, Value};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use super::cursor::RawLine;
use super::wire::{deployment_logs_subscription, into_lines, LogsData};

/// How long the server has to acknowledge `connection_init`.
const ACK_TIMEOUT: Duration = Duration::from_secs(10);
/// Allowance for the difference between our clock and Railway's.
pub(crate) const CLOCK_SKEW: chrono::Duration = chrono::Duration::seconds(2);
/// A silent connection is probed with a ping this often, and dropped if nothing comes back.
const KEEPALIVE: Duration = Duration::from_secs(30);

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StreamError {
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("the server refused the token (close {0})")]
    Unauthorized(u16),
    #[error("the server closed the connection (code {code}: {reason})")]
    Closed { code: u16, reason: String },
    #[error("protocol error: {0}")]
    Protocol(String),
}

/// What the connection delivers.
pub enum Delivery {
    /// Lines of one deployment, oldest first. `since` comes with the first lines of a
    /// subscription: every line after it (strictly) comes on this subscription.
    Lines {
        deployment: String,
        lines: Vec<RawLine>,
        since: Option<DateTime<Utc>>,
    },
    /// The connection is up and subscribed: time to catch up from the cursor.
    Connected,
}

/// Runs one connection until it fails or `shutdown`: subscribes to the logs of every
/// deployment in `deployments` (and follows changes of that set) and hands what arrives to
/// `deliver`. Returns `Ok` only on shutdown.
pub async fn run_connection(
    url: &str,
    auth: HeaderMap,
    filter: Option<&str>,
    deployments: &mut watch::Receiver<BTreeSet<String>>,
    mut deliver: impl FnMut(Delivery),
    shutdown: &CancellationToken,
) -> Result<(), StreamError> {
    let mut request = url
        .into_client_request()
        .map_err(|e| StreamError::Connect(e.to_string()))?;
    request.headers_mut().extend(auth);
    request.headers_mut().insert(
        "sec-websocket-protocol",
        reqwest::header::HeaderValue::from_static("graphql-transport-ws"),
    );
    let (socket, _) = tokio::select! {
        _ = shutdown.cancelled() => return Ok(()),
        r = tokio::time::timeout(ACK_TIMEOUT, tokio_tungstenite::connect_async(request)) => match r {
            Ok(Ok(ok)) => ok,
            Ok(Err(e)) => return Err(connect_error(e)),
            Err(_) => return Err(StreamError::Connect("timed out".into())),
        },
    };
    let (mut sink, mut stream) = socket.split();
    let send = |v: Value| Message::text(v.to_string());
    sink.send(send(json!({"type": "connection_init", "payload": {}})))
        .await
        .map_err(|e| StreamError::Connect(e.to_string()))?;

    // Wait for the acknowledgement.
    let ack = tokio::time::timeout(ACK_TIMEOUT, async {
        while let Some(message) = stream.next().await {
            match message {
                Ok(Message::Text(text)) => match frame_type(&text).as_deref() {
                    Some("connection_ack") => return Ok(()),
                    Some("ping") => {}
                    other => {
                        return Err(StreamError::Protocol(format!(
                            "expected connection_ack, got {other:?}"
                        )))
                    }
                },
                Ok(Message::Close(frame)) => return Err(closed(frame)),
                Ok(_) => {}
                Err(e) => {
                    return Err(StreamError::Closed {
                        code: 1006,
                        reason: e.to_string(),
                    })
                }
            }
        }
        Err(StreamError::Closed {
            code: 1006,
            reason: "closed before connection_ack".into(),
        })
    })
    .await
    .map_err(|_| StreamError::Protocol("no connection_ack in time".into()))?;
    ack?;

    let query = deployment_logs_subscription();
    let mut subscribed: BTreeSet<String> = BTreeSet::new();
    // Subscriptions whose first lines have not come yet, with when they were made.
    let mut awaiting_first: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
    let mut first = true;
    let mut keepalive = tokio::time::interval(KEEPALIVE);
    keepalive.tick().await;
    let mut silent_ticks = 0;
    loop {
        // Follow the set of deployments: subscribe to new ones, complete gone ones.
        let wanted = deployments.borrow_and_update().clone();
        for gone in subscribed.difference(&wanted).cloned().collect::<Vec<_>>() {
            let _ = sink
                .send(send(json!({"id": gone, "type": "complete"})))
                .await;
            subscribed.remove(&gone);
        }
        for new in wanted.difference(&subscribed).cloned().collect::<Vec<_>>() {
            let mut variables = json!({"deploymentId": new, "limit": 500});
            if let Some(filter) = filter {
                variables["filter"] = json!(filter);
            }
            sink.send(send(json!({"id": new, "type": "subscribe", "payload": {"query": query, "variables": variables}})))
                .await
                .map_err(|e| StreamError::Closed { code: 1006, reason: e.to_string() })?;
            awaiting_first.insert(new.clone(), Utc::now());
            subscribed.insert(new);
        }
        if first {
            first = false;
            deliver(Delivery::Connected);
        }
        tokio::select! {
            _ = shutdown.cancelled() => {
                let _ = sink.send(Message::Close(None)).await;
                return Ok(());
            }
            changed = deployments.changed() => {
                if changed.is_err() {
                    return Ok(());
                }
            }
            _ = keepalive.tick() => {
                silent_ticks += 1;
                if silent_ticks > 2 {
                    return Err(StreamError::Closed { code: 1006, reason: "no answer to pings".into() });
                }
                let _ = sink.send(send(json!({"type": "ping"}))).await;
            }
            message = stream.next() => {
                silent_ticks = 0;
                let text = match message {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Close(frame))) => return Err(closed(frame)),
                    Some(Ok(Message::Ping(data))) => {
                        let _ = sink.send(Message::Pong(data)).await;
                        continue;
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => return Err(StreamError::Closed { code: 1006, reason: e.to_string() }),
                    None => return Err(StreamError::Closed { code: 1006, reason: "connection lost".into() }),
                };
                match handle_frame(&text) {
                    Frame::Lines { id, lines } if subscribed.contains(&id) => {
                        // The first answer replays the newest lines: from its first line on
                        // (exclusive: that instant may be cut) the stream misses nothing. An
                        // empty replay covers only what is written after the subscription.
                        let since = awaiting_first.remove(&id).map(|at| {
                            lines.first().map_or(at + CLOCK_SKEW, |l| l.timestamp)
                        });
                        deliver(Delivery::Lines { deployment: id, lines, since });
                    }
                    Frame::Ping => {
                        let _ = sink.send(send(json!({"type": "pong"}))).await;
                    }
                    Frame::Ended { id, error } => {
                        // Re-subscribe on the next turn (a deployment's stream may end).
                        if let Some(error) = error {
                            tracing::warn!(deployment = %id, %error, "Railway ended a log subscription");
                        }
                        subscribed.remove(&id);
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    Frame::Invalid(why) => tracing::debug!(%why, "ignoring a Railway frame"),
                    Frame::Lines { .. } | Frame::Other => {}
                }
            }
        }
    }
}

fn connect_error(e: tokio_tungstenite::tungstenite::Error) -> StreamError {
    use tokio_tungstenite::tungstenite::Error as E;
    match e {
        E::Http(response) if matches!(response.status().as_u16(), 401 | 403) => {
            StreamError::Unauthorized(response.status().as_u16())
        }
        E::Http(response) => StreamError::Connect(format!("HTTP {}", response.status())),
        other => StreamError::Connect(other.to_string()),
    }
}

fn closed(frame: Option<tokio_tungstenite::tungstenite::protocol::CloseFrame>) -> StreamError {
    match frame {
        Some(f) => {
            let code = u16::from(f.code);
            if matches!(code, 4401 | 4403) {
                StreamError::Unauthorized(code)
            } else {
                StreamError::Closed {
                    code,
                    reason: f.reason.to_string(),
                }
            }
        }
        None => StreamError::Closed {
            code: u16::from(CloseCode::Status),
            reason: String::new(),
        },
    }
}

fn frame_type(text: &str) -> Option<String> {
    serde_json::from_str::<Value>(text)
        .ok()?
        .get("type")?
        .as_str()
        .map(str::to_string)
}

/// One server frame, decoded.
#[derive(Debug, PartialEq)]
enum Frame {
    Lines {
        id: String,
        lines: Vec<RawLine>,
    },
    Ping,
    /// `complete` or `error` for subscription `id`.
    Ended {
        id: String,
        error: Option<String>,
    },
    Invalid(String),
    Other,
}

fn handle_frame(text: &str) -> Frame {
    let Ok(value) = serde_json::from_str::<Value>(text) else {
        return Frame::Invalid("not JSON".into());
    };
    let id = value
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    match value.get("type").and_then(Value::as_str) {
        Some("next") => {
            let payload = value.get("payload").cloned().unwrap_or(Value::Null);
            if let Some(errors) = payload.get("errors").filter(|e| !e.is_null()) {
                return Frame::Ended {
                    id,
                    error: Some(errors.to_string()),
                };
            }
            match payload
                .get("data")
                .cloned()
                .map(serde_json::from_value::<LogsData>)
            {
                Some(Ok(data)) => Frame::Lines {
                    id,
                    lines: into_lines(data.deployment_logs).0,
                },
                Some(Err(e)) => Frame::Invalid(e.to_string()),
                None => Frame::Invalid("next without data".into()),
            }
        }
        Some("ping") => Frame::Ping,
        Some("complete") => Frame::Ended { id, error: None },
        Some("error") => Frame::Ended {
            id,
            error: Some(
                value
                    .get("payload")
                    .map(Value::to_string)
                    .unwrap_or_default(),
            ),
        },
        Some(_) => Frame::Other,
        None => Frame::Invalid("no type".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames() {
        let next = r#"{"id":"d1","type":"next","payload":{"data":{"deploymentLogs":[{"timestamp":"2026-11-27T10:00:00Z","message":"boom","severity":"error","attributes":[]}]}}}"#;
        match handle_frame(next) {
            Frame::Lines { id, lines } => {
                assert_eq!(id, "d1");
                assert_eq!(lines.len(), 1);
                assert_eq!(lines[0].message, "boom");
            }
            other => panic!("expected lines, got {other:?}"),
        }
        assert_eq!(handle_frame(r#"{"type":"ping"}"#), Frame::Ping);
        assert_eq!(
            handle_frame(r#"{"id":"d1","type":"complete"}"#),
            Frame::Ended {
                id: "d1".into(),
                error: None
            }
        );
        assert!(matches!(
            handle_frame(r#"{"id":"d1","type":"error","payload":[{"message":"x"}]}"#),
            Frame::Ended { error: Some(_), .. }
        ));
        assert!(matches!(handle_frame("garbage"), Frame::Invalid(_)));
        assert!(matches!(
            handle_frame(r#"{"id":"d1","type":"next","payload":{"data":{"deploymentLogs":7}}}"#),
            Frame::Invalid(_)
        ));
        assert_eq!(handle_frame(r#"{"type":"pong"}"#), Frame::Other);
    }
}
