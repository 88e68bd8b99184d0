//! Server functions: the UI's calls into the engine. They run on the server with the store
//! provided as context; in the browser they become HTTP calls.

mod group;
mod health;
mod session;
mod sources;

pub use group::*;
pub use health::*;
pub use session::*;
pub use sources::*;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use signalbox::model::{Alert, AlertRule, Occurrence, Page, RuleView, Task};

/// The most occurrences one page of the group view shows.
pub const OCCURRENCES_PER_PAGE: u32 = 50;

#[cfg(feature = "ssr")]
pub(crate) fn store() -> Result<signalbox::store::Store, ServerFnError> {
    use_context::<signalbox::store::Store>()
        .ok_or_else(|| ServerFnError::new("the store is not available"))
}

#[cfg(feature = "ssr")]
pub(crate) fn failed(e: signalbox::store::StoreError) -> ServerFnError {
    leptos::logging::error!("store error in a server function: {e}");
    ServerFnError::new("the database did not answer; try again shortly")
}

/// A page of a group's occurrences, newest first.
#[server]
pub async fn occurrences(
    fingerprint: String,
    cursor: Option<String>,
) -> Result<Page<Occurrence>, ServerFnError> {
    require_read()?;
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
    require_read()?;
    Ok(use_context::<RulesInForce>().unwrap_or_default().0)
}

// ---------------------------------------------------------------------------------------------
// Alert rules and governance tasks. Their endpoints are explicit (`/api/ui/…`) so that plain
// HTML forms, and the tests that post them, have stable URLs.
//
// A mutation answers two callers. The hydrated app (the form's `fetch`) gets the value, or an
// error with a 4xx status. A plain form post (no JavaScript: `Accept: text/html`) gets a `303`
// back to its page, the outcome in the query string (`?rule=3&field=…&problem=…`), which the
// page renders: post, redirect, get.

/// One alert rule as the Rules page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleRow {
    pub rule: AlertRule,
    /// When it fires, in a few words: `≥ 10 in 1 min`.
    pub condition: String,
    /// What it is limited to: `service = api, severity ≥ HIGH`, or `all errors`.
    pub scope: String,
}

/// The Rules page: every rule and the latest alerts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RulesPageData {
    pub rules: Vec<RuleRow>,
    /// The most recent alerts, newest first.
    pub alerts: Vec<Alert>,
    /// `SIGNALBOX_ADMIN_TOKEN` is set and the visitor has not logged in: changes are refused.
    pub admin_token: bool,
}

/// What became of a change to a rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RuleChange {
    /// Stored; the rule as it is now.
    Saved(AlertRule),
    /// Not stored: `field` (`condition.threshold`, `cooldown_minutes`, …) is wrong.
    Problem {
        id: i64,
        field: String,
        message: String,
    },
}

/// The Tasks page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TasksPageData {
    /// Open and in-progress tasks (or only the filtered status): in progress first, then by
    /// priority, most recently updated first.
    pub active: Vec<Task>,
    /// Done tasks, most recently updated first (empty when filtered to another status).
    pub done: Vec<Task>,
    /// More tasks than shown exist (the JSON API pages through all of them).
    pub truncated: bool,
    pub admin_token: bool,
}

/// A group's task that is not done, for the group page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupTaskData {
    pub task: Option<Task>,
    pub admin_token: bool,
}

/// What pressing Create Task did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenedTask {
    pub task: Task,
    /// False: the group already had a task that is not done; this is that one.
    pub created: bool,
}

/// How many alerts the Rules page lists.
pub const RECENT_ALERTS: i64 = 20;
/// How many tasks of each status the Tasks page lists.
pub const TASKS_PER_STATUS: u32 = 200;

/// Why a change was refused, as the query string of a plain form's redirect names it.
pub mod refusal {
    /// The admin token is configured and the request did not carry it.
    pub const ADMIN: &str = "admin";
    /// The form was posted from another site.
    pub const CROSS_SITE: &str = "cross_site";
    /// No such rule, task or group.
    pub const NOT_FOUND: &str = "not_found";
    /// The task cannot take that status (its group has another task that is not done).
    pub const CONFLICT: &str = "conflict";
    /// The database failed.
    pub const UNAVAILABLE: &str = "unavailable";
    /// A value the form cannot send (a hand-made request).
    pub const BAD_REQUEST: &str = "bad_request";
    /// The fix generator is off (no `ANTHROPIC_API_KEY` or `GITHUB_REPOSITORY`).
    pub const FIXER_OFF: &str = "fixer_off";
    /// The login form's token is not the admin token.
    pub const BAD_TOKEN: &str = "bad_token";

