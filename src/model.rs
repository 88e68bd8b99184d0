//! Types shared by the engine, the JSON API and the UI. Only serde + chrono: this module
//! compiles for wasm32.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

mod fix;
mod names;
pub use fix::{Fix, FixState, PrState};
use names::names;

/// Severity of a log line, ordered from least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "engine", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
    Critical,
}

names!(Level {
    Trace => "trace",
    Debug => "debug",
    Info => "info",
    Warn => "warn",
    Error => "error",
    Critical => "critical",
});

impl Level {
    /// Error and critical lines become error groups.
    pub fn is_error(self) -> bool {
        self >= Level::Error
    }
}

/// The text was not a level name any log platform uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownLevel(pub String);

impl fmt::Display for UnknownLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown level '{}' (expected {})",
            self.0,
            names::one_of(&Level::ALL.map(Level::as_str))
        )
    }
}

impl std::error::Error for UnknownLevel {}

impl FromStr for Level {
    type Err = UnknownLevel;

    /// Accepts the spellings used by syslog, Python, Java, Go, Node and Railway ("err").
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "trace" | "finest" | "finer" => Level::Trace,
            "debug" | "fine" | "verbose" => Level::Debug,
            "info" | "information" | "informational" | "notice" | "log" | "stdout" => Level::Info,
            "warn" | "warning" => Level::Warn,
            "error" | "err" | "severe" | "stderr" => Level::Error,
            "critical" | "crit" | "fatal" | "panic" | "emerg" | "emergency" | "alert" => {
                Level::Critical
            }
            _ => return Err(UnknownLevel(s.to_string())),
        })
    }
}

/// One stack frame of an exception.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "engine", derive(utoipa::ToSchema))]
pub struct Frame {
    pub file: Option<String>,
    pub function: Option<String>,
    pub line: Option<u32>,
    pub module: Option<String>,
    /// True when the frame is the application's own code rather than a library's.
    pub in_app: bool,
}

/// A structured exception: type, value and frames (innermost last, as Sentry orders them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "engine", derive(utoipa::ToSchema))]
pub struct Exception {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
    #[serde(default)]
    pub frames: Vec<Frame>,
}

/// One log line or error report, whatever source it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "engine", derive(utoipa::ToSchema))]
pub struct Event {
    pub timestamp: DateTime<Utc>,
    pub level: Level,
    pub message: String,
    #[serde(default)]
    pub exception: Option<Exception>,
    /// Free-text stack trace when the source gave one but no structured frames.
    #[serde(default)]
    pub stack_trace: Option<String>,
    #[serde(default)]
    pub service: Option<String>,
    #[serde(default)]
    pub deployment: Option<String>,
    #[serde(default)]
    pub environment: Option<String>,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// Name of the source that produced the event (`demo`, `file`, `railway`, …).
    pub source: String,
    /// Source-specific identity used to drop duplicates (`None`: never deduplicated).
    #[serde(default)]
    pub source_id: Option<String>,
}

/// Lifecycle of an error group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "engine", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum GroupStatus {
    Unresolved,
    Resolved,
    Ignored,
    /// A resolved group occurred again.
    Regressed,
}

names!(GroupStatus parse "status" listed {
    Unresolved => "unresolved",
    Resolved => "resolved",
    Ignored => "ignored",
    Regressed => "regressed",
});

impl GroupStatus {
    /// Whether the group needs attention (unresolved or regressed): the states that resolve
    /// on their own after a quiet day.
    pub fn is_active(self) -> bool {
        match self {
            GroupStatus::Unresolved | GroupStatus::Regressed => true,
            GroupStatus::Resolved | GroupStatus::Ignored => false,
        }
    }
}

