//! The fix generator in the UI: the group page's Generate Fix panel (progress, then the root
//! cause, the diff and the pull request, or why it was refused) and the Fixes page (`/fixes`).
//!
//! Generate Fix is an `ActionForm` like Create Task: without JavaScript a plain post that
//! redirects back with `?fix=ID`, and the page refreshes itself while the fix is in flight.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};
use signalbox::model::{Fix, FixState};

use crate::api::refusal;
use crate::pages::when;

/// What the group page's fix panel shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupFixData {
    /// The group's latest fix.
    pub fix: Option<Fix>,
    /// Why the fix generator is off (the button is disabled and says so).
    pub off_reason: Option<String>,
    /// Why fixes are kept here instead of pushed.
    pub dry_run_reason: Option<String>,
}

/// What the Fixes page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FixesPageData {
    pub fixes: Vec<Fix>,
    pub off_reason: Option<String>,
    pub dry_run_reason: Option<String>,
}

/// How many fixes the Fixes page lists.
#[cfg(feature = "ssr")]
const FIXES_LISTED: u32 = 100;

#[cfg(feature = "ssr")]
fn fixer_state() -> Result<(Option<String>, Option<String>), ServerFnError> {
    let config = crate::api::config()?;
    Ok((
        signalbox::fixer::off_reason(&config),
        signalbox::fixer::dry_run_reason(&config),
    ))
}

/// The group's latest fix and whether the generator is on.
#[server(prefix = "/api/ui", endpoint = "groups/fix")]
pub async fn group_fix(fingerprint: String) -> Result<GroupFixData, ServerFnError> {
    use signalbox::store::FixQuery;
    let (off_reason, dry_run_reason) = fixer_state()?;
    let page = crate::api::store()?
        .fixes(&FixQuery {
            fingerprint: Some(fingerprint),
            limit: 1,
            ..FixQuery::default()
        })
        .await
        .map_err(crate::api::failed)?;
    Ok(GroupFixData {
        fix: page.items.into_iter().next(),
        off_reason,
        dry_run_reason,
    })
}

/// Queues a fix for the group (the same path as `POST /error-monitor/fixes/generate-for-error`),
/// or returns the one in flight.
#[server(prefix = "/api/ui", endpoint = "fixes/generate")]
pub async fn generate_fix(fingerprint: String) -> Result<Fix, ServerFnError> {
    use crate::api::{authorize, back_to, config, plain_form, store, Back, Refused};
    let fingerprint = fingerprint.trim().to_string();
    let page = Back::new(
        signalbox::model::group_path(&fingerprint),
        Some("fix".into()),
    );
    authorize().map_err(|r| r.answer(&page))?;
    let config = config()?;
    if signalbox::fixer::off_reason(&config).is_some() {
        return Err(Refused::new(refusal::FIXER_OFF, http::StatusCode::CONFLICT).answer(&page));
    }
    let fix = match signalbox::fixer::request_fix(
        &store()?,
        &config,
        &fingerprint,
        "manual",
        true,
        chrono::Utc::now(),
    )
    .await
    {
        Ok(Some((fix, _))) => fix,
        Ok(None) => return Err(Refused::not_found().answer(&page)),
        Err(e) => return Err(Refused::store(e).answer(&page)),
    };
    if plain_form() {
        // A page without JavaScript shows the outcome at once when the fix is quick.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let store = store()?;
        while std::time::Instant::now() < deadline {
            match store.fix(fix.id).await {
                Ok(Some(f)) if f.state.in_flight() => {
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await
                }
                _ => break,
            }
        }
        back_to(&page.with("fix", fix.id.to_string()));
    }
    Ok(fix)
}

/// The latest fixes and whether the generator is on.
#[server(prefix = "/api/ui", endpoint = "fixes")]
pub async fn fixes_overview() -> Result<FixesPageData, ServerFnError> {
    use signalbox::store::FixQuery;
    let (off_reason, dry_run_reason) = fixer_state()?;
    let page = crate::api::store()?
        .fixes(&FixQuery {
            limit: FIXES_LISTED,
            ..FixQuery::default()
        })
        .await
        .map_err(crate::api::failed)?;
    Ok(FixesPageData {
        fixes: page.items,
        off_reason,
        dry_run_reason,
    })
}

fn error_text(e: &ServerFnError) -> String {
    match e {
        ServerFnError::ServerError(message) => message.clone(),
        other => other.to_string(),
    }
}

