//! `/errors/{fingerprint}`: one group — facts, status actions, per-hour chart, stack trace
//! with its in-app frames marked, sample log, where it ran, its task, and its occurrences
//! (keyset pages, newest first).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use signalbox::model::{GroupStatus, Occurrence};

use crate::api::{self, Breakdown, GroupView, LineKind};
use crate::fixes::GroupFixPanel;
use crate::governance::GroupTaskPanel;
use crate::pages::{level_badge, severity_badge, status_badge};
use crate::refresh::{Refresh, RefreshBar};
use crate::sparkline::BarChart;
use crate::time::Time;

/// `/errors/{fingerprint}`.
#[component]
pub fn GroupPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let fingerprint = Memo::new(move |_| params.read().get("fingerprint").unwrap_or_default());
    let cursor = Memo::new(move |_| query.read().get("before"));
    let refresh = Refresh::get();
    let set_status = ServerAction::<api::ChangeGroupStatus>::new();
    let detail = Resource::new(
        move || {
            (
                fingerprint.get(),
                refresh.tick.get(),
                set_status.version().get(),
            )
        },
        |(fp, _, _)| api::group_detail(fp),
    );
    // Loaded once per page; the first page then follows new occurrences by itself (see
    // `OccurrenceTable`), so that a refresh keeps the rows a reader opened.
    let occurrences = Resource::new(
        move || (fingerprint.get(), cursor.get()),
        |(fp, cursor)| api::occurrences(fp, cursor),
    );
    view! {
        <div class="page-head">
            <p class="crumbs"><a href="/">"System Health"</a>" / error group"</p>
            <RefreshBar />
        </div>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(Some(d)) => {
                        refresh.loaded();
                        view! { <GroupBody detail=d set_status /> }.into_any()
                    }
                    Ok(None) => view! {
                        <h1>"Unknown error group"</h1>
                        <p>"No group has this fingerprint. " <a href="/">"Back to System Health"</a></p>
                    }.into_any(),
                    Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
        <section aria-labelledby="occurrences-heading">
            <h2 id="occurrences-heading">"Occurrences"</h2>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match occurrences.await {
                        Ok(page) => {
                            let fp = fingerprint.get_untracked();
                            let next = page.next_cursor.map(|c| format!("/errors/{fp}?before={c}"));
                            let newest = cursor.get_untracked().is_some().then(|| format!("/errors/{fp}"));
                            let follow = cursor.get_untracked().is_none().then(|| fp.clone());
                            view! {
                                <OccurrenceTable items=page.items follow />
                                <nav class="pager" aria-label="Occurrence pages">
                                    {newest.map(|href| view! { <a href=href>"← Newest"</a> })}
                                    {next.map(|href| view! { <a class="more" href=href>"Older occurrences →"</a> })}
                                </nav>
                            }
                                .into_any()
                        }
                        Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
    .into_any()
}

#[component]
fn GroupBody(detail: GroupView, set_status: ServerAction<api::ChangeGroupStatus>) -> impl IntoView {
    let GroupView {
        group,
        hours,
        trace,
        breakdown,
        sampled,
        admin_token: _,
    } = detail;
    let fingerprint = group.fingerprint.clone();
    let (counts, labels): (Vec<i64>, Vec<String>) = hours
        .iter()
        .map(|(t, n)| (*n, t.format("%m-%d %H:00 UTC").to_string()))
        .unzip();
    let total_hours: i64 = counts.iter().sum();
    view! {
        <Title text=format!("Signalbox — {}", group.template.chars().take(60).collect::<String>()) />
        <h1 class="template">{group.template.clone()}</h1>
        <dl class="facts">
            <dt>"Fingerprint"</dt><dd><code>{group.fingerprint.clone()}</code></dd>
            <dt>"Type"</dt><dd>{group.error_type.clone().unwrap_or_else(|| "—".into())}</dd>
            <dt>"Level"</dt><dd>{level_badge(group.level)}</dd>
            <dt>"Category"</dt><dd>{group.category.as_str()}</dd>
            <dt>"Severity"</dt><dd>{severity_badge(group.severity)}</dd>
            <dt>"Fixable"</dt><dd>{if group.fixable { "yes" } else { "no (validation or internal error)" }}</dd>
            <dt>"Service"</dt><dd>{group.service.clone().unwrap_or_default()}</dd>
            <dt>"Occurrences"</dt><dd data-testid="occurrence-count">{group.occurrences}</dd>
            <dt>"First seen"</dt><dd><Time at=group.first_seen /></dd>
            <dt>"Last seen"</dt><dd><Time at=group.last_seen /></dd>
            <dt>"Status"</dt><dd data-testid="group-status">{status_badge(group.status)}</dd>
        </dl>
        // The group's actions. The fix generator's Generate Fix joins them here.
        <div class="group-actions" id="actions">
            <StatusActions fingerprint=fingerprint.clone() status=group.status set_status />
        </div>
        <section aria-labelledby="hours-heading">
            <h2 id="hours-heading">{format!("Per hour, last {} h ({total_hours})", api::CHART_HOURS)}</h2>
            <BarChart counts labels title=format!("Occurrences per hour over the last {} hours", api::CHART_HOURS) />
        </section>
        {(!trace.is_empty()).then(|| view! {
            <section aria-labelledby="trace-heading">
                <h2 id="trace-heading">"Stack trace"</h2>
                <p class="muted legend"><span class="frame-app">"Your code"</span>" · "<span class="frame-lib">"library"</span></p>
                <pre class="trace">
                    {trace.into_iter().map(|(kind, line)| {
                        let class = match kind {
                            LineKind::InApp => "line frame-app",
                            LineKind::Library => "line frame-lib",
                            LineKind::Other => "line",
                        };
                        view! { <span class=class>{line}"\n"</span> }
                    }).collect_view()}
                </pre>
            </section>
        })}
        <section aria-labelledby="sample-heading">
            <h2 id="sample-heading">"Sample log (scrubbed)"</h2>
            <pre class="sample">{group.sample_message.clone()}</pre>
        </section>
        <section aria-labelledby="where-heading">
            <h2 id="where-heading">"Where it happens"</h2>
            <p class="muted">{format!("Among the latest {sampled} occurrences.")}</p>
            <div class="breakdowns">
                {breakdown.into_iter().map(|b| view! { <BreakdownTable breakdown=b /> }).collect_view()}
            </div>
        </section>
        <GroupTaskPanel fingerprint=fingerprint.clone() />
        <GroupFixPanel fingerprint />
    }
    .into_any()
}

/// Resolve, Ignore, or Reopen: forms that work without JavaScript.
#[component]
fn StatusActions(
    fingerprint: String,
    status: GroupStatus,
    set_status: ServerAction<api::ChangeGroupStatus>,
) -> impl IntoView {
    let query = use_query_map();
    let message = move || match set_status.value().get() {
        Some(Ok(s)) => {
            Some(view! { <span class="ok">{format!("Status: {}.", s.as_str())}</span> }.into_any())
        }
        Some(Err(e)) => Some(
            view! { <span class="error">{crate::governance::error_text(&e)}</span> }.into_any(),
        ),
        None => query.with(|q| {
            q.get("error")
                .and_then(|c| api::refusal::message(&c))
                .map(|m| view! { <span class="error">{m}</span> }.into_any())
        }),
    };
    let button = move |to: &'static str, label: &'static str| {
        let fingerprint = fingerprint.clone();
        view! {
            <ActionForm action=set_status attr:class="inline">
                <input type="hidden" name="fingerprint" value=fingerprint />
                <input type="hidden" name="status" value=to />
                <button type="submit">{label}</button>
            </ActionForm>
        }
    };
    let buttons = match status {
        GroupStatus::Resolved => vec![button("unresolved", "Reopen"), button("ignored", "Ignore")],
        GroupStatus::Ignored => vec![
            button("unresolved", "Stop ignoring"),
            button("resolved", "Resolve"),
        ],
        _ => vec![button("resolved", "Resolve"), button("ignored", "Ignore")],
    };
    view! {
        <div class="status-actions" id="status">
            {buttons}
            <p class="form-message" role="status" data-testid="status-outcome">{message}</p>
        </div>
    }
    .into_any()
}

#[component]
fn BreakdownTable(breakdown: Breakdown) -> impl IntoView {
    let total: i64 = breakdown.values.iter().map(|(_, n)| n).sum::<i64>().max(1);
    let caption = breakdown.attribute.clone();
    view! {
        <table class="breakdown">
            <caption>{caption}</caption>
            <tbody>
                {breakdown
                    .values
                    .into_iter()
                    .take(8)
                    .map(|(value, n)| {
                        let share = n * 100 / total;
                        view! {
                            <tr>
                                <td class="value">{value}</td>
                                <td class="num">{n}</td>
                                <td class="share"><meter min="0" max="100" value=share.to_string()>{format!("{share}%")}</meter></td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

/// The occurrences; with `follow` (the group's fingerprint, on the first page) it reloads
/// them at every auto-refresh and patches the rows by id: rows already shown stay as they
/// are (open details included), new ones appear on top.
#[component]
fn OccurrenceTable(items: Vec<Occurrence>, follow: Option<String>) -> impl IntoView {
    if items.is_empty() && follow.is_none() {
        return view! { <p class="empty">"No stored occurrences (they are kept RETENTION_DAYS days)."</p> }.into_any();
    }
    let rows = RwSignal::new(items);
    #[cfg(feature = "hydrate")]
    if let Some(fingerprint) = follow {
        let refresh = Refresh::get();
        Effect::new(move |seen: Option<u64>| {
            let tick = refresh.tick.get();
            if seen.is_some_and(|s| s != tick) {
                let fingerprint = fingerprint.clone();
                leptos::task::spawn_local(async move {
                    if let Ok(page) = api::occurrences(fingerprint, None).await {
                        rows.set(page.items);
                    }
                });
            }
            tick
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = follow;
    view! {
        <div class="table-scroll">
            <table class="occurrences">
                <thead>
                    <tr>
                        <th>"Time"</th>
                        <th>"Level"</th>
                        <th>"Service"</th>
                        <th>"Deployment"</th>
                        <th>"Message"</th>
                    </tr>
                </thead>
                <tbody>
                    <For each=move || rows.get() key=|o| o.id let:o>
                        <OccurrenceRow o />
                    </For>
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn OccurrenceRow(o: Occurrence) -> impl IntoView {
    let details = (o.stack_trace.is_some() || !o.attributes.is_empty()).then(|| {
        let attrs = o
            .attributes
            .iter()
            .map(|(k, v)| view! { <dt>{k.clone()}</dt><dd>{v.clone()}</dd> })
            .collect_view();
        let trace = o.stack_trace.clone();
        view! {
            <details>
                <summary>"details"</summary>
                <dl class="attributes">{attrs}</dl>
                {trace.map(|t| view! { <pre class="trace">{t}</pre> })}
            </details>
        }
    });
    view! {
        <tr class="occurrence" id=format!("occurrence-{}", o.id)>
            <td><Time at=o.timestamp /></td>
            <td>{level_badge(o.level)}</td>
            <td>{o.service.clone().unwrap_or_default()}</td>
            <td>{o.deployment.clone().unwrap_or_default()}</td>
            <td class="message">{o.message.clone()}{details}</td>
        </tr>
    }
    .into_any()
}