/// The kind of failure an error group is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "engine", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// A named third-party API (LLM, payments, cloud, messaging) failed.
    Provider,
    /// The database refused, failed or rejected a query.
    Database,
    /// Someone throttled us.
    RateLimit,
    /// Something took too long.
    Timeout,
    /// Credentials or permissions were missing, wrong or expired.
    Auth,
    /// The input was rejected as malformed.
    Validation,
    /// The cache (Redis, Memcached…) failed.
    Cache,
    /// An unnamed upstream service or the network to it failed.
    ExternalService,
    /// Our own code failed, or nothing more specific was recognised.
    Internal,
}

names!(Category {
    Provider => "provider",
    Database => "database",
    RateLimit => "rate_limit",
    Timeout => "timeout",
    Auth => "auth",
    Validation => "validation",
    Cache => "cache",
    ExternalService => "external_service",
    Internal => "internal",
});

impl Category {
    /// Whether errors of this category can be fixed on our side. The seed's rule: validation
    /// and internal errors are not fixable; every other category is.
    pub fn fixable(self) -> bool {
        !matches!(self, Category::Validation | Category::Internal)
    }
}

/// The text was not a category name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownCategory(pub String);

impl fmt::Display for UnknownCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown category '{}' (expected one of {})",
            self.0,
            Category::ALL.map(Category::as_str).join(", ")
        )
    }
}

impl std::error::Error for UnknownCategory {}

impl FromStr for Category {
    type Err = UnknownCategory;

    /// Accepts any case, and `-` or a space for `_` (query strings and humans write both).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        Category::ALL
            .into_iter()
            .find(|c| c.as_str() == wanted)
            .ok_or_else(|| UnknownCategory(s.to_string()))
    }
}

/// How urgently an error group needs attention, ordered from least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "engine", derive(utoipa::ToSchema))]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    /// Not an error; kept for completeness.
    Info,
    /// Worth a look eventually.
    Low,
    /// Degrades something; look today.
    Medium,
    /// Users are affected; look now.
    High,
    /// The process, the data or the host is at risk.
    Critical,
}

names!(Severity {
    Info => "INFO",
    Low => "LOW",
    Medium => "MEDIUM",
    High => "HIGH",
    Critical => "CRITICAL",
});

/// The text was not a severity name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownSeverity(pub String);

impl fmt::Display for UnknownSeverity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown severity '{}' (expected CRITICAL, HIGH, MEDIUM, LOW or INFO)",
            self.0
        )
    }
}

impl std::error::Error for UnknownSeverity {}

impl FromStr for Severity {
    type Err = UnknownSeverity;

