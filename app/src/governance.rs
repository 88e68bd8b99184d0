//! Governance in the UI: the alert rules (`/rules`), the tasks (`/tasks`) and the group page's
//! task panel.
//!
//! Every change is an `ActionForm`. Without JavaScript it is a plain form post: the server
//! function answers with a redirect back to the page, the outcome in the query string, and
//! the page renders it (see `api`). Hydrated, the form calls the server function, the page
//! shows the outcome and reloads its data.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use leptos_router::params::ParamsMap;
use signalbox::model::{Alert, AlertRuleType, Task, TaskStatus};

use crate::api::{self, refusal, RuleChange, RuleRow};
use crate::pages::when;

/// The message of a failed server function, without the framework's prefix.
pub(crate) fn error_text(e: &ServerFnError) -> String {
    match e {
        ServerFnError::ServerError(message) => message.clone(),
        other => other.to_string(),
    }
}

/// The page-level message of a plain form's redirect (`?error=code`).
fn refusal_from(query: &ParamsMap) -> Option<String> {
    query
        .get("error")
        .and_then(|code| refusal::message(&code))
        .map(str::to_string)
}

/// Says, when an admin token is configured, that changes go through the JSON API.
#[component]
fn AdminNote(configured: bool, api: &'static str) -> impl IntoView {
    configured.then(|| {
        view! {
            <p class="note" role="note">
                "An admin token is configured (" <code>"SIGNALBOX_ADMIN_TOKEN"</code> "): "
                <a href="/login">"log in"</a> " to make changes here, or make them through the JSON API, "
                <code>{api}</code> ", with the header " <code>"Authorization: Bearer <token>"</code> "."
            </p>
        }
    })
}

/// A page-level outcome: a refusal or a failure, announced to screen readers.
#[component]
fn PageMessage(message: RwSignal<Option<String>>) -> impl IntoView {
    view! {
        <div class="page-message" role="alert">
            {move || message.get().map(|m| view! { <p class="error">{m}</p> })}
        </div>
    }
}

fn status_label(status: TaskStatus) -> &'static str {
    match status {
        TaskStatus::Open => "open",
        TaskStatus::InProgress => "in progress",
        TaskStatus::Done => "done",
    }
}

// ---------------------------------------------------------------------------------------------
// Rules.

/// The outcome of the last change to a rule, shown next to its forms.
#[derive(Clone, Debug, PartialEq)]
enum RuleNotice {
    Saved {
        id: i64,
    },
    Problem {
        id: i64,
        field: String,
        message: String,
    },
}

impl RuleNotice {
    fn id(&self) -> i64 {
        match self {
            RuleNotice::Saved { id } | RuleNotice::Problem { id, .. } => *id,
        }
    }

    /// The field a problem is about, when it is one the rule's form has.
    fn problem_field(&self) -> Option<&str> {
        match self {
            RuleNotice::Problem { field, .. } => Some(field),
            RuleNotice::Saved { .. } => None,
        }
    }
}

/// The fields of a rule's form: (store field, form name, label, min, max, step).
struct Field {
    field: &'static str,
    name: &'static str,
    label: &'static str,
    min: &'static str,
    max: &'static str,
    step: &'static str,
}

const THRESHOLD: Field = Field {
    field: "condition.threshold",
    name: "threshold",
    label: "Threshold (events)",
    min: "1",
    max: "",
    step: "1",
};
const MIN_LINES: Field = Field {
    label: "Minimum lines",
    ..THRESHOLD
};
const WINDOW: Field = Field {
    field: "condition.window_minutes",
    name: "window_minutes",
    label: "Window (min)",
    min: "1",
    max: "1440",
    step: "1",
};
const MINUTES: Field = Field {
    field: "condition.minutes",
    name: "minutes",
    label: "Minutes",
    min: "1",
    max: "1440",
    step: "1",
};
const PERCENT: Field = Field {
    field: "condition.percent",
    name: "percent",
    label: "Percent",
    min: "0",
    max: "100",
    step: "any",
};
const COOLDOWN: Field = Field {
    field: "cooldown_minutes",
    name: "cooldown_minutes",
    label: "Cooldown (min)",
    min: "0",
    max: "10080",
    step: "1",
};

/// The thresholds a rule of this type has.
fn thresholds(rule_type: AlertRuleType) -> &'static [Field] {
    match rule_type {
        AlertRuleType::Spike => &[THRESHOLD, WINDOW],
        AlertRuleType::Sustained => &[MINUTES],
        AlertRuleType::ErrorRate => &[PERCENT, WINDOW, MIN_LINES],
        _ => &[],
    }
}

