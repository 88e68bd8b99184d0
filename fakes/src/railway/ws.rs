//! The WebSocket side: the graphql-transport-ws protocol (enisdenjo/graphql-ws) as Railway
//! serves it on `/graphql/v2`, with the `deploymentLogs` subscription.
//!
//! - Subprotocol `graphql-transport-ws` required (else close 4406, as graphql-ws does).
//! - Auth from the upgrade request's headers (the CLI sends no token in `connection_init`): with
//!   a bad token the connection is accepted and closed 4401 `Unauthorized` on `connection_init`.
//! - `connection_init` → `connection_ack`; none within the init timeout → 4408; a second one →
//!   4429; `subscribe` before the ack → 4401; a subscribe id in use → 4409; a frame that isn't a
//!   valid protocol message → 4400. `ping` → `pong` (payload echoed); `pong` ignored.
//! - `subscribe` with a document that fails validation → `error` frame (no `complete`); with an
//!   execution error (unknown deployment …) → `next` with `errors` then `complete`; a query →
//!   `next` with its result then `complete`.
//! - `deploymentLogs(deploymentId, filter, limit)`: the first `next` replays the newest `limit`
//!   matching lines (possibly `[]`), oldest first; then each [`super::FakeRailway::push_logs`]
//!   sends its matching lines in one `next`. A client `complete` ends it silently.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{json, Map, Value as Json};
use tokio::sync::mpsc;

use super::graphql::OperationKind;
use super::logs::{self, StoredLine, Tags};
use super::resolve::{self, Caller};
use super::schema::{self, RequestError};
use super::{Shared, Subscription};

/// The one subprotocol served.
pub(crate) const PROTOCOL: &str = "graphql-transport-ws";

/// `GET /graphql/v2` with an upgrade.
pub(crate) async fn upgrade(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let caller = resolve::authenticate(&headers, &shared);
    let ws = ws.protocols([PROTOCOL]);
    let offered = ws.selected_protocol().is_some();
    ws.on_upgrade(move |socket| connection(socket, shared, caller, offered))
}

/// A `next` frame carrying `lines` for a subscription, shaped to its selection.
pub(crate) fn next_frame<'a>(
    sub: &Subscription,
    lines: impl Iterator<Item = &'a StoredLine>,
    tags: &Tags,
) -> String {
    let logs = Json::Array(lines.map(|l| logs::log_json(l, tags)).collect());
    let data = json!({ sub.field.key.clone(): schema::schema().complete(&logs, &sub.field.ty, &sub.field.children) });
    json!({ "id": sub.id, "type": "next", "payload": { "data": data } }).to_string()
}

/// Why a connection is being closed: code and reason.
type Close = (u16, String);

struct Connection {
    shared: Arc<Shared>,
    id: u64,
    caller: Caller,
    tx: mpsc::UnboundedSender<String>,
    init_received: bool,
    acked: bool,
}

async fn connection(mut socket: WebSocket, shared: Arc<Shared>, caller: Caller, offered: bool) {
    shared.ws_connections.fetch_add(1, Ordering::SeqCst);
    if !offered {
        close(&mut socket, (4406, "Subprotocol not acceptable".into())).await;
        return;
    }
    let cancel = shared.shutdown.child_token();
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let (id, init_timeout) = {
        let mut st = shared.lock();
        let id = st.next_connection;
        st.next_connection += 1;
        st.connections.insert(id, cancel.clone());
        (id, st.ws_init_timeout)
    };
    let mut conn = Connection {
        shared: shared.clone(),
        id,
        caller,
        tx,
        init_received: false,
        acked: false,
    };
    let init_deadline = tokio::time::sleep(init_timeout);
    tokio::pin!(init_deadline);
    let outcome: Option<Close> = loop {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => break None,
            Some(frame) = rx.recv() => {
                if socket.send(Message::Text(frame.into())).await.is_err() {
                    break None;
                }
            }
            _ = &mut init_deadline, if !conn.init_received => {
                break Some((4408, "Connection initialisation timeout".into()));
            }
            msg = socket.recv() => match msg {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break None,
                Some(Ok(Message::Text(text))) => {
                    if let Err(c) = conn.handle(text.as_str()) {
                        break Some(c);
                    }
                }
                Some(Ok(Message::Binary(_))) => break Some((4400, "Invalid message received".into())),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            },
        }
    };
    {
        let mut st = shared.lock();
        st.subscriptions.retain(|s| s.connection != id);
        st.connections.remove(&id);
    }
    match outcome {
        // Frames queued before the close (an ack, a reply) still go out first.
        Some(c) => {
            while let Ok(frame) = rx.try_recv() {
                if socket.send(Message::Text(frame.into())).await.is_err() {
                    return;
                }
            }
            close(&mut socket, c).await;
        }
        // Cut (drop_subscriptions, shutdown) or gone: drop the socket without a close frame.
        None => drop(socket),
    }
}

async fn close(socket: &mut WebSocket, (code, reason): Close) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = socket.send(Message::Close(Some(frame))).await;
}

fn invalid(why: &str) -> Close {
    (4400, why.to_string())
}

impl Connection {
    fn send(&self, frame: Json) {
        let _ = self.tx.send(frame.to_string());
    }

