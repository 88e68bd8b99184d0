//! Server functions: the UI's calls into the engine. They run on the server with the store
//! provided as context; in the browser they become HTTP calls.

use leptos::prelude::*;
use signalbox::model::{Group, Occurrence, Page, RuleView, Stats};

/// The most occurrences one page of the group view shows.
pub const OCCURRENCES_PER_PAGE: u32 = 50;

#[cfg(feature = "ssr")]
fn store() -> Result<signalbox::store::Store, ServerFnError> {
    use_context::<signalbox::store::Store>()
        .ok_or_else(|| ServerFnError::new("the store is not available"))
}

#[cfg(feature = "ssr")]
fn failed(e: signalbox::store::StoreError) -> ServerFnError {
    leptos::logging::error!("store error in a server function: {e}");
    ServerFnError::new("the database did not answer; try again shortly")
}

/// The groups with most occurrences.
#[server]
pub async fn top_groups(limit: u32) -> Result<Vec<Group>, ServerFnError> {
    use signalbox::store::GroupQuery;
    let query = GroupQuery {
        limit: limit.clamp(1, 100),
        ..GroupQuery::default()
    };
    Ok(store()?.list_groups(&query).await.map_err(failed)?.items)
}

/// Totals of the last 24 hours.
#[server]
pub async fn stats_24h() -> Result<Stats, ServerFnError> {
    store()?
        .stats(chrono::Utc::now(), chrono::Duration::hours(24))
        .await
        .map_err(failed)
}

/// One group, or `None` when the fingerprint is unknown.
#[server]
pub async fn error_group(fingerprint: String) -> Result<Option<Group>, ServerFnError> {
    store()?.group(&fingerprint).await.map_err(failed)
}

/// A page of a group's occurrences, newest first.
#[server]
pub async fn occurrences(
    fingerprint: String,
    cursor: Option<String>,
) -> Result<Page<Occurrence>, ServerFnError> {
    store()?
        .occurrences(&fingerprint, cursor.as_deref(), OCCURRENCES_PER_PAGE)
        .await
        .map_err(|e| match e {
            signalbox::store::StoreError::InvalidCursor => ServerFnError::new("invalid cursor"),
            other => failed(other),
        })
}

/// The custom grouping rules in force, provided by the server as context.
#[cfg(feature = "ssr")]
#[derive(Clone, Debug, Default)]
pub struct RulesInForce(pub Vec<RuleView>);

/// The custom grouping rules (`GROUPING_RULES`), first match wins.
#[server]
pub async fn grouping_rules() -> Result<Vec<RuleView>, ServerFnError> {
    Ok(use_context::<RulesInForce>().unwrap_or_default().0)
}