/// Whether `field` is one a rule's form can show a problem for.
fn known_field(field: &str) -> bool {
    [THRESHOLD, WINDOW, MINUTES, PERCENT, COOLDOWN]
        .iter()
        .any(|f| f.field == field)
        || field == "name"
}

/// The outcome a plain form's redirect carries: `?rule=3&saved=1` or
/// `?rule=3&field=condition.threshold&problem=…`.
fn rule_notice_from(query: &ParamsMap) -> Option<RuleNotice> {
    let id = query.get("rule")?.parse().ok()?;
    if query.get("saved").is_some() {
        return Some(RuleNotice::Saved { id });
    }
    let field = query.get("field").filter(|f| known_field(f))?;
    let message = query.get("problem")?;
    Some(RuleNotice::Problem { id, field, message })
}

/// `/rules`: the alert rules, a switch and a form for each, and the latest alerts.
#[component]
pub fn RulesPage() -> impl IntoView {
    let toggle = ServerAction::<api::ToggleRule>::new();
    let edit = ServerAction::<api::EditRule>::new();
    let query = use_query_map();
    let notice = RwSignal::new(query.with_untracked(rule_notice_from));
    let message = RwSignal::new(query.with_untracked(refusal_from));
    let show = move |result: Result<RuleChange, ServerFnError>| match result {
        Ok(RuleChange::Saved(rule)) => {
            message.set(None);
            notice.set(Some(RuleNotice::Saved { id: rule.id }));
        }
        Ok(RuleChange::Problem {
            id,
            field,
            message: text,
        }) => {
            message.set(None);
            notice.set(Some(RuleNotice::Problem {
                id,
                field,
                message: text,
            }));
        }
        Err(e) => {
            notice.set(None);
            message.set(Some(error_text(&e)));
        }
    };
    Effect::new(move |_| {
        if let Some(result) = toggle.value().get() {
            show(result);
        }
    });
    Effect::new(move |_| {
        if let Some(result) = edit.value().get() {
            show(result);
        }
    });
    let overview = Resource::new(
        move || (toggle.version().get(), edit.version().get()),
        |_| api::rules_overview(),
    );
    view! {
        <Title text="Signalbox — Alert rules" />
        <h1>"Alert rules"</h1>
        <p class="muted">
            "Rules decide when someone must look: they open a group's task, notify, or both. "
            "After firing for a group, a rule stays quiet for that group for its cooldown."
        </p>
        <PageMessage message />
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match overview.await {
                    Ok(o) => {
                        view! {
                            <AdminNote configured=o.admin_token api="PATCH /api/rules/{id}" />
                            <RulesTable rows=o.rules toggle edit notice />
                            <h2>"Recent alerts"</h2>
                            <AlertsTable alerts=o.alerts />
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

#[component]
fn RulesTable(
    rows: Vec<RuleRow>,
    toggle: ServerAction<api::ToggleRule>,
    edit: ServerAction<api::EditRule>,
    notice: RwSignal<Option<RuleNotice>>,
) -> impl IntoView {
    view! {
        <div class="table-scroll">
            <table class="alert-rules cards-on-phone">
                <thead>
                    <tr>
                        <th>"Rule"</th>
                        <th>"Type"</th>
                        <th>"Condition"</th>
                        <th>"Scope"</th>
                        <th>"Action"</th>
                        <th class="num">"Cooldown"</th>
                        <th>"Enabled"</th>
                        <th>"Last fired"</th>
                        <th class="num">"Fired"</th>
                        <th>"Thresholds"</th>
                    </tr>
                </thead>
                <tbody>
                    {rows
                        .into_iter()
                        .map(|row| view! { <RuleLine row toggle edit notice /> })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn RuleLine(
    row: RuleRow,
    toggle: ServerAction<api::ToggleRule>,
    edit: ServerAction<api::EditRule>,
    notice: RwSignal<Option<RuleNotice>>,
) -> impl IntoView {
    let rule = row.rule;
    let id = rule.id;
    let mine = move || notice.get().filter(|n| n.id() == id);
    let problem_id = format!("rule-{id}-problem");
    let switch_label = format!(
        "{} rule “{}”",
        if rule.enabled { "Disable" } else { "Enable" },
        rule.name
    );
    let (badge, state) = if rule.enabled {
        ("badge on", "on")
    } else {
        ("badge off", "off")
    };
    let fields = thresholds(rule.rule_type);
    let condition = rule.condition.clone();
    let value_of = move |name: &str| -> String {
        match name {
            "threshold" => condition.threshold.map(|v| v.to_string()),
            "window_minutes" => condition.window_minutes.map(|v| v.to_string()),
            "minutes" => condition.minutes.map(|v| v.to_string()),
            "percent" => condition.percent.map(|v| v.to_string()),
            _ => None,
        }
        .unwrap_or_default()
    };
    let inputs = fields
        .iter()
        .map(|f| (f, value_of(f.name)))
        .chain(std::iter::once((
            &COOLDOWN,
            rule.cooldown_minutes.to_string(),
        )))
        .map(|(f, value)| {
            let input_id = format!("rule-{id}-{}", f.name);
            let field = f.field;
            let invalid = move || {
                mine()
                    .and_then(|n| n.problem_field().map(|p| p == field))
                    .unwrap_or(false)
            };
            let problem_id = problem_id.clone();
            view! {
                <span class="field">
                    <label for=input_id.clone()>{f.label}</label>
                    <input
                        id=input_id
                        name=f.name
                        type="number"
                        min=f.min
                        max=(!f.max.is_empty()).then_some(f.max)
                        step=f.step
                        value=value
                        aria-invalid=move || invalid().then_some("true")
                        aria-describedby=move || invalid().then(|| problem_id.clone())
                    />
                </span>
            }
        })
        .collect_view();
    view! {
        <tr class="rule" id=format!("rule-{id}")>
            <td data-label="Rule">{rule.name.clone()}</td>
            <td data-label="Type"><code>{rule.rule_type.as_str()}</code></td>
            <td data-label="Condition">{row.condition}</td>
            <td data-label="Scope">{row.scope}</td>
            <td data-label="Action">{rule.action.as_str().replace('_', " ")}</td>
            <td data-label="Cooldown" class="num">{format!("{} min", rule.cooldown_minutes)}</td>
            <td data-label="Enabled">
                <ActionForm action=toggle attr:class="inline">
                    <input type="hidden" name="id" value=id.to_string() />
                    <input type="hidden" name="enabled" value=(!rule.enabled).to_string() />
                    <span class=badge>{state}</span>
                    <button type="submit" aria-label=switch_label>
                        {if rule.enabled { "Disable" } else { "Enable" }}
                    </button>
                </ActionForm>
            </td>
            <td data-label="Last fired">{rule.last_triggered.map(when).unwrap_or_else(|| "never".into())}</td>
            <td data-label="Fired" class="num">{rule.trigger_count}</td>
            <td data-label="Thresholds">
                <ActionForm action=edit attr:class="rule-form">
                    <input type="hidden" name="id" value=id.to_string() />
                    {inputs}
                    <button type="submit" aria-label=format!("Save rule “{}”", rule.name)>
                        "Save"
                    </button>
                </ActionForm>
                <p class="form-message" id=problem_id.clone() aria-live="polite">
                    {move || {
                        mine()
                            .map(|n| match n {
                                RuleNotice::Saved { .. } => {
                                    view! { <span class="ok">"Saved."</span> }.into_any()
                                }
                                RuleNotice::Problem { field, message, .. } => {
                                    view! {
                                        <span class="error">
                                            <code>{field}</code>
                                            ": "
                                            {message}
                                        </span>
                                    }
                                        .into_any()
                                }
                            })
                    }}
                </p>
            </td>
        </tr>
    }
    .into_any()
}

/// Where an alert's group is: a link to its page.
fn group_link(fingerprint: Option<String>) -> impl IntoView {
    match fingerprint {
        Some(fp) => {
            let short: String = fp.chars().take(12).collect();
            let href = format!("/errors/{fp}");
            view! { <a href=href title=fp><code>{short}</code></a> }.into_any()
        }
        None => view! { <span class="muted">"—"</span> }.into_any(),
    }
}

#[component]
fn AlertsTable(alerts: Vec<Alert>) -> impl IntoView {
    if alerts.is_empty() {
        return view! { <p class="empty">"No alert has fired yet."</p> }.into_any();
    }
    view! {
        <div class="table-scroll">
            <table class="alerts">
                <thead>
                    <tr>
                        <th>"Rule"</th>
                        <th>"Group"</th>
                        <th>"Service"</th>
                        <th>"What happened"</th>
                        <th>"When"</th>
                    </tr>
                </thead>
                <tbody>
                    {alerts
                        .into_iter()
                        .map(|a| {
                            view! {
                                <tr class="alert">
                                    <td>{a.rule_name}</td>
                                    <td>{group_link(a.fingerprint)}</td>
                                    <td>{a.service.unwrap_or_default()}</td>
                                    <td>{a.summary}</td>
                                    <td>{when(a.fired_at)}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

// ---------------------------------------------------------------------------------------------
// Tasks.

/// `/tasks`: open and in-progress tasks, then the done ones (collapsed); `?status=` filters.
#[component]
pub fn TasksPage() -> impl IntoView {
    let change = ServerAction::<api::ChangeTaskStatus>::new();
    let query = use_query_map();
    let filter = Memo::new(move |_| {
        query
            .read()
            .get("status")
            .and_then(|s| s.parse::<TaskStatus>().ok())
    });
    let saved = query.with_untracked(|q| {
        q.get("saved")
            .and(q.get("task"))
            .and_then(|id| id.parse::<i64>().ok())
            .map(|id| format!("Task #{id} saved."))
    });
    let notice = RwSignal::new(saved);
    let message = RwSignal::new(query.with_untracked(refusal_from));
    Effect::new(move |_| match change.value().get() {
        Some(Ok(task)) => {
            message.set(None);
            notice.set(Some(format!(
                "Task #{} is now {}.",
                task.id,
                status_label(task.status)
            )));
        }
        Some(Err(e)) => {
            notice.set(None);
            message.set(Some(error_text(&e)));
        }
        None => {}
    });
    let overview = Resource::new(
        move || (filter.get(), change.version().get()),
        |(filter, _)| api::tasks_overview(filter.map(|s| s.as_str().to_string())),
    );
    let tab = move |status: Option<TaskStatus>, label: &'static str| {
        let href = match status {
            Some(s) => format!("/tasks?status={}", s.as_str()),
            None => "/tasks".to_string(),
        };
        view! {
            <a href=href aria-current=move || (filter.get() == status).then_some("page")>
                {label}
            </a>
        }
    };
    view! {
        <Title text="Signalbox — Tasks" />
        <h1>"Tasks"</h1>
        <p class="muted">
            "Someone should look at these error groups. Alert rules open them; "
            "so does Create Task on a group's page. A group has one task that is not done at a time."
        </p>
        <nav class="filters" aria-label="Filter tasks by status">
            {tab(None, "Open and in progress")}
            {tab(Some(TaskStatus::Open), "Open")}
            {tab(Some(TaskStatus::InProgress), "In progress")}
            {tab(Some(TaskStatus::Done), "Done")}
        </nav>
        <PageMessage message />
        <p class="form-message" role="status">
            {move || notice.get().map(|n| view! { <span class="ok">{n}</span> })}
        </p>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let view_filter = filter.get_untracked();
                match overview.await {
                    Ok(o) => {
                        let done_only = view_filter == Some(TaskStatus::Done);
                        let main = if done_only { o.done.clone() } else { o.active.clone() };
                        let done = (view_filter.is_none() && !o.done.is_empty()).then(|| {
                            let count = o.done.len();
                            view! {
                                <details class="done-tasks">
                                    <summary>{format!("Done ({count})")}</summary>
                                    <TaskTable tasks=o.done.clone() change view_filter />
                                </details>
                            }
                        });
                        view! {
                            <AdminNote configured=o.admin_token api="PATCH /api/tasks/{id}" />
                            {if main.is_empty() {
                                view! { <p class="empty">"No tasks here."</p> }.into_any()
                            } else {
                                view! { <TaskTable tasks=main change view_filter /> }.into_any()
                            }}
                            {done}
                            {o.truncated.then(|| view! {
                                <p class="muted">
                                    "Only the most recent tasks of each status are shown; "
                                    <code>"GET /api/tasks"</code> " pages through all of them."
                                </p>
                            })}
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

#[component]
fn TaskTable(
    tasks: Vec<Task>,
    change: ServerAction<api::ChangeTaskStatus>,
    view_filter: Option<TaskStatus>,
) -> impl IntoView {
    view! {
        <div class="table-scroll">
            <table class="tasks cards-on-phone">
                <thead>
                    <tr>
                        <th>"Task"</th>
                        <th>"Priority"</th>
                        <th>"Status"</th>
                        <th class="num">"Occurrences"</th>
                        <th>"Rule"</th>
                        <th>"Updated"</th>
                    </tr>
                </thead>
                <tbody>
                    {tasks
                        .into_iter()
                        .map(|t| view! { <TaskLine task=t change view_filter /> })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn TaskLine(
    task: Task,
    change: ServerAction<api::ChangeTaskStatus>,
    view_filter: Option<TaskStatus>,
) -> impl IntoView {
    let id = task.id;
    let select_id = format!("task-{id}-status");
    view! {
        <tr class="task" id=format!("task-{id}")>
            <td data-label="Task" class="template">
                <a href=format!("/errors/{}", task.fingerprint)>{task.title}</a>
                <span class="muted">{format!(" #{id}")}</span>
            </td>
            <td data-label="Priority">
                <span class=format!("badge priority-{}", task.priority.as_str())>
                    {task.priority.as_str()}
                </span>
            </td>
            <td data-label="Status">
                <ActionForm action=change attr:class="inline">
                    <input type="hidden" name="id" value=id.to_string() />
                    {view_filter
                        .map(|s| view! { <input type="hidden" name="view" value=s.as_str() /> })}
                    <label for=select_id.clone() class="sr-only">
                        {format!("Status of task #{id}")}
                    </label>
                    <select id=select_id name="status">
                        {TaskStatus::ALL
                            .into_iter()
                            .map(|s| {
                                view! {
                                    <option value=s.as_str() selected={s == task.status}>
                                        {status_label(s)}
                                    </option>
                                }
                            })
                            .collect_view()}
                    </select>
                    <button type="submit" aria-label=format!("Save the status of task #{id}")>
                        "Save"
                    </button>
                </ActionForm>
            </td>
            <td data-label="Occurrences" class="num">{task.occurrences}</td>
            <td data-label="Rule">{task.rule.unwrap_or_else(|| "by hand".into())}</td>
            <td data-label="Updated">{when(task.updated_at)}</td>
        </tr>
    }
    .into_any()
}

// ---------------------------------------------------------------------------------------------
// The group page's task panel.

/// The group's task that is not done, and Create Task.
#[component]
pub fn GroupTaskPanel(fingerprint: String) -> impl IntoView {
    let create = ServerAction::<api::CreateTask>::new();
    let query = use_query_map();
    let from_query = query.with_untracked(|q| {
        let id = q.get("task")?.parse::<i64>().ok()?;
        Some((id, q.get("created").as_deref() == Some("1")))
    });
    let opened = RwSignal::new(from_query);
    let message = RwSignal::new(query.with_untracked(refusal_from));
    Effect::new(move |_| match create.value().get() {
        Some(Ok(o)) => {
            message.set(None);
            opened.set(Some((o.task.id, o.created)));
        }
        Some(Err(e)) => {
            opened.set(None);
            message.set(Some(error_text(&e)));
        }
        None => {}
    });
    let fp = fingerprint.clone();
    let current = Resource::new(
        move || create.version().get(),
        move |_| api::group_task(fp.clone()),
    );
    view! {
        <section class="panel" id="task" aria-labelledby="task-heading">
            <h2 id="task-heading">"Task"</h2>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match current.await {
                        Ok(g) => {
                            view! {
                                <AdminNote configured=g.admin_token api="POST /api/tasks" />
                                {match g.task {
                                    Some(t) => {
                                        view! {
                                            <p data-testid="open-task">
                                                "Open task "
                                                <a href=format!("/tasks#task-{}", t.id)>
                                                    {format!("#{}", t.id)}
                                                </a>
                                                ": " {status_label(t.status)} ", "
                                                <span class=format!("badge priority-{}", t.priority.as_str())>
                                                    {t.priority.as_str()}
                                                </span>
                                                " priority"
                                            </p>
                                        }
                                            .into_any()
                                    }
                                    None => {
                                        view! { <p class="muted">"No open task for this group."</p> }
                                            .into_any()
                                    }
                                }}
                            }
                                .into_any()
                        }
                        Err(e) => view! { <p class="error">{error_text(&e)}</p> }.into_any(),
                    }
                })}
            </Transition>
            <ActionForm action=create attr:class="inline">
                <input type="hidden" name="fingerprint" value=fingerprint />
                <button type="submit">"Create Task"</button>
            </ActionForm>
            <PageMessage message />
            <p class="form-message" role="status" data-testid="task-outcome">
                {move || {
                    opened
                        .get()
                        .map(|(id, created)| {
                            let href = format!("/tasks#task-{id}");
                            let text = if created {
                                "Task created: "
                            } else {
                                "This group already has an open task: "
                            };
                            view! {
                                <span class="ok">
                                    {text}
                                    <a href=href>{format!("#{id}")}</a>
                                    "."
                                </span>
                            }
                        })
                }}
            </p>
        </section>
    }
    .into_any()
}
