//! The HTTP side: the server (on a listener whose connections a handler can reset), `POST
//! /graphql/v2` with scripted failures, rate limiting, request parsing and execution.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Bytes;
use axum::extract::connect_info::{ConnectInfo, Connected};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::serve::{IncomingStream, Listener};
use axum::Router;
use chrono::Utc;
use serde_json::{json, Map, Value as Json};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use super::graphql::OperationKind;
use super::resolve::{self, Caller};
use super::schema::{self, RequestError};
use super::{ws, Failure, Shared};

/// Serves the fake on `listener` until the shared shutdown token fires.
pub(crate) fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let shutdown = shared.shutdown.clone();
    let app = Router::new()
        .route("/graphql/v2", post(graphql).get(ws::upgrade))
        .with_state(shared)
        .into_make_service_with_connect_info::<Killer>();
    tokio::spawn(async move {
        let server = axum::serve(ResettableListener(listener), app)
            .with_graceful_shutdown(shutdown.cancelled_owned());
        if let Err(e) = server.await {
            tracing::warn!("fake Railway server stopped: {e}");
        }
    });
}

/// A TCP listener whose connections a handler can reset ([`Killer`]).
struct ResettableListener(TcpListener);

impl Listener for ResettableListener {
    type Io = ResettableStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    return (
                        ResettableStream {
                            stream,
                            killed: Arc::new(AtomicBool::new(false)),
                        },
                        addr,
                    );
                }
                Err(e) => {
                    tracing::debug!("fake Railway accept: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// A TCP stream that fails every read and write once killed, so hyper drops it (with a reset:
/// zero linger) instead of answering.
struct ResettableStream {
    stream: TcpStream,
    killed: Arc<AtomicBool>,
}

impl ResettableStream {
    fn check(&self) -> io::Result<()> {
        if self.killed.load(Ordering::SeqCst) {
            let _ = self.stream.set_zero_linger();
            Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "reset by the fake (Failure::Reset)",
            ))
        } else {
            Ok(())
        }
    }
}

impl AsyncRead for ResettableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.check()?;
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for ResettableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.check()?;
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.check()?;
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.check()?;
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// The kill switch of the connection a request came on.
#[derive(Clone)]
pub(crate) struct Killer(Arc<AtomicBool>);

impl Connected<IncomingStream<'_, ResettableListener>> for Killer {
    fn connect_info(stream: IncomingStream<'_, ResettableListener>) -> Self {
        Killer(stream.io().killed.clone())
    }
}

/// Cloudflare's "Access denied" (error 1020) page, as the edge in front of Railway serves it.
const CLOUDFLARE_ACCESS_DENIED: &str = r#"<!DOCTYPE html>
<!--[if lt IE 7]> <html class="no-js ie6 oldie" lang="en-US"> <![endif]-->
<!--[if gt IE 8]><!--> <html class="no-js" lang="en-US"> <!--<![endif]-->
<head>
<title>Access denied | backboard.railway.com used Cloudflare to restrict access</title>
<meta charset="UTF-8" />
<meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
<meta http-equiv="X-UA-Compatible" content="IE=Edge" />
<meta name="robots" content="noindex, nofollow" />
<meta name="viewport" content="width=device-width,initial-scale=1" />
</head>
<body>
  <div id="cf-wrapper">
    <div id="cf-error-details" class="p-0">
      <header class="mx-auto pt-10 lg:pt-6 lg:px-8 w-240 lg:w-full mb-15 antialiased">
        <h1 class="inline-block md:block mr-2 md:mb-2 font-light text-60 md:text-3xl text-black-dark leading-tight">
          <span data-translate="error">Error</span>
          <span>1020</span>
        </h1>
        <span class="inline-block md:block heading-ray-id font-mono text-15 lg:text-sm lg:leading-relaxed">Ray ID: 8e5c2f1a9b3d4e7f &bull;</span>
        <h2 class="text-gray-600 leading-1.3 text-3xl lg:text-2xl font-light">Access denied</h2>
      </header>
      <section class="w-240 lg:w-full mx-auto mb-8 lg:px-8">
        <div id="what-happened-section" class="w-1/2 md:w-full">
          <h2 class="text-3xl leading-tight font-normal mb-4 text-black-dark antialiased" data-translate="what_happened">What happened?</h2>
          <p>This website is using a security service to protect itself from online attacks.</p>
        </div>
      </section>
    </div>
  </div>
</body>
</html>
"#;

fn json_response(status: StatusCode, body: &Json) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

fn bad_request(errors: &[RequestError]) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        &json!({ "errors": errors.iter().map(RequestError::to_json).collect::<Vec<_>>() }),
    )
}

fn bad_http_request(message: &str) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        &json!({ "errors": [{ "message": message, "extensions": { "code": "BAD_REQUEST" } }] }),
    )
}

/// Rate-limit verdict for one request: headers to add, or a 429.
enum RateVerdict {
    Unlimited,
    Allowed {
        limit: u32,
        remaining: u32,
        reset: i64,
    },
    Exhausted {
        limit: u32,
        reset: i64,
        retry_after: i64,
    },
}

