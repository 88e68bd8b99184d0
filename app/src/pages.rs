//! The pages of the UI.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use signalbox::model::{GroupStatus, Level, Severity};

use crate::api;

/// Times as the server renders them: UTC, to the second.
pub(crate) fn when(t: DateTime<Utc>) -> String {
    crate::time::utc(t)
}

pub(crate) fn level_badge(level: Level) -> impl IntoView {
    view! { <span class=format!("badge level-{level}")>{level.as_str()}</span> }
}

pub(crate) fn severity_badge(severity: Severity) -> impl IntoView {
    view! {
        <span class=format!("badge severity-{}", severity.as_str().to_lowercase())>
            {severity.as_str()}
        </span>
    }
}

pub(crate) fn status_badge(status: GroupStatus) -> impl IntoView {
    view! { <span class=format!("badge status-{}", status.as_str())>{status.as_str()}</span> }
}

/// `/grouping`: the custom grouping rules in force.
#[component]
pub fn Grouping() -> impl IntoView {
    let rules = Resource::new(|| (), |_| api::grouping_rules());
    view! {
        <h1>"Grouping rules"</h1>
        <p class="muted">
            "Errors are grouped by exception type and in-app stack frames, else by their normalized message. "
            "These rules (from " <code>"GROUPING_RULES"</code> ") override that; the first match wins."
        </p>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match rules.await {
                    Ok(list) if list.is_empty() => view! {
                        <p class="empty">"No custom rules. Example: "
                            <code>{r#"GROUPING_RULES='[{"name":"db down","message":"could not connect","fingerprint":"database-unreachable"}]'"#}</code>
                        </p>
                    }.into_any(),
                    Ok(list) => view! { <RuleTable rules=list /> }.into_any(),
                    Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn RuleTable(rules: Vec<signalbox::model::RuleView>) -> impl IntoView {
    use signalbox::model::RuleAction;
    view! {
        <table class="rules">
            <thead>
                <tr><th>"Rule"</th><th>"Matches"</th><th>"Action"</th></tr>
            </thead>
            <tbody>
                {rules
                    .into_iter()
                    .map(|r| {
                        let matches = r
                            .matches
                            .iter()
                            .map(|(field, pattern)| format!("{field} ~ /{pattern}/"))
                            .collect::<Vec<_>>()
                            .join(", ");
                        let action = match r.action {
                            RuleAction::Fingerprint(key) => format!("merge into one group “{key}”"),
                            RuleAction::SplitBy(field) => format!("split by {field:?}").to_lowercase(),
                        };
                        view! {
                            <tr class="rule">
                                <td>{r.name}</td>
                                <td class="template">{matches}</td>
                                <td>{action}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}

/// Any other path.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(http::StatusCode::NOT_FOUND);
        }
    }
    view! {
        <h1>"Not found"</h1>
        <p><a href="/">"Back to System Health"</a></p>
    }
}