    /// Accepts any case: the API shows uppercase, people type lowercase.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim();
        Severity::ALL
            .into_iter()
            .find(|severity| severity.as_str().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| UnknownSeverity(s.to_string()))
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters (for paths and query values:
/// fingerprints are hex, but a custom grouping rule may name a group anything).
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The path of a group's page in the UI, `/errors/{fingerprint}`.
pub fn group_path(fingerprint: &str) -> String {
    format!("/errors/{}", percent_encode(fingerprint))
}

/// An error group: every occurrence whose normalized message has the same fingerprint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "engine", derive(utoipa::ToSchema))]
pub struct Group {
    /// SHA-256 (hex) of the normalized message: the group's key.
    pub fingerprint: String,
    /// The normalized message, variable parts replaced by placeholders. The group's title.
    pub template: String,
    pub error_type: Option<String>,
    pub level: Level,
    pub service: Option<String>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub occurrences: i64,
    pub status: GroupStatus,
    /// One original (scrubbed) message of the group.
    pub sample_message: String,
    pub stack_trace: Option<String>,
    pub category: Category,
    pub severity: Severity,
    /// Whether a change on our side can fix it (validation and internal errors: no).
    pub fixable: bool,
    /// Version of the grouping algorithm that made the fingerprint.
    pub algorithm_version: i64,
}

/// One stored occurrence of a group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "engine", derive(utoipa::ToSchema))]
pub struct Occurrence {
    pub id: i64,
    pub fingerprint: String,
    pub timestamp: DateTime<Utc>,
    pub level: Level,
    pub message: String,
    pub service: Option<String>,
    pub deployment: Option<String>,
    pub environment: Option<String>,
    pub stack_trace: Option<String>,
    pub attributes: BTreeMap<String, String>,
    pub source: String,
}

/// A page of results with an opaque cursor for the next one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "engine", derive(utoipa::ToSchema))]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Error and line counts of one minute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "engine", derive(utoipa::ToSchema))]
pub struct MinuteBucket {
    /// Start of the minute.
    pub minute: DateTime<Utc>,
    /// Error and critical lines.
    pub errors: i64,
    /// All lines, any level.
    pub lines: i64,
}

/// Totals for the System Health page and `GET /api/logs/stats`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "engine", derive(utoipa::ToSchema))]
pub struct Stats {
    pub generated_at: DateTime<Utc>,
    /// Start of the window the window totals cover.
    pub since: DateTime<Utc>,
    /// Error and critical lines in the window.
    pub errors: i64,
    /// All lines in the window.
    pub lines: i64,
    /// errors / lines over the window (0 when there were no lines).
    pub error_rate: f64,
    /// Groups ever seen.
    pub groups: i64,
    /// Groups first seen since midnight UTC.
    pub new_today: i64,
    /// Groups with no occurrence in the last 24 hours.
    pub resolved: i64,
    /// Per-minute counts over the window, oldest first, minutes without lines omitted.
    pub per_minute: Vec<MinuteBucket>,
}

/// A project sending events straight to Signalbox; its public key authenticates it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "engine", derive(utoipa::ToSchema))]
pub struct Project {
    pub id: i64,
    pub name: String,
    /// The key of the project's DSN (`http://KEY@host/ID`).
    pub public_key: String,
    pub created_at: DateTime<Utc>,
}

impl Project {
    /// The Sentry DSN of the project for a Signalbox reachable at `public_url`.
    pub fn dsn(&self, public_url: &str) -> String {
        let (scheme, host) = public_url.split_once("://").unwrap_or(("http", public_url));
        format!(
            "{scheme}://{}@{}/{}",
            self.public_key,
            host.trim_end_matches('/'),
            self.id
        )
    }
}

/// A field an error's group can be split by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "engine", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SplitField {
    Service,
    Environment,
    Deployment,
    /// The file of the innermost in-app frame.
    Path,
}

/// What a matching rule does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "engine", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RuleAction {
    /// Every matching error joins one group with this key.
    Fingerprint(String),
    /// The normal group is split by this field.
    SplitBy(SplitField),
}

/// A rule as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "engine", derive(utoipa::ToSchema))]
pub struct RuleView {
    pub name: String,
    /// Field → regular expression, for each field the rule matches on.
    pub matches: std::collections::BTreeMap<String, String>,
    pub action: RuleAction,
}

// ---------------------------------------------------------------------------------------------
// Alert rules, alerts and governance tasks.

/// What an alert rule watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "engine", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AlertRuleType {
    /// A group is seen for the first time.
    NewFingerprint,
    /// A group's rate reaches `threshold` events within `window_minutes`.
    Spike,
    /// A group occurs in every minute for `minutes` minutes.
    Sustained,
    /// A CRITICAL event.
    Critical,
    /// A resolved group occurs again.
    Regression,
    /// More than `percent` % of a service's log lines are errors over `window_minutes`.
    ErrorRate,
    /// A probe failed `threshold` (3) times in a row.
    ProbeDown,
    /// A probe's p95 latency over `window_minutes` (5) is above `threshold` ms (5000).
    ProbeSlow,
    /// A probe's TLS certificate expires in fewer than `threshold` days (14).
    CertExpiring,
    /// A probe's host name did not resolve `threshold` (1) times in a row.
    DnsFailure,
    /// Signalbox's own memory is above `percent` % (80) of its cgroup limit.
    SelfMemory,
    /// More than `percent` % (1) of Signalbox's own HTTP requests failed (5xx) over
    /// `window_minutes` (5), once it served at least `threshold` (20) requests.
    SelfErrorRate,
    /// A source has not been read completely for more than `threshold` seconds (900).
    CrawlerLag,
    /// At least `threshold` (1) of a new deploy's checks failed.
    DeployCheckFailed,
    /// A deploy introduced at least `threshold` (1) new error groups.
    DeployNewGroups,
}

