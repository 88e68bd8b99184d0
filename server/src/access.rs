//! Who may read. With `SIGNALBOX_ADMIN_TOKEN` set and `SIGNALBOX_PUBLIC_READ=false`, pages
//! and read endpoints need the UI session (`/login`) or the token; ingest (project keys),
//! health checks, metrics, the login itself and static files stay open.

use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use crate::api::error::ApiError;
use crate::startup::AppState;

/// What a closed instance does with a request from someone not logged in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Always open.
    Open,
    /// A page: redirect to `/login`.
    Page,
    /// An API call or server function: 401.
    Api,
}

/// The gate of a request, by method and path.
pub fn gate(method: &Method, path: &str) -> Gate {
    let ingest = path == "/api/ingest"
        || path == "/v1/logs"
        || path.strip_prefix("/api/").is_some_and(|rest| {
            rest.split_once('/').is_some_and(|(project, tail)| {
                !project.is_empty()
                    && project.bytes().all(|b| b.is_ascii_digit())
                    && matches!(tail, "envelope/" | "store/" | "envelope" | "store")
            })
        });
    let open = ingest
        || path == "/login"
        || path == "/api/ui/login"
        || path == "/api/ui/logout"
        || path == "/api/ui/session"
        || path == "/health"
        || path.starts_with("/health/")
        || path == "/metrics"
        || path.starts_with("/pkg/")
        || path == "/favicon.svg"
        || path == "/echarts.min.js";
    if open {
        Gate::Open
    } else if path.starts_with("/api/")
        || path.starts_with("/error-monitor/")
        || method != Method::GET
    {
        Gate::Api
    } else {
        Gate::Page
    }
}

/// The middleware: lets the request through, or sends it to `/login` (pages) or answers 401.
pub async fn read_gate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let config = &state.config;
    if config.public_read || config.admin_token.is_none() {
        return next.run(request).await;
    }
    let headers = request.headers();
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let cookie = headers.get(header::COOKIE).and_then(|v| v.to_str().ok());
    if config.read_allowed(bearer, cookie, chrono::Utc::now()) {
        return next.run(request).await;
    }
    match gate(request.method(), request.uri().path()) {
        Gate::Open => next.run(request).await,
        Gate::Api => ApiError::Unauthorized.into_response(),
        Gate::Page => {
            let target = request
                .uri()
                .path_and_query()
                .map_or("/".to_string(), |p| p.as_str().to_string());
            let location = format!("/login?next={}", signalbox::model::percent_encode(&target));
            (StatusCode::SEE_OTHER, Redirect::to(&location)).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ingest_health_login_and_assets_stay_open() {
        for (method, path, want) in [
            (Method::GET, "/", Gate::Page),
            (Method::GET, "/errors/abc", Gate::Page),
            (Method::GET, "/sources", Gate::Page),
            (Method::GET, "/login", Gate::Open),
            (Method::POST, "/api/ui/login", Gate::Open),
            (Method::POST, "/api/ui/health", Gate::Api),
            (Method::GET, "/api/logs/errors", Gate::Api),
            (Method::GET, "/error-monitor/dashboard", Gate::Api),
            (Method::POST, "/api/ingest", Gate::Open),
            (Method::POST, "/v1/logs", Gate::Open),
            (Method::POST, "/api/12/envelope/", Gate::Open),
            (Method::POST, "/api/12/store/", Gate::Open),
            (Method::POST, "/api/x/store/", Gate::Api),
            (Method::GET, "/health/readiness", Gate::Open),
            (Method::GET, "/metrics", Gate::Open),
            (Method::GET, "/pkg/signalbox.wasm", Gate::Open),
            (Method::GET, "/echarts.min.js", Gate::Open),
        ] {
            assert_eq!(gate(&method, path), want, "{method} {path}");
        }
    }
}
