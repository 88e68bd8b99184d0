//! The JSON API and its OpenAPI document.

pub mod deploys;
pub mod error;
pub mod fixes;
pub mod grouping;
pub mod ingest;
pub mod logs;
pub mod monitor;
pub mod notifications;
pub mod probes;
pub mod projects;
pub mod rules;
pub mod tasks;

use axum::http::{header, HeaderMap};
use axum::{Json, Router};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::health;
use crate::startup::AppState;
use error::ApiError;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Signalbox API",
        description = "Error groups, occurrences and statistics of the applications Signalbox watches."
    ),
    modifiers(&AdminToken),
    tags((name = "logs", description = "Error groups and log statistics"), (name = "health", description = "Liveness, readiness and status"), (name = "error-monitor", description = "The seed's autonomous-monitor endpoints"), (name = "projects", description = "Projects that push events"), (name = "rules", description = "Alert rules and the alerts they fired"), (name = "notifications", description = "The notification outbox: Slack, webhook and fix-generator deliveries"), (name = "tasks", description = "Governance tasks: one open task per error group"), (name = "fixes", description = "The fix generator: Claude root-cause analysis, validated patches, draft pull requests"), (name = "probes", description = "Uptime probes: status, latency, TLS certificate and DNS of URLs"), (name = "deploys", description = "Deployments of the watched services: their checks and the error groups they introduced"))
)]
struct ApiDoc;

struct AdminToken;

impl Modify for AdminToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The API routes (and health routes) with the OpenAPI document that describes exactly them.
pub fn router() -> Router<AppState> {
    let (router, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(logs::list_errors))
        .routes(routes!(logs::get_error))
        .routes(routes!(logs::list_occurrences))
        .routes(routes!(logs::set_error_status))
        .routes(routes!(logs::error_history))
        .routes(routes!(tasks::list_tasks, tasks::create_task))
        .routes(routes!(tasks::get_task, tasks::update_task))
        .routes(routes!(logs::stats))
        .routes(routes!(logs::crawl))
        .routes(routes!(grouping::list_rules))
        .routes(routes!(notifications::list_notifications))
        .routes(routes!(projects::list_projects, projects::create_project))
        .routes(routes!(rules::list_rules, rules::create_rule))
        .routes(routes!(
            rules::get_rule,
            rules::update_rule,
            rules::delete_rule
        ))
        .routes(routes!(rules::list_alerts))
        .routes(routes!(probes::list_probes, probes::create_probe))
        .routes(routes!(
            probes::get_probe,
            probes::update_probe,
            probes::delete_probe
        ))
        .routes(routes!(probes::list_results))
        .routes(routes!(probes::run_probe))
        .routes(routes!(deploys::list_deploys))
        .routes(routes!(deploys::get_deploy))
        .routes(routes!(monitor::status))
        .routes(routes!(monitor::health))
        .routes(routes!(monitor::recent))
        .routes(routes!(monitor::critical))
        .routes(routes!(monitor::fixable))
        .routes(routes!(monitor::patterns))
        .routes(routes!(monitor::dashboard))
        .routes(routes!(monitor::scan))
        .routes(routes!(monitor::start))
        .routes(routes!(monitor::stop))
        .routes(routes!(fixes::generate_for_error))
        .routes(routes!(fixes::generate_batch))
        .routes(routes!(fixes::list_fixes))
        .routes(routes!(fixes::get_fix))
        .routes(routes!(health::liveness))
        .routes(routes!(health::readiness))
        .routes(routes!(health::detailed))
        .split_for_parts();
    router.route(
        "/api/openapi.json",
        axum::routing::get(move || async move { Json(openapi) }),
    )
}

/// Who makes a change, for the history: `admin` when a bearer token was sent (and
/// [`require_admin`] accepted it), `anonymous` otherwise (no admin token is configured).
pub fn actor(headers: &HeaderMap) -> &'static str {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    if token.is_some() {
        "admin"
    } else {
        "anonymous"
    }
}

/// Checks the admin token when one is configured.
pub fn require_admin(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    if state.config.admin_allows(token) {
        Ok(())
    } else {
        Err(ApiError::Unauthorized)
    }
}