    /// What the page says for a refusal code; `None` for a code it does not know.
    pub fn message(code: &str) -> Option<&'static str> {
        Some(match code {
            ADMIN => "Not saved: log in first (an admin token is configured), or send the header Authorization: Bearer <token> to the JSON API.",
            BAD_TOKEN => "That is not the admin token.",
            CROSS_SITE => "Not saved: the form was sent from another site.",
            NOT_FOUND => "Not saved: it no longer exists.",
            CONFLICT => "Not saved: the group already has another task that is not done.",
            UNAVAILABLE => "Not saved: the database did not answer; try again shortly.",
            BAD_REQUEST => "Not saved: the form sent a value this page does not offer.",
            FIXER_OFF => "Not started: the fix generator is off; the Status page says why.",
            _ => return None,
        })
    }
}

/// A refused or failed mutation: its code (see [`refusal`]) and HTTP status.
#[cfg(feature = "ssr")]
pub(crate) struct Refused {
    code: &'static str,
    status: http::StatusCode,
}

#[cfg(feature = "ssr")]
impl Refused {
    pub(crate) fn new(code: &'static str, status: http::StatusCode) -> Refused {
        Refused { code, status }
    }

    pub(crate) fn store(e: signalbox::store::StoreError) -> Refused {
        match e {
            signalbox::store::StoreError::Conflict(_) => {
                Refused::new(refusal::CONFLICT, http::StatusCode::CONFLICT)
            }
            other => {
                leptos::logging::error!("store error in a server function: {other}");
                Refused::new(refusal::UNAVAILABLE, http::StatusCode::SERVICE_UNAVAILABLE)
            }
        }
    }

    pub(crate) fn not_found() -> Refused {
        Refused::new(refusal::NOT_FOUND, http::StatusCode::NOT_FOUND)
    }

    fn bad_request() -> Refused {
        Refused::new(refusal::BAD_REQUEST, http::StatusCode::BAD_REQUEST)
    }

    /// Answers with the refusal: a redirect to `page` (plus `?error=code`) for a plain form,
    /// the status and message for the app.
    pub(crate) fn answer(self, page: &Back) -> ServerFnError {
        if plain_form() {
            back_to(&page.clone().with("error", self.code));
        } else if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(self.status);
        }
        ServerFnError::new(refusal::message(self.code).unwrap_or("Not saved."))
    }
}

/// A page to send a plain form back to: path, query and fragment.
#[cfg(feature = "ssr")]
#[derive(Clone)]
pub(crate) struct Back {
    path: String,
    query: Vec<(&'static str, String)>,
    fragment: Option<String>,
}

#[cfg(feature = "ssr")]
impl Back {
    pub(crate) fn new(path: impl Into<String>, fragment: Option<String>) -> Back {
        Back {
            path: path.into(),
            query: Vec::new(),
            fragment,
        }
    }

    pub(crate) fn with(mut self, key: &'static str, value: impl Into<String>) -> Back {
        self.query.push((key, value.into()));
        self
    }

    fn url(&self) -> String {
        let mut url = self.path.clone();
        for (i, (key, value)) in self.query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(key);
            url.push('=');
            url.push_str(&percent_encode(value));
        }
        if let Some(fragment) = &self.fragment {
            url.push('#');
            url.push_str(fragment);
        }
        url
    }
}

#[cfg(feature = "ssr")]
pub(crate) use signalbox::model::percent_encode;

/// The request being answered.
#[cfg(feature = "ssr")]
fn request() -> Option<http::request::Parts> {
    use_context::<http::request::Parts>()
}

/// A plain HTML form post (no JavaScript), which wants a page back, not a value.
#[cfg(feature = "ssr")]
pub(crate) fn plain_form() -> bool {
    request()
        .and_then(|r| {
            r.headers
                .get(http::header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.contains("text/html"))
        })
        .unwrap_or(false)
}

/// Sends a plain form back to `page` (`303 See Other`, so the browser GETs it).
#[cfg(feature = "ssr")]
pub(crate) fn back_to(page: &Back) {
    leptos_axum::redirect(&page.url());
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::SEE_OTHER);
    }
}

/// The server's configuration, provided as context.
#[cfg(feature = "ssr")]
pub(crate) fn config() -> Result<std::sync::Arc<signalbox::config::Config>, ServerFnError> {
    use_context::<std::sync::Arc<signalbox::config::Config>>()
        .ok_or_else(|| ServerFnError::new("the configuration is not available"))
}