names!(AlertRuleType parse "rule type" {
    NewFingerprint => "new_fingerprint",
    Spike => "spike",
    Sustained => "sustained",
    Critical => "critical",
    Regression => "regression",
    ErrorRate => "error_rate",
    ProbeDown => "probe_down",
    ProbeSlow => "probe_slow",
    CertExpiring => "cert_expiring",
    DnsFailure => "dns_failure",
    SelfMemory => "self_memory",
    SelfErrorRate => "self_error_rate",
    CrawlerLag => "crawler_lag",
    DeployCheckFailed => "deploy_check_failed",
    DeployNewGroups => "deploy_new_groups",
});

impl AlertRuleType {
    /// Rules judged on measurements (probes, Signalbox itself) rather than on log events.
    pub fn is_check(self) -> bool {
        !matches!(
            self,
            AlertRuleType::NewFingerprint
                | AlertRuleType::Spike
                | AlertRuleType::Sustained
                | AlertRuleType::Critical
                | AlertRuleType::Regression
                | AlertRuleType::ErrorRate
        )
    }
}

/// What a rule does when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "engine", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AlertAction {
    /// Open (or update) the group's governance task.
    CreateTask,
    /// Send the notifications (Slack, webhook).
    Notify,
    /// Both.
    CreateTaskAndNotify,
}

names!(AlertAction parse "action" {
    CreateTask => "create_task",
    Notify => "notify",
    CreateTaskAndNotify => "create_task_and_notify",
});

impl AlertAction {
    pub fn creates_task(self) -> bool {
        matches!(
            self,
            AlertAction::CreateTask | AlertAction::CreateTaskAndNotify
        )
    }

    pub fn notifies(self) -> bool {
        matches!(self, AlertAction::Notify | AlertAction::CreateTaskAndNotify)
    }
}

/// When a rule applies and its thresholds (the `condition` JSON of a rule).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "engine", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AlertCondition {
    /// Spike: events within the window that fire (≥).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<u32>,
    /// Spike and error rate: the window, in minutes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_minutes: Option<u32>,
    /// Sustained: consecutive minutes with occurrences.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minutes: Option<u32>,
    /// Error rate: percent of a service's lines (>).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<f64>,
    /// Scope: only this service / environment / category.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<Category>,
    /// Scope: at least this severity / level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<Level>,
    /// Scope: a regular expression the template or the message matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
}

/// An alert rule (the `alert_rules` table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "engine", derive(utoipa::ToSchema))]
pub struct AlertRule {
    pub id: i64,
    pub name: String,
    pub rule_type: AlertRuleType,
    pub condition: AlertCondition,
    pub action: AlertAction,
    pub enabled: bool,
    /// No second alert for the same (rule, group) within this many minutes.
    pub cooldown_minutes: u32,
    pub last_triggered: Option<DateTime<Utc>>,
    pub trigger_count: i64,
}

/// A rule fired.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "engine", derive(utoipa::ToSchema))]
pub struct Alert {
    /// 0 until stored.
    pub id: i64,
    pub rule_id: i64,
    pub rule_name: String,
    pub rule_type: AlertRuleType,
    pub action: AlertAction,
    /// The group it is about (`None` for service-wide rules: error rate).
    pub fingerprint: Option<String>,
    pub service: Option<String>,
    /// When it fired (the clock of the evaluation).
    pub fired_at: DateTime<Utc>,
    /// One line: what happened, e.g. `12 events in 1 min (threshold 10)`.
    pub summary: String,
}

/// Lifecycle of a governance task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "engine", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    Open,
    InProgress,
    Done,
}

/// How urgent a task is: high for new errors, medium for recurring ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "engine", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TaskPriority {
    High,
    Medium,
    Low,
}

