//! The latest deploys on System Health: what each introduced and how its checks went.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// One deploy as the card shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeployLine {
    pub id: String,
    /// Its report: `/api/deploys/{id}?service={service}`.
    pub href: String,
    /// `deploy abc1234 of web introduced 3 new groups; 4 of 5 checks passed`.
    pub summary: String,
    /// New groups or failed checks.
    pub bad: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// The five latest deploys of the watched services (listed by the platform or seen in logs).
#[server(prefix = "/api/ui", endpoint = "deploys")]
pub async fn recent_deploys() -> Result<Vec<DeployLine>, ServerFnError> {
    let store = use_context::<signalbox::store::Store>()
        .ok_or_else(|| ServerFnError::new("the store is not available"))?;
    let deploys = store.deploys(5).await.map_err(|e| {
        leptos::logging::error!("store error in a server function: {e}");
        ServerFnError::new("the database did not answer; try again shortly")
    })?;
    Ok(deploys
        .into_iter()
        .map(|d| DeployLine {
            summary: signalbox::deploys::compare::summary(&d),
            bad: d.new_groups > 0 || d.checks_failed > 0,
            href: d.report_path(),
            id: d.id,
            created_at: d.created_at,
        })
        .collect())
}

/// The card: nothing when no deploy was seen.
#[component]
pub fn DeploysCard() -> impl IntoView {
    let deploys = Resource::new(|| (), |_| recent_deploys());
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let lines = deploys.await.unwrap_or_default();
                if lines.is_empty() {
                    return ().into_any();
                }
                view! {
                    <h2>"Deploys"</h2>
                    <ul class="deploys" data-testid="deploys">
                        {lines
                            .into_iter()
                            .map(|l| {
                                let class = if l.bad { "deploy bad" } else { "deploy" };
                                view! {
                                    <li class=class>
                                        <a href=l.href>{l.summary}</a>
                                        " "
                                        <span class="muted">{crate::pages::when(l.created_at)}</span>
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ul>
                }
                    .into_any()
            })}
        </Suspense>
    }
}