    /// One client frame; `Err` closes the connection.
    fn handle(&mut self, text: &str) -> Result<(), Close> {
        let Ok(Json::Object(msg)) = serde_json::from_str::<Json>(text) else {
            return Err(invalid("Invalid message received"));
        };
        let payload_ok = |m: &Map<String, Json>| {
            matches!(m.get("payload"), None | Some(Json::Null | Json::Object(_)))
        };
        let id = || match msg.get("id") {
            Some(Json::String(id)) if !id.is_empty() => Ok(id.clone()),
            _ => Err(invalid("Invalid message received")),
        };
        match msg.get("type").and_then(Json::as_str) {
            Some("connection_init") => {
                if !payload_ok(&msg) {
                    return Err(invalid("Invalid message received"));
                }
                if self.init_received {
                    return Err((4429, "Too many initialisation requests".into()));
                }
                self.init_received = true;
                if let Caller::Rejected(_) = self.caller {
                    return Err((4401, "Unauthorized".into()));
                }
                self.acked = true;
                self.send(json!({ "type": "connection_ack" }));
                Ok(())
            }
            Some("ping") => {
                if !payload_ok(&msg) {
                    return Err(invalid("Invalid message received"));
                }
                match msg.get("payload") {
                    Some(p @ Json::Object(_)) => self.send(json!({ "type": "pong", "payload": p })),
                    _ => self.send(json!({ "type": "pong" })),
                }
                Ok(())
            }
            Some("pong") => {
                if payload_ok(&msg) {
                    Ok(())
                } else {
                    Err(invalid("Invalid message received"))
                }
            }
            Some("subscribe") => {
                let id = id()?;
                let Some(Json::Object(payload)) = msg.get("payload") else {
                    return Err(invalid("Invalid message received"));
                };
                self.subscribe(id, payload)
            }
            Some("complete") => {
                let id = id()?;
                let mut st = self.shared.lock();
                st.subscriptions
                    .retain(|s| !(s.connection == self.id && s.id == id));
                Ok(())
            }
            Some(other) => Err(invalid(&format!(
                "Unexpected message of type {other} received"
            ))),
            None => Err(invalid("Invalid message received")),
        }
    }

    fn subscribe(&mut self, id: String, payload: &Map<String, Json>) -> Result<(), Close> {
        let query = match payload.get("query") {
            Some(Json::String(q)) => q.as_str(),
            _ => return Err(invalid("Invalid message received")),
        };
        let variables = match payload.get("variables") {
            None | Some(Json::Null) => Map::new(),
            Some(Json::Object(v)) => v.clone(),
            Some(_) => return Err(invalid("Invalid message received")),
        };
        let operation_name = match payload.get("operationName") {
            None | Some(Json::Null) => None,
            Some(Json::String(s)) => Some(s.as_str()),
            Some(_) => return Err(invalid("Invalid message received")),
        };
        if !self.acked {
            return Err((4401, "Unauthorized".into()));
        }
        let shared = self.shared.clone();
        let mut st = shared.lock();
        if st
            .subscriptions
            .iter()
            .any(|s| s.connection == self.id && s.id == id)
        {
            return Err((4409, format!("Subscriber for {id} already exists")));
        }
        let error_frame = |errors: &[RequestError]| json!({ "id": id, "type": "error", "payload": errors.iter().map(RequestError::to_json).collect::<Vec<_>>() });
        let prepared = match schema::prepare(query, operation_name, &variables) {
            Ok(p) => p,
            Err(errors) => {
                self.send(error_frame(&errors));
                return Ok(());
            }
        };
        if let Err(errors) = resolve::check_arguments(&shared, &prepared.fields) {
            self.send(error_frame(&errors));
            return Ok(());
        }
        let complete = json!({ "id": id, "type": "complete" });
        if prepared.kind != OperationKind::Subscription {
            let result = resolve::execute(&shared, &mut st, self.caller, &prepared.fields);
            let _ = self.tx.send(format!(
                r#"{{"id":{},"type":"next","payload":{result}}}"#,
                Json::String(id.clone())
            ));
            self.send(complete);
            return Ok(());
        }
        // Validation guarantees exactly one root field, and `deploymentLogs` is the only one.
        let Some(field) = prepared.fields.into_iter().next() else {
            return Ok(());
        };
        let args = match self.caller {
            Caller::Rejected(m) => Err(resolve::FieldError {
                message: m.to_string(),
                auth: true,
            }),
            _ => resolve::deployment_logs_args(&shared, &st, &field),
        };
        let (deployment_id, filter, limit) = match args {
            Ok(a) => a,
            Err(e) => {
                let error = resolve::error_json(&mut st, &e.message, Some(&field), e.auth);
                self.send(json!({ "id": id, "type": "next", "payload": { "errors": [error], "data": null } }));
                self.send(complete);
                return Ok(());
            }
        };
        let tags = resolve::tags_of(&shared, &st, &deployment_id);
        let sub = Subscription {
            connection: self.id,
            id,
            deployment_id,
            filter,
            field,
            tx: self.tx.clone(),
        };
        let stored = st
            .logs
            .get(&sub.deployment_id)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let matching: Vec<&StoredLine> = stored
            .iter()
            .filter(|l| sub.filter.matches(&l.line, &tags))
            .collect();
        let replay = &matching[matching.len().saturating_sub(limit)..];
        // Under the lock: no line pushed meanwhile can be missed or sent twice.
        let _ = self
            .tx
            .send(next_frame(&sub, replay.iter().copied(), &tags));
        st.subscriptions.push(sub);
        Ok(())
    }
}