/// True when `SIGNALBOX_ADMIN_TOKEN` is set.
#[cfg(feature = "ssr")]
pub(crate) fn admin_token_configured() -> bool {
    config().is_ok_and(|c| !c.admin_allows(None))
}

/// An admin token is configured and this visitor has not logged in: the page says how to.
#[cfg(feature = "ssr")]
fn changes_locked() -> bool {
    admin_token_configured() && authorize().is_err()
}

/// May this request change things? The same rule as the JSON API (`require_admin`): with an
/// admin token configured, only with `Authorization: Bearer <token>`. Forms posted from
/// another site are refused too: a form post, unlike the API's JSON, needs no CORS preflight.
#[cfg(feature = "ssr")]
pub(crate) fn authorize() -> Result<(), Refused> {
    use http::StatusCode;
    let request =
        request().ok_or_else(|| Refused::new(refusal::ADMIN, StatusCode::UNAUTHORIZED))?;
    let header = |name: http::header::HeaderName| {
        request
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if cross_site(
        header(http::header::HeaderName::from_static("sec-fetch-site")),
        header(http::header::ORIGIN),
        header(http::header::HOST),
    ) {
        return Err(Refused::new(refusal::CROSS_SITE, StatusCode::FORBIDDEN));
    }
    let (token, cookie) = credentials(&request);
    let allowed = config()
        .is_ok_and(|c| c.request_allowed(token.as_deref(), cookie.as_deref(), chrono::Utc::now()));
    if allowed {
        Ok(())
    } else {
        Err(Refused::new(refusal::ADMIN, StatusCode::UNAUTHORIZED))
    }
}

/// The bearer token and the `Cookie` header of a request.
#[cfg(feature = "ssr")]
fn credentials(request: &http::request::Parts) -> (Option<String>, Option<String>) {
    let header = |name: http::header::HeaderName| {
        request
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_string())
    };
    let token = header(http::header::AUTHORIZATION)
        .and_then(|v| v.strip_prefix("Bearer ").map(|t| t.trim().to_string()));
    (token, header(http::header::COOKIE))
}

/// May this request read? With `SIGNALBOX_PUBLIC_READ=false` and an admin token, only a
/// logged-in visitor (or a request with the token) may.
#[cfg(feature = "ssr")]
fn require_read() -> Result<(), ServerFnError> {
    let config = config()?;
    let (token, cookie) = request().map(|r| credentials(&r)).unwrap_or_default();
    if config.read_allowed(token.as_deref(), cookie.as_deref(), chrono::Utc::now()) {
        Ok(())
    } else {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(http::StatusCode::UNAUTHORIZED);
        }
        Err(ServerFnError::new("log in to see this page"))
    }
}

/// A browser says where a request comes from: `Sec-Fetch-Site`, else `Origin` (compared with
/// `Host`). Requests that say nothing (curl, tests) are not cross-site.
#[cfg(feature = "ssr")]
fn cross_site(fetch_site: Option<&str>, origin: Option<&str>, host: Option<&str>) -> bool {
    if let Some(site) = fetch_site {
        return matches!(site, "cross-site" | "same-site");
    }
    match (origin, host) {
        (Some(origin), Some(host)) => {
            let authority = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"))
                .unwrap_or(origin);
            !authority.eq_ignore_ascii_case(host)
        }
        _ => false,
    }
}

/// The condition of a rule in a few words, with the engine's defaults for unset thresholds.
#[cfg(feature = "ssr")]
fn condition_summary(rule: &AlertRule) -> String {
    use signalbox::model::AlertRuleType as T;
    use signalbox::rules::engine as d;
    let c = &rule.condition;
    match rule.rule_type {
        T::NewFingerprint => "first occurrence of a group".into(),
        T::Critical => "a CRITICAL event".into(),
        T::Regression => "a resolved group recurs".into(),
        T::Spike => format!(
            "≥ {} in {} min",
            c.threshold.unwrap_or(d::SPIKE_THRESHOLD),
            c.window_minutes.unwrap_or(d::SPIKE_WINDOW_MINUTES)
        ),
        T::Sustained => format!(
            "every minute for {} min",
            c.minutes.unwrap_or(d::SUSTAINED_MINUTES)
        ),
        T::ErrorRate => format!(
            "> {}% errors in {} min (≥ {} lines)",
            c.percent.unwrap_or(d::ERROR_RATE_PERCENT),
            c.window_minutes.unwrap_or(d::ERROR_RATE_WINDOW_MINUTES),
            c.threshold.unwrap_or(d::ERROR_RATE_MIN_LINES)
        ),
        _ => check_condition_summary(rule),
    }
}