/// A fix's state in words.
pub fn state_label(state: FixState) -> &'static str {
    match state {
        FixState::Queued => "queued",
        FixState::Running => "generating…",
        FixState::Proposed => "proposed (dry run)",
        FixState::PrOpen => "draft PR open",
        FixState::Merged => "fix merged",
        FixState::Closed => "PR closed",
        FixState::Refused => "refused",
        FixState::Failed => "failed",
    }
}

/// The pull request link of a fix, if it has one.
fn pr_link(fix: &Fix) -> Option<impl IntoView> {
    let url = fix.pr_url.clone()?;
    let number = fix.pr_number.unwrap_or_default();
    let state = fix.pr_state.map(|s| s.as_str()).unwrap_or("open");
    Some(view! {
        <a href=url data-testid="fix-pr-link" rel="noopener noreferrer">
            {format!("PR #{number}")}
        </a>
        <span class="muted">{format!(" ({state})")}</span>
    })
}

/// What a fix came to: state, root cause, diff, pull request or the reason it was refused.
#[component]
fn FixDetail(fix: Fix) -> impl IntoView {
    let in_flight = fix.state.in_flight();
    view! {
        <div class="fix" data-testid="fix-detail" data-state=fix.state.as_str()>
            <p>
                <span class=format!("badge fix-{}", fix.state.as_str())>
                    {state_label(fix.state)}
                </span>
                {format!(" fix #{}, {}", fix.id, when(fix.updated_at))}
                {(fix.input_tokens + fix.output_tokens > 0)
                    .then(|| {
                        format!(
                            ", {} input + {} output tokens",
                            fix.input_tokens,
                            fix.output_tokens,
                        )
                    })}
            </p>
            {in_flight
                .then(|| {
                    view! {
                        <p class="muted" role="status">
                            "Working: reading the source, asking Claude, checking the patch. This panel updates by itself."
                        </p>
                        // Without JavaScript the page reloads itself until the fix is done
                        // (as inner HTML: hydration leaves it alone).
                        <div inner_html=r#"<noscript><meta http-equiv="refresh" content="3"></noscript>"#></div>
                        <a href="#fix" class="muted">"Refresh"</a>
                    }
                })}
            {fix
                .reason
                .clone()
                .map(|r| {
                    let class = if in_flight { "muted" } else { "error" };
                    view! {
                        <p class=class data-testid="fix-reason">
                            {r}
                        </p>
                    }
                })}
            {fix
                .root_cause
                .clone()
                .map(|r| {
                    view! {
                        <h3>"Root cause"</h3>
                        <p data-testid="fix-root-cause">{r}</p>
                    }
                })}
            {fix
                .confidence
                .clone()
                .map(|c| view! { <p class="muted">{format!("Confidence: {c}")}</p> })}
            {fix.dry_run_reason.clone().filter(|_| fix.state == FixState::Proposed).map(|r| {
                view! { <p class="note">{format!("Not pushed: {r}.")}</p> }
            })}
            {pr_link(&fix).map(|l| view! { <p>"Pull request: " {l}</p> })}
            {fix
                .diff
                .clone()
                .map(|d| {
                    view! {
                        <details open=true>
                            <summary>{format!("Diff ({})", fix.files.join(", "))}</summary>
                            <pre class="diff" data-testid="fix-diff">{d}</pre>
                        </details>
                    }
                })}
        </div>
    }
    .into_any()
}

/// Says when the fix generator is off, or when fixes are only kept here (dry run).
#[component]
fn FixerNotes(off: Option<String>, dry_run: Option<String>) -> impl IntoView {
    match (off, dry_run) {
        (Some(r), _) => view! {
            <p class="note" role="note" data-testid="fixer-off">
                {format!("The fix generator is off: {r}.")}
            </p>
        }
        .into_any(),
        (None, Some(r)) => view! {
            <p class="muted">{format!("Dry run: fixes are kept here, not pushed ({r}).")}</p>
        }
        .into_any(),
        (None, None) => ().into_any(),
    }
}