// ---------------------------------------------------------------------------------------------
// Notifications (the outbox).

/// Where a notification goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "engine", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum NotifyChannel {
    /// The Slack incoming webhook (`SLACK_WEBHOOK_URL`).
    Slack,
    /// The generic JSON webhook (`ALERT_WEBHOOK_URL`).
    Webhook,
    /// The fix generator (`AUTO_FIX_ENABLED`, fixable groups only).
    Fix,
}

names!(NotifyChannel parse "channel" listed {
    Slack => "slack",
    Webhook => "webhook",
    Fix => "fix",
});

/// Where a notification is in its delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "engine", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Not delivered yet (waiting, in flight or waiting for a retry).
    Pending,
    /// The receiver accepted it.
    Sent,
    /// Given up: a permanent error, or too many attempts. `last_error` says why.
    Failed,
}

names!(DeliveryStatus parse "status" listed {
    Pending => "pending",
    Sent => "sent",
    Failed => "failed",
});

/// One notification of the outbox, as the API shows it (no URL, no secret: those are only in
/// the configuration).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "engine", derive(utoipa::ToSchema))]
pub struct Notification {
    pub id: i64,
    /// `{rule_id}:{fingerprint or service}:{fired_at ms}:{channel}`; sent as `Idempotency-Key`.
    pub idempotency_key: String,
    pub channel: NotifyChannel,
    pub status: DeliveryStatus,
    /// Deliveries started (a delivery interrupted by a shutdown is not counted).
    pub attempts: i64,
    /// When the next attempt may start (while one is in flight: the end of its claim).
    pub next_attempt_at: DateTime<Utc>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub alert: Alert,
    /// The body sent (Slack Block Kit message or the webhook's JSON).
    #[cfg_attr(feature = "engine", schema(value_type = Object))]
    pub payload: serde_json::Value,
}

names!(TaskStatus parse "task status" listed {
    Open => "open",
    InProgress => "in_progress",
    Done => "done",
});

names!(TaskPriority parse "task priority" listed {
    High => "high",
    Medium => "medium",
    Low => "low",
});

/// A governance task: someone should look at an error group. A group has at most one task
/// that is not done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "engine", derive(utoipa::ToSchema))]
pub struct Task {
    pub id: i64,
    /// The group the task is about.
    pub fingerprint: String,
    pub title: String,
    /// Markdown.
    pub description: String,
    pub priority: TaskPriority,
    /// What kind of work it is: `investigate_error`.
    pub task_type: String,
    pub status: TaskStatus,
    /// The group's occurrences when the task was opened or last triggered.
    pub occurrences: i64,
    /// Name of the alert rule that opened it (`None`: opened by hand).
    pub rule: Option<String>,
    /// `{fingerprint, occurrences, rule, rule_type, links: {group, api}}`.
    #[cfg_attr(feature = "engine", schema(value_type = Object))]
    pub metadata: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Oldest first; only when the task is read on its own (`GET /api/tasks/{id}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comments: Option<Vec<TaskComment>>,
}

/// A note on a task (a rule fired again, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "engine", derive(utoipa::ToSchema))]
pub struct TaskComment {
    pub id: i64,
    pub task_id: i64,
    /// Markdown.
    pub body: String,
    pub created_at: DateTime<Utc>,
}

/// One recorded change of a group's status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "engine", derive(utoipa::ToSchema))]
pub struct GroupStatusChange {
    pub id: i64,
    pub fingerprint: String,
    pub from: GroupStatus,
    pub to: GroupStatus,
    /// Who changed it: `admin`, `anonymous` (no admin token configured) or `signalbox` (the
    /// lifecycle job and the write path).
    pub actor: String,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

// ---------------------------------------------------------------------------------------------
// Probes: uptime, latency, TLS certificate and DNS checks of a URL.

/// A URL Signalbox checks on an interval (the `probe_targets` table).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "engine", derive(utoipa::ToSchema))]
pub struct ProbeTarget {
    pub id: i64,
    /// Unique; the key of its alerts (`service`) and of its metrics (`probe` label).
    pub name: String,
    /// `http://` or `https://`.
    pub url: String,
    pub interval_seconds: u32,
    pub timeout_ms: u32,
    /// The status a healthy answer has.
    pub expected_status: u16,
    /// Text the body must contain (first 1 MiB), if any.
    pub body_contains: Option<String>,
    /// Check the certificate chain (false: any certificate is accepted, its expiry still read).
    pub tls_verify: bool,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
}

/// The settings of a probe, validated (what is stored in `probe_targets`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "engine", derive(utoipa::ToSchema))]
pub struct ProbeSpec {
    pub name: String,
    pub url: String,
    pub interval_seconds: u32,
    pub timeout_ms: u32,
    pub expected_status: u16,
    pub body_contains: Option<String>,
    pub tls_verify: bool,
    pub enabled: bool,
}

impl ProbeTarget {
    /// Its settings.
    pub fn spec(&self) -> ProbeSpec {
        ProbeSpec {
            name: self.name.clone(),
            url: self.url.clone(),
            interval_seconds: self.interval_seconds,
            timeout_ms: self.timeout_ms,
            expected_status: self.expected_status,
            body_contains: self.body_contains.clone(),
            tls_verify: self.tls_verify,
            enabled: self.enabled,
        }
    }
}

/// What part of a probe failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "engine", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ProbeFailure {
    /// The host name did not resolve.
    Dns,
    /// No TCP connection (refused, unreachable).
    Connect,
    /// The TLS handshake failed (untrusted, expired or wrong-host certificate).
    Tls,
    /// No complete answer within the timeout.
    Timeout,
    /// An answer with another status than expected.
    Status,
    /// The body does not contain the expected text.
    Body,
}