fn take_rate(shared: &Shared) -> RateVerdict {
    let Some(limit) = shared.options.rate_limit_per_hour else {
        return RateVerdict::Unlimited;
    };
    let mut st = shared.lock();
    let now = Utc::now();
    if now >= st.rate.started + chrono::Duration::hours(1) {
        st.rate.started = now;
        st.rate.used = 0;
    }
    let reset_at = st.rate.started + chrono::Duration::hours(1);
    let reset = reset_at.timestamp();
    if st.rate.used >= limit {
        let retry_after = ((reset_at - now).num_milliseconds() + 999) / 1000;
        return RateVerdict::Exhausted {
            limit,
            reset,
            retry_after: retry_after.max(1),
        };
    }
    st.rate.used += 1;
    RateVerdict::Allowed {
        limit,
        remaining: limit - st.rate.used,
        reset,
    }
}

fn with_rate_headers(mut response: Response, verdict: &RateVerdict) -> Response {
    let h = response.headers_mut();
    let mut set = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    };
    match verdict {
        RateVerdict::Unlimited => {}
        RateVerdict::Allowed {
            limit,
            remaining,
            reset,
        } => {
            set("x-ratelimit-limit", limit.to_string());
            set("x-ratelimit-remaining", remaining.to_string());
            set("x-ratelimit-reset", reset.to_string());
        }
        RateVerdict::Exhausted {
            limit,
            reset,
            retry_after,
        } => {
            set("x-ratelimit-limit", limit.to_string());
            set("x-ratelimit-remaining", "0".into());
            set("x-ratelimit-reset", reset.to_string());
            set("retry-after", retry_after.to_string());
        }
    }
    response
}

fn rate_limited(retry_after: u64) -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        [
            (header::CONTENT_TYPE, "application/json; charset=utf-8"),
            (header::RETRY_AFTER, &retry_after.to_string()),
        ],
        r#"{"data":null}"#,
    )
        .into_response()
}

/// `POST /graphql/v2`.
async fn graphql(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(killer): ConnectInfo<Killer>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    shared.http_requests.fetch_add(1, Ordering::SeqCst);
    let failure = shared.lock().failures.pop_front();
    match failure {
        None => {}
        Some(Failure::Slow(d)) => tokio::time::sleep(d).await,
        Some(Failure::Status(code)) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let reason = status.canonical_reason().unwrap_or("Error");
            return (
                status,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                reason,
            )
                .into_response();
        }
        Some(Failure::RateLimited { retry_after_secs }) => {
            let mut r = rate_limited(retry_after_secs);
            if let Some(limit) = shared.options.rate_limit_per_hour {
                r.headers_mut()
                    .insert("x-ratelimit-limit", HeaderValue::from(limit));
                r.headers_mut()
                    .insert("x-ratelimit-remaining", HeaderValue::from(0));
            }
            return r;
        }
        Some(Failure::Html) => {
            return (
                StatusCode::FORBIDDEN,
                [
                    (header::CONTENT_TYPE, "text/html; charset=UTF-8"),
                    (header::SERVER, "cloudflare"),
                ],
                CLOUDFLARE_ACCESS_DENIED,
            )
                .into_response();
        }
        Some(Failure::GraphqlErrors(message)) => {
            let error = resolve::error_json(&mut shared.lock(), &message, None, false);
            return json_response(StatusCode::OK, &json!({ "errors": [error], "data": null }));
        }
        Some(Failure::Reset) => {
            killer.0.store(true, Ordering::SeqCst);
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    }
    let verdict = take_rate(&shared);
    if let RateVerdict::Exhausted { retry_after, .. } = verdict {
        return with_rate_headers(rate_limited(retry_after.max(1) as u64), &verdict);
    }
    with_rate_headers(answer(&shared, &headers, &body), &verdict)
}

/// Parses and runs one GraphQL request.
fn answer(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Response {
    let request: Json = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return bad_http_request(&format!("POST body sent invalid JSON: {e}")),
    };
    let Json::Object(request) = request else {
        return bad_http_request(if request.is_array() {
            "Operation batching disabled."
        } else {
            "POST body must be a JSON object"
        });
    };
    let Some(query) = request
        .get("query")
        .and_then(Json::as_str)
        .filter(|q| !q.trim().is_empty())
    else {
        return bad_http_request(
            "GraphQL operations must contain a non-empty `query` or a `persistedQuery` extension.",
        );
    };
    let variables = match request.get("variables") {
        None | Some(Json::Null) => Map::new(),
        Some(Json::Object(v)) => v.clone(),
        Some(_) => {
            return bad_http_request("`variables` in a POST body should be provided as an object.")
        }
    };
    let operation_name = match request.get("operationName") {
        None | Some(Json::Null) => None,
        Some(Json::String(s)) => Some(s.as_str()),
        Some(_) => {
            return bad_http_request("`operationName` in a POST body must be a string if provided.")
        }
    };
    let prepared = match schema::prepare(query, operation_name, &variables) {
        Ok(p) => p,
        Err(errors) => return bad_request(&errors),
    };
    if prepared.kind == OperationKind::Subscription {
        return bad_http_request(
            "Subscriptions are only served over WebSocket (graphql-transport-ws).",
        );
    }
    if let Err(errors) = resolve::check_arguments(shared, &prepared.fields) {
        return bad_request(&errors);
    }
    let caller: Caller = resolve::authenticate(headers, shared);
    let body = resolve::execute(shared, &mut shared.lock(), caller, &prepared.fields);
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body,
    )
        .into_response()
}