/// The condition of a check rule (probes, self-monitoring) in a few words.
#[cfg(feature = "ssr")]
fn check_condition_summary(rule: &AlertRule) -> String {
    use signalbox::model::AlertRuleType as T;
    use signalbox::rules::checks as k;
    let c = &rule.condition;
    let threshold = |default: u32| c.threshold.unwrap_or(default);
    match rule.rule_type {
        T::ProbeDown => format!(
            "{} failed checks in a row",
            threshold(k::PROBE_DOWN_FAILURES)
        ),
        T::ProbeSlow => format!(
            "p95 > {} ms over {} min",
            threshold(k::PROBE_SLOW_MS),
            c.window_minutes.unwrap_or(k::PROBE_SLOW_WINDOW_MINUTES)
        ),
        T::CertExpiring => format!(
            "certificate < {} days left",
            threshold(k::CERT_EXPIRING_DAYS)
        ),
        T::DnsFailure => format!("{} DNS failures in a row", threshold(k::DNS_FAILURES)),
        T::SelfMemory => format!(
            "memory > {}% of its limit",
            c.percent.unwrap_or(k::SELF_MEMORY_PERCENT)
        ),
        T::SelfErrorRate => format!(
            "> {}% of requests fail in {} min (≥ {})",
            c.percent.unwrap_or(k::SELF_ERROR_RATE_PERCENT),
            c.window_minutes
                .unwrap_or(k::SELF_ERROR_RATE_WINDOW_MINUTES),
            threshold(k::SELF_ERROR_RATE_MIN_REQUESTS)
        ),
        T::CrawlerLag => format!("a source behind > {} s", threshold(k::CRAWLER_LAG_SECONDS)),
        T::DeployCheckFailed => format!(
            "≥ {} checks of a new deploy fail",
            threshold(k::DEPLOY_FAILED_CHECKS)
        ),
        T::DeployNewGroups => format!(
            "a deploy introduces ≥ {} new groups",
            threshold(k::DEPLOY_NEW_GROUPS)
        ),
        _ => String::new(),
    }
}

/// What a rule is limited to, in a few words.
#[cfg(feature = "ssr")]
fn scope_summary(rule: &AlertRule) -> String {
    let c = &rule.condition;
    let parts: Vec<String> = [
        c.service.as_ref().map(|s| format!("service = {s}")),
        c.environment.as_ref().map(|e| format!("environment = {e}")),
        c.category.map(|k| format!("category = {}", k.as_str())),
        c.severity.map(|s| format!("severity ≥ {}", s.as_str())),
        c.level.map(|l| format!("level ≥ {}", l.as_str())),
        c.pattern.as_ref().map(|p| format!("matches /{p}/")),
    ]
    .into_iter()
    .flatten()
    .collect();
    if parts.is_empty() {
        "all".into()
    } else {
        parts.join(", ")
    }
}

/// The alert rules and the latest alerts.
#[server(prefix = "/api/ui", endpoint = "rules")]
pub async fn rules_overview() -> Result<RulesPageData, ServerFnError> {
    require_read()?;
    let store = store()?;
    let rules = store
        .alert_rules()
        .await
        .map_err(failed)?
        .into_iter()
        .map(|rule| RuleRow {
            condition: condition_summary(&rule),
            scope: scope_summary(&rule),
            rule,
        })
        .collect();
    let alerts = store.alerts(None, RECENT_ALERTS).await.map_err(failed)?;
    Ok(RulesPageData {
        rules,
        alerts,
        admin_token: changes_locked(),
    })
}

/// Where a plain form about rule `id` goes back to.
#[cfg(feature = "ssr")]
fn rules_page(id: i64) -> Back {
    Back::new("/rules", Some(format!("rule-{id}"))).with("rule", id.to_string())
}