names!(ProbeFailure parse "probe failure" {
    Dns => "dns",
    Connect => "connect",
    Tls => "tls",
    Timeout => "timeout",
    Status => "status",
    Body => "body",
});

/// One run of a probe (the `probe_results` table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "engine", derive(utoipa::ToSchema))]
pub struct ProbeResult {
    pub probe_id: i64,
    pub at: DateTime<Utc>,
    /// Expected status and body, in time.
    pub ok: bool,
    /// `None` when the probe succeeded.
    pub failure: Option<ProbeFailure>,
    /// One line: what went wrong.
    pub error: Option<String>,
    pub status: Option<u16>,
    /// Connect + TLS + request + body, in milliseconds (DNS not included).
    pub latency_ms: Option<f64>,
    /// Name resolution time, in milliseconds (`None`: the URL's host is an IP address).
    pub dns_ms: Option<f64>,
    /// The addresses the host resolved to, comma-separated.
    pub dns_addresses: Option<String>,
    /// When the peer certificate expires (https only).
    pub cert_not_after: Option<DateTime<Utc>>,
}

/// Latency percentiles of one window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "engine", derive(utoipa::ToSchema))]
pub struct LatencyWindow {
    /// `1h` or `24h`.
    pub window: String,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    /// Runs in the window, and how many succeeded.
    pub runs: u32,
    pub ok: u32,
}

/// A probe target with its latest state, as the API and the UI show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "engine", derive(utoipa::ToSchema))]
pub struct ProbeStatus {
    pub target: ProbeTarget,
    pub last: Option<ProbeResult>,
    /// Failed runs since the last success.
    pub consecutive_failures: u32,
    /// Days until the certificate expires (negative: expired), from the latest run.
    pub cert_days_left: Option<f64>,
    pub windows: Vec<LatencyWindow>,
}

// ---------------------------------------------------------------------------------------------
// Deploy verification: checks run against a new deployment, and what changed after it.

/// What a deploy check requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "engine", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeployCheckKind {
    /// The app's health path answers 2xx.
    Health,
    /// A configured API endpoint answers 2xx.
    Endpoint,
    /// A static asset answers 2xx with a body.
    Asset,
    /// The app's detailed health says its database is reachable.
    Database,
}