/// The group page's Generate Fix panel.
#[component]
pub fn GroupFixPanel(fingerprint: String) -> impl IntoView {
    let generate = ServerAction::<GenerateFix>::new();
    let query = use_query_map();
    let message = RwSignal::new(query.with_untracked(|q| {
        q.get("error")
            .and_then(|code| refusal::message(&code))
            .map(str::to_string)
    }));
    let tick = RwSignal::new(0u32);
    Effect::new(move |_| match generate.value().get() {
        Some(Ok(_)) => message.set(None),
        Some(Err(e)) => message.set(Some(error_text(&e))),
        None => {}
    });
    let fp = fingerprint.clone();
    let current = Resource::new(
        move || (generate.version().get(), tick.get()),
        move |_| group_fix(fp.clone()),
    );
    // Hydrated: look again every 2 s while the fix is in flight.
    Effect::new(move |_| {
        let in_flight = current
            .get()
            .and_then(Result::ok)
            .and_then(|d| d.fix)
            .is_some_and(|f| f.state.in_flight());
        if in_flight {
            set_timeout(
                move || tick.update(|n| *n += 1),
                std::time::Duration::from_secs(2),
            );
        }
    });
    view! {
        <section class="panel" id="fix" aria-labelledby="fix-heading">
            <h2 id="fix-heading">"Fix"</h2>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || {
                    let fingerprint = fingerprint.clone();
                    Suspend::new(async move {
                    match current.await {
                        Ok(d) => {
                            let off = d.off_reason.clone();
                            view! {
                                <FixerNotes off=off.clone() dry_run=d.dry_run_reason.clone() />
                                {match d.fix {
                                    Some(fix) => view! { <FixDetail fix /> }.into_any(),
                                    None => {
                                        view! { <p class="muted">"No fix generated for this group yet."</p> }
                                            .into_any()
                                    }
                                }}
                                <ActionForm action=generate attr:class="inline">
                                    <input type="hidden" name="fingerprint" value=fingerprint />
                                    <button
                                        type="submit"
                                        disabled=off.is_some()
                                        title=off
                                            .clone()
                                            .map(|r| format!("The fix generator is off: {r}"))
                                            .unwrap_or_else(|| {
                                                "Ask Claude for the root cause and a patch, opened as a draft pull request".into()
                                            })
                                    >
                                        "Generate Fix"
                                    </button>
                                </ActionForm>
                            }
                                .into_any()
                        }
                        Err(e) => view! { <p class="error">{error_text(&e)}</p> }.into_any(),
                    }
                })
                }}
            </Transition>
            <div class="page-message" role="alert">
                {move || message.get().map(|m| view! { <p class="error">{m}</p> })}
            </div>
        </section>
    }
    .into_any()
}

/// `/fixes`: every generated fix with its state, pull request and tokens.
#[component]
pub fn FixesPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| fixes_overview());
    view! {
        <Title text="Signalbox — Fixes" />
        <h1>"Fixes"</h1>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(d) => {
                        let total_in: i64 = d.fixes.iter().map(|f| f.input_tokens).sum();
                        let total_out: i64 = d.fixes.iter().map(|f| f.output_tokens).sum();
                        view! {
                            <FixerNotes off=d.off_reason.clone() dry_run=d.dry_run_reason.clone() />
                            <p class="muted">
                                {format!(
                                    "{} fixes listed; {total_in} input and {total_out} output tokens.",
                                    d.fixes.len(),
                                )}
                            </p>
                            <table class="fixes">
                                <thead>
                                    <tr>
                                        <th scope="col">"Fix"</th>
                                        <th scope="col">"Group"</th>
                                        <th scope="col">"State"</th>
                                        <th scope="col">"Pull request"</th>
                                        <th scope="col">"Tokens (in / out)"</th>
                                        <th scope="col">"Why"</th>
                                        <th scope="col">"Updated"</th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {d
                                        .fixes
                                        .into_iter()
                                        .map(|f| {
                                            let short: String = f.fingerprint.chars().take(12).collect();
                                            view! {
                                                <tr id=format!("fix-{}", f.id) data-testid="fix-row">
                                                    <td data-label="Fix">{format!("#{}", f.id)}</td>
                                                    <td data-label="Group">
                                                        <a href=format!("/errors/{}#fix", f.fingerprint)>
                                                            <code>{short}</code>
                                                        </a>
                                                    </td>
                                                    <td data-label="State">
                                                        <span class=format!("badge fix-{}", f.state.as_str())>
                                                            {state_label(f.state)}
                                                        </span>
                                                    </td>
                                                    <td data-label="Pull request">{pr_link(&f)}</td>
                                                    <td data-label="Tokens" class="num">
                                                        {format!("{} / {}", f.input_tokens, f.output_tokens)}
                                                    </td>
                                                    <td data-label="Why">
                                                        {f.reason.clone().or(f.root_cause.clone()).unwrap_or_default()}
                                                    </td>
                                                    <td data-label="Updated">{when(f.updated_at)}</td>
                                                </tr>
                                            }
                                        })
                                        .collect_view()}
                                </tbody>
                            </table>
                        }
                            .into_any()
                    }
                    Err(e) => view! { <p class="error">{error_text(&e)}</p> }.into_any(),
                }
            })}
        </Transition>
    }
    .into_any()
}