/// Stores `rule` as rule `id` and answers with the outcome.
#[cfg(feature = "ssr")]
async fn save_rule(id: i64, rule: AlertRule) -> Result<RuleChange, ServerFnError> {
    let page = rules_page(id);
    let store = store()?;
    let change = match store.update_alert_rule(id, &rule).await {
        Ok(Some(Ok(saved))) => {
            store.reload_rules();
            RuleChange::Saved(saved)
        }
        Ok(Some(Err(problem))) => RuleChange::Problem {
            id,
            field: problem.field,
            message: problem.message,
        },
        Ok(None) => return Err(Refused::not_found().answer(&page)),
        Err(e) => return Err(Refused::store(e).answer(&page)),
    };
    if plain_form() {
        back_to(&match &change {
            RuleChange::Saved(_) => page.with("saved", "1"),
            RuleChange::Problem { field, message, .. } => page
                .with("field", field.clone())
                .with("problem", message.clone()),
        });
    }
    Ok(change)
}

/// The rule, after checking that the request may change it.
#[cfg(feature = "ssr")]
async fn rule_to_change(id: i64) -> Result<AlertRule, ServerFnError> {
    let page = rules_page(id);
    authorize().map_err(|r| r.answer(&page))?;
    match store()?.alert_rule(id).await {
        Ok(Some(rule)) => Ok(rule),
        Ok(None) => Err(Refused::not_found().answer(&page)),
        Err(e) => Err(Refused::store(e).answer(&page)),
    }
}

/// Switches a rule on or off.
#[server(prefix = "/api/ui", endpoint = "rules/toggle")]
pub async fn toggle_rule(id: i64, enabled: bool) -> Result<RuleChange, ServerFnError> {
    let rule = rule_to_change(id).await?;
    save_rule(id, AlertRule { enabled, ..rule }).await
}

/// Changes a rule's thresholds and cooldown. A threshold left empty takes the engine's
/// default; thresholds the form does not send (they do not apply to the rule's type) stay.
#[server(prefix = "/api/ui", endpoint = "rules/edit")]
pub async fn edit_rule(
    id: i64,
    threshold: Option<String>,
    window_minutes: Option<String>,
    minutes: Option<String>,
    percent: Option<String>,
    cooldown_minutes: Option<String>,
) -> Result<RuleChange, ServerFnError> {
    let mut rule = rule_to_change(id).await?;
    let form = [
        threshold,
        window_minutes,
        minutes,
        percent,
        cooldown_minutes,
    ];
    match apply_rule_form(&mut rule, form) {
        Ok(()) => save_rule(id, rule).await,
        Err((field, message)) => {
            if plain_form() {
                back_to(&rules_page(id).with("field", field).with("problem", message));
            }
            Ok(RuleChange::Problem {
                id,
                field: field.into(),
                message: message.into(),
            })
        }
    }
}

/// Puts the rule form's values (threshold, window_minutes, minutes, percent, cooldown_minutes;
/// `None`: not in the form) into `rule`; a value that is not a number names its field.
#[cfg(feature = "ssr")]
fn apply_rule_form(
    rule: &mut AlertRule,
    [threshold, window_minutes, minutes, percent, cooldown]: [Option<String>; 5],
) -> Result<(), (&'static str, &'static str)> {
    /// Not in the form: unchanged; empty: unset (the engine's default); else the number.
    fn value<T: std::str::FromStr>(
        text: Option<String>,
        current: Option<T>,
        field: &'static str,
        message: &'static str,
    ) -> Result<Option<T>, (&'static str, &'static str)> {
        match text.as_deref().map(str::trim) {
            None => Ok(current),
            Some("") => Ok(None),
            Some(t) => t.parse().map(Some).map_err(|_| (field, message)),
        }
    }
    const WHOLE: &str = "must be a whole number";
    let c = &mut rule.condition;
    c.threshold = value(threshold, c.threshold, "condition.threshold", WHOLE)?;
    c.window_minutes = value(
        window_minutes,
        c.window_minutes,
        "condition.window_minutes",
        WHOLE,
    )?;
    c.minutes = value(minutes, c.minutes, "condition.minutes", WHOLE)?;
    c.percent = value(percent, c.percent, "condition.percent", "must be a number")?;
    if c.percent.is_some_and(|p: f64| !p.is_finite()) {
        return Err(("condition.percent", "must be a number"));
    }
    let cooldown_message = "must be a whole number of minutes";
    match value(
        cooldown,
        Some(rule.cooldown_minutes),
        "cooldown_minutes",
        cooldown_message,
    )? {
        Some(minutes) => rule.cooldown_minutes = minutes,
        None => return Err(("cooldown_minutes", cooldown_message)),
    }
    Ok(())
}