names!(DeployCheckKind parse "deploy check" {
    Health => "health",
    Endpoint => "endpoint",
    Asset => "asset",
    Database => "database",
});

/// One check of a deploy, with its outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "engine", derive(utoipa::ToSchema))]
pub struct DeployCheck {
    pub kind: DeployCheckKind,
    /// The path requested.
    pub path: String,
    pub ok: bool,
    pub status: Option<u16>,
    pub latency_ms: Option<f64>,
    /// Why it failed.
    pub error: Option<String>,
}

/// Where a deploy stands with verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "engine", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeployState {
    /// Listed by the platform; checked once it is `SUCCESS`.
    Pending,
    /// Its checks ran (or none were configured); its new groups are counted.
    Checked,
    /// Created before Signalbox watched: recorded, not checked.
    Skipped,
    /// Seen in logs only; the platform never listed it, so there is nothing to check.
    Logged,
}

impl DeployState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeployState::Pending => "pending",
            DeployState::Checked => "checked",
            DeployState::Skipped => "skipped",
            DeployState::Logged => "logged",
        }
    }
}

impl FromStr for DeployState {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            DeployState::Pending,
            DeployState::Checked,
            DeployState::Skipped,
            DeployState::Logged,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
        .ok_or_else(|| format!("unknown deploy state '{s}'"))
    }
}

/// A deployment of a watched service, as Signalbox saw it: listed by the platform, seen in
/// logs, or both (one deploy per service and id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "engine", derive(utoipa::ToSchema))]
pub struct Deploy {
    /// The platform's deployment id (or the deployment name the logs carry).
    pub id: String,
    pub service: String,
    /// The platform's status; empty when it never listed the deploy (seen in logs only).
    pub status: String,
    /// When the platform created it; for a deploy seen in logs only, its first line's time.
    pub created_at: DateTime<Utc>,
    /// Where it is served (checks run against it).
    pub url: Option<String>,
    /// When its checks ran (`None`: not yet, or none configured).
    pub verified_at: Option<DateTime<Utc>>,
    pub checks_passed: u32,
    pub checks_failed: u32,
    /// Error groups of its service first seen after it and before the next deploy.
    pub new_groups: u32,
    /// Where it stands with verification.
    pub state: DeployState,
    /// The deployed commit, when the platform says.
    pub commit_sha: Option<String>,
    /// Its first and last log line, when any was seen.
    pub first_log_at: Option<DateTime<Utc>>,
    pub last_log_at: Option<DateTime<Utc>>,
}

impl Deploy {
    /// Its report in the JSON API: `/api/deploys/{id}?service={service}`.
    pub fn report_path(&self) -> String {
        format!(
            "/api/deploys/{}?service={}",
            percent_encode(&self.id),
            percent_encode(&self.service)
        )
    }

    /// The first 7 characters of the id, as people quote it.
    pub fn short_id(&self) -> &str {
        let end = self
            .id
            .char_indices()
            .nth(7)
            .map_or(self.id.len(), |(i, _)| i);
        &self.id[..end]
    }
}

/// How one error group's rate moved across a deploy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "engine", derive(utoipa::ToSchema))]
pub struct GroupChange {
    pub fingerprint: String,
    pub template: String,
    /// Occurrences in the window before the deploy, and after it.
    pub before: i64,
    pub after: i64,
    /// First seen after the deploy.
    pub new: bool,
}

/// A deploy with its checks and the groups whose rate it changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "engine", derive(utoipa::ToSchema))]
pub struct DeployReport {
    pub deploy: Deploy,
    pub checks: Vec<DeployCheck>,
    /// One line: `deploy abc1234 introduced 3 new groups; 4 of 5 checks passed`.
    pub summary: String,
    /// Minutes compared on each side of the deploy.
    pub window_minutes: u32,
    /// New groups, then groups whose rate at least doubled, then those that went quiet.
    pub changes: Vec<GroupChange>,
}
