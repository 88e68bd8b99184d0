//! `/api/grouping-rules`: the custom grouping rules in force.

use axum::extract::State;
use axum::Json;
use signalbox::pipeline::rules::RuleView;

use crate::startup::AppState;

/// The custom grouping rules from `GROUPING_RULES`, in the order they are tried.
#[utoipa::path(
    get,
    path = "/api/grouping-rules",
    tag = "logs",
    responses((status = 200, description = "The rules, first match wins", body = Vec<RuleView>))
)]
pub async fn list_rules(State(state): State<AppState>) -> Json<Vec<RuleView>> {
    Json(state.config.grouping_rule_views())
}