/// How active tasks are sorted: in progress first, then by priority, then most recently
/// updated.
#[cfg(feature = "ssr")]
fn active_order(t: &Task) -> (u8, u8, std::cmp::Reverse<chrono::DateTime<chrono::Utc>>) {
    use signalbox::model::{TaskPriority, TaskStatus};
    let priority = match t.priority {
        TaskPriority::High => 0,
        TaskPriority::Medium => 1,
        TaskPriority::Low => 2,
    };
    (
        u8::from(t.status != TaskStatus::InProgress),
        priority,
        std::cmp::Reverse(t.updated_at),
    )
}

/// The tasks: open and in progress, then done; or only those of `status`.
#[server(prefix = "/api/ui", endpoint = "tasks")]
pub async fn tasks_overview(status: Option<String>) -> Result<TasksPageData, ServerFnError> {
    require_read()?;
    use signalbox::store::TaskQuery;
    let filter = status
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(str::parse::<signalbox::model::TaskStatus>)
        .transpose()
        .map_err(ServerFnError::new)?;
    let store = store()?;
    let mut active = Vec::new();
    let mut done = Vec::new();
    let mut truncated = false;
    for status in signalbox::model::TaskStatus::ALL {
        if filter.is_some_and(|f| f != status) {
            continue;
        }
        let page = store
            .tasks(&TaskQuery {
                status: Some(status),
                limit: TASKS_PER_STATUS,
                ..TaskQuery::default()
            })
            .await
            .map_err(failed)?;
        truncated |= page.next_cursor.is_some();
        if status == signalbox::model::TaskStatus::Done {
            done = page.items;
        } else {
            active.extend(page.items);
        }
    }
    active.sort_by_key(active_order);
    done.sort_by_key(|t| std::cmp::Reverse(t.updated_at));
    Ok(TasksPageData {
        active,
        done,
        truncated,
        admin_token: changes_locked(),
    })
}

/// Moves a task to `status` (`open`, `in_progress`, `done`). `view` is the Tasks page's
/// status filter, kept by a plain form's redirect.
#[server(prefix = "/api/ui", endpoint = "tasks/status")]
pub async fn change_task_status(
    id: i64,
    status: String,
    view: Option<String>,
) -> Result<Task, ServerFnError> {
    let mut page = Back::new("/tasks", Some(format!("task-{id}")));
    if let Some(view) = view.filter(|v| v.parse::<signalbox::model::TaskStatus>().is_ok()) {
        page = page.with("status", view);
    }
    let page = page.with("task", id.to_string());
    authorize().map_err(|r| r.answer(&page))?;
    let status: signalbox::model::TaskStatus = status
        .parse()
        .map_err(|_| Refused::bad_request().answer(&page))?;
    let task = match store()?
        .set_task_status(id, status, chrono::Utc::now())
        .await
    {
        Ok(Some(task)) => task,
        Ok(None) => return Err(Refused::not_found().answer(&page)),
        Err(e) => return Err(Refused::store(e).answer(&page)),
    };
    if plain_form() {
        back_to(&page.with("saved", "1"));
    }
    Ok(task)
}

/// The group's task that is not done, if any.
#[server(prefix = "/api/ui", endpoint = "groups/task")]
pub async fn group_task(fingerprint: String) -> Result<GroupTaskData, ServerFnError> {
    require_read()?;
    let store = store()?;
    let task = match store.open_task_id(&fingerprint).await.map_err(failed)? {
        Some(id) => store.task(id).await.map_err(failed)?,
        None => None,
    };
    Ok(GroupTaskData {
        task,
        admin_token: changes_locked(),
    })
}

/// Opens a task for the group, or returns the one it has (a group has one task that is not
/// done at a time).
#[server(prefix = "/api/ui", endpoint = "tasks/create")]
pub async fn create_task(fingerprint: String) -> Result<OpenedTask, ServerFnError> {
    let fingerprint = fingerprint.trim().to_string();
    let page = Back::new(
        signalbox::model::group_path(&fingerprint),
        Some("task".into()),
    );
    authorize().map_err(|r| r.answer(&page))?;
    let public_url = config()?.public_url.clone();
    let (task, created) = match store()?
        .create_task_for(&fingerprint, None, &public_url, chrono::Utc::now())
        .await
    {
        Ok(Some(opened)) => opened,
        Ok(None) => return Err(Refused::not_found().answer(&page)),
        Err(e) => return Err(Refused::store(e).answer(&page)),
    };
    if plain_form() {
        back_to(
            &page
                .with("task", task.id.to_string())
                .with("created", if created { "1" } else { "0" }),
        );
    }
    Ok(OpenedTask { task, created })
}
