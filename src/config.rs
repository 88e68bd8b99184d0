//! Settings, read from environment variables and validated once at start-up.
//!
//! Every error names the variable and what is wrong with it, in one line.

use std::fmt;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::pipeline::rules::{parse_rules, GroupingRule};
use crate::pipeline::scrub::Scrubber;
use crate::pipeline::Pipeline;

/// A variable has a value Signalbox cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{var}: {message}")]
pub struct ConfigError {
    pub var: &'static str,
    pub message: String,
}

/// Output format of Signalbox's own logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Every setting Signalbox reads.
#[derive(Clone)]
pub struct Config {
    pub port: u16,
    pub database_url: String,
    pub log_format: LogFormat,
    /// `RUST_LOG` or `LOG_LEVEL`: a tracing filter.
    pub log_filter: String,
    pub admin_token: Option<SecretString>,
    /// `SIGNALBOX_PUBLIC_READ`: with an admin token, whether the UI and the read API are open
    /// without logging in (true) or need the session or the token (false).
    pub public_read: bool,
    /// Run the built-in demo source (fake services producing realistic errors).
    pub demo: bool,
    pub monitoring_enabled: bool,
    pub monitor_interval: Duration,
    /// How long the monitor lease lasts without renewal (takeover time across replicas).
    pub lease: Duration,
    pub retention_days: u32,
    pub railway_api_token: Option<SecretString>,
    /// `RAILWAY_TOKEN`: a project token (the Railway CLI's name for one).
    pub railway_project_token: Option<SecretString>,
    pub railway_project_id: Option<String>,
    pub railway_environment_id: Option<String>,
    pub railway_api_url: String,
    pub railway_ws_url: String,
    /// Service names or ids to follow (empty: all).
    pub railway_services: Vec<String>,
    pub railway_log_filter: Option<String>,
    pub railway_stream: bool,
    pub railway_lookback: Duration,
    pub railway_page_size: usize,
    pub railway_lag: Duration,
    pub anthropic_api_key: Option<SecretString>,
    pub github_token: Option<SecretString>,
    pub auto_fix_enabled: bool,
    /// `ANTHROPIC_MODEL`: the model the fix generator asks.
    pub anthropic_model: String,
    /// `ANTHROPIC_BASE_URL`: the Messages API's base (a fake in tests).
    pub anthropic_base_url: String,
    /// `ANTHROPIC_OUTPUT_MODE`: `json_schema` or `tool`.
    pub anthropic_output_mode: crate::fixer::OutputMode,
    /// `GITHUB_API_URL`: the REST API's base (a fake in tests).
    pub github_api_url: String,
    /// `GITHUB_REPOSITORY`: (owner, name) of the watched application's repository.
    pub github_repository: Option<(String, String)>,
    /// `RAILWAY_GIT_COMMIT_SHA`: the deployed commit, whose source the fix generator reads.
    pub deployed_commit: Option<String>,
    /// `GITHUB_ISSUES_ENABLED`: mirror governance tasks to GitHub issues.
    pub github_issues_enabled: bool,
    /// `AUTO_FIX_MAX_PER_HOUR` and `AUTO_FIX_MAX_PER_DAY`: fixes generated at most.
    pub fix_max_per_hour: u32,
    pub fix_max_per_day: u32,
    pub loki_enabled: bool,
    pub loki_url: Option<String>,
    /// LogQL log query the Loki source reads.
    pub loki_query: String,
    pub loki_username: Option<String>,
    pub loki_password: Option<SecretString>,
    pub loki_bearer_token: Option<SecretString>,
    /// Sent as `X-Scope-OrgID` to a multi-tenant Loki.
    pub loki_tenant_id: Option<String>,
    /// How far behind now the Loki source reads, so late lines are not missed.
    pub loki_delay: Duration,
    /// Entries per Loki query.
    pub loki_batch_size: usize,
    /// How far back the Loki source's first poll starts.
    pub loki_lookback: Duration,
    pub slack_webhook_url: Option<SecretString>,
    /// `ALERT_WEBHOOK_URL`: the generic JSON webhook (a secret too: URLs often carry tokens).
    pub alert_webhook_url: Option<SecretString>,
    /// `ALERT_WEBHOOK_SECRET`: signs the webhook's bodies (unsigned when unset).
    pub alert_webhook_secret: Option<SecretString>,
    /// Directory holding the built site (`pkg/`, stylesheet, static files).
    pub site_root: String,
    /// Built-in scrubbing rules plus `SCRUB_PATTERNS`.
    pub scrubber: Scrubber,
    /// `GROUPING_RULES`: custom grouping rules, first match wins.
    pub grouping_rules: Vec<GroupingRule>,
    /// `FINGERPRINT_SCOPE=service`: the same error in two services is two groups.
    pub scope_by_service: bool,
    /// Base URL clients reach Signalbox at (the host part of DSNs).
    pub public_url: String,
    /// Events per minute one project may push before it gets 429s.
    pub ingest_rate_limit: u64,
    /// `SIGNALBOX_PROBES`: probes added at start when no probe of their name is stored.
    pub probes: Vec<crate::model::ProbeSpec>,
    /// `DEPLOY_CHECKS`: the checks run against new deployments, per service.
    pub deploy_checks: Vec<crate::deploys::spec::DeployChecks>,
    /// `DEPLOY_COMPARE_MINUTES`: minutes compared on each side of a deploy.
    pub deploy_compare_minutes: u32,
}

/// The Loki source's query when `LOKI_QUERY` is unset: every stream that has a job.
pub const DEFAULT_LOKI_QUERY: &str = r#"{job=~".+"}"#;

/// One documented variable: the README's configuration table is checked against this list.
pub struct VarDoc {
    pub name: &'static str,
    pub default: &'static str,
    pub meaning: &'static str,
}

/// Every variable Signalbox reads.
pub const VARIABLES: &[VarDoc] = &[
    VarDoc {
        name: "PORT",
        default: "3000",
        meaning: "HTTP port, bound on 0.0.0.0",
    },
    VarDoc {
        name: "DATABASE_URL",
        default: "sqlite://signalbox.db",
        meaning: "sqlite://FILE (embedded) or postgres://USER:PASS@HOST/DB",
    },
    VarDoc {
        name: "LOG_FORMAT",
        default: "text",
        meaning: "text or json: format of Signalbox's own logs",
    },
    VarDoc {
        name: "LOG_LEVEL",
        default: "info",
        meaning: "Level of Signalbox's own logs (RUST_LOG, a full tracing filter, wins when set)",
    },
    VarDoc {
        name: "SIGNALBOX_ADMIN_TOKEN",
        default: "unset",
        meaning: "When set, mutating API calls need `Authorization: Bearer TOKEN`",
    },
    VarDoc {
        name: "SIGNALBOX_PUBLIC_READ",
        default: "true",
        meaning: "With SIGNALBOX_ADMIN_TOKEN set: false closes the UI and the read API to visitors who have not logged in (`/login`) or sent the token",
    },
    VarDoc {
        name: "SIGNALBOX_DEMO",
        default: "false",
        meaning: "Run the built-in demo source: fake services with realistic errors",
    },
    VarDoc {
        name: "ERROR_MONITORING_ENABLED",
        default: "true",
        meaning: "Run the sources and the monitor loop",
    },
    VarDoc {
        name: "ERROR_MONITOR_INTERVAL",
        default: "300",
        meaning: "Seconds between two polls of the poll sources",
    },
    VarDoc {
        name: "SIGNALBOX_LEASE_SECONDS",
        default: "20",
        meaning: "With several replicas, one runs the sources; another takes over this long after it dies",
    },
    VarDoc {
        name: "RETENTION_DAYS",
        default: "7",
        meaning: "Days raw logs and occurrences are kept; groups and counts stay",
    },
    VarDoc {
        name: "RAILWAY_API_TOKEN",
        default: "unset",
        meaning: "Railway account/team or project token (Railway source)",
    },
    VarDoc {
        name: "RAILWAY_TOKEN",
        default: "unset",
        meaning:
            "Railway project token (alternative to RAILWAY_API_TOKEN; scope read from the token)",
    },
    VarDoc {
        name: "RAILWAY_PROJECT_ID",
        default: "unset",
        meaning: "Railway project to watch (optional with a project token)",
    },
    VarDoc {
        name: "RAILWAY_ENVIRONMENT_ID",
        default: "unset",
        meaning: "Railway environment to watch (optional with a project token)",
    },
    VarDoc {
        name: "RAILWAY_API_URL",
        default: "https://backboard.railway.com/graphql/v2",
        meaning: "Railway GraphQL endpoint (a fake server in tests)",
    },
    VarDoc {
        name: "RAILWAY_WS_URL",
        default: "from RAILWAY_API_URL",
        meaning: "Railway WebSocket endpoint for the log stream",
    },
    VarDoc {
        name: "RAILWAY_SERVICES",
        default: "all",
        meaning: "Comma-separated service names or ids to follow",
    },
    VarDoc {
        name: "RAILWAY_LOG_FILTER",
        default: "unset",
        meaning: "Railway log filter applied at the source, e.g. `@level:error`",
    },
    VarDoc {
        name: "RAILWAY_STREAM",
        default: "true",
        meaning: "Follow the log subscription (WebSocket) between polls",
    },
    VarDoc {
        name: "RAILWAY_LOOKBACK_SECONDS",
        default: "3600",
        meaning: "How far back the very first Railway poll reads",
    },
    VarDoc {
        name: "RAILWAY_LAG_SECONDS",
        default: "5",
        meaning: "A Railway poll reads up to this many seconds ago (lines still arriving)",
    },
    VarDoc {
        name: "RAILWAY_PAGE_SIZE",
        default: "500",
        meaning: "Log lines per Railway query",
    },
    VarDoc {
        name: "ANTHROPIC_API_KEY",
        default: "unset",
        meaning: "Claude API key (fix generator)",
    },
    VarDoc {
        name: "GITHUB_TOKEN",
        default: "unset",
        meaning: "GitHub token (pull requests, issues)",
    },
    VarDoc {
        name: "AUTO_FIX_ENABLED",
        default: "false",
        meaning: "Generate fixes without a person pressing Generate Fix",
    },
    VarDoc {
        name: "ANTHROPIC_MODEL",
        default: crate::fixer::DEFAULT_MODEL,
        meaning: "Claude model the fix generator asks",
    },
    VarDoc {
        name: "ANTHROPIC_BASE_URL",
        default: "https://api.anthropic.com",
        meaning: "Anthropic API base URL (a fake server in tests and the demo)",
    },
    VarDoc {
        name: "ANTHROPIC_OUTPUT_MODE",
        default: "json_schema",
        meaning: "How the fix is asked for: json_schema (output_config) or tool (a forced strict tool)",
    },
    VarDoc {
        name: "GITHUB_API_URL",
        default: "https://api.github.com",
        meaning: "GitHub REST API base URL (a fake server in tests and the demo)",
    },
    VarDoc {
        name: "GITHUB_REPOSITORY",
        default: "unset",
        meaning: "owner/name of the repository whose source fixes are made against",
    },
    VarDoc {
        name: "RAILWAY_GIT_COMMIT_SHA",
        default: "unset",
        meaning: "Deployed commit; fixes read the source at it (else the default branch)",
    },
    VarDoc {
        name: "GITHUB_ISSUES_ENABLED",
        default: "false",
        meaning: "Mirror governance tasks to GitHub issues (needs GITHUB_TOKEN and GITHUB_REPOSITORY)",
    },
    VarDoc {
        name: "AUTO_FIX_MAX_PER_HOUR",
        default: "5",
        meaning: "Fixes generated at most per hour (others wait in the queue)",
    },
    VarDoc {
        name: "AUTO_FIX_MAX_PER_DAY",
        default: "20",
        meaning: "Fixes generated at most per day",
    },
    VarDoc {
        name: "LOKI_ENABLED",
        default: "false",
        meaning: "Read logs from Grafana Loki",
    },
    VarDoc {
        name: "LOKI_URL",
        default: "unset",
        meaning: "Loki base URL, e.g. http://loki:3100",
    },
    VarDoc {
        name: "LOKI_QUERY",
        default: DEFAULT_LOKI_QUERY,
        meaning: "LogQL log query the Loki source reads (a stream selector, optionally with line filters)",
    },
    VarDoc {
        name: "LOKI_USERNAME",
        default: "unset",
        meaning: "Loki basic-auth user (Grafana Cloud: the instance id); needs LOKI_PASSWORD",
    },
    VarDoc {
        name: "LOKI_PASSWORD",
        default: "unset",
        meaning: "Loki basic-auth password (Grafana Cloud: an access-policy token)",
    },
    VarDoc {
        name: "LOKI_BEARER_TOKEN",
        default: "unset",
        meaning: "Bearer token for a proxy in front of Loki (instead of basic auth)",
    },
    VarDoc {
        name: "LOKI_TENANT_ID",
        default: "unset",
        meaning: "Tenant sent as X-Scope-OrgID to a multi-tenant Loki",
    },
    VarDoc {
        name: "LOKI_DELAY_SECONDS",
        default: "30",
        meaning: "How far behind now the Loki source reads, so lines ingested late are not missed",
    },
    VarDoc {
        name: "LOKI_BATCH_SIZE",
        default: "1000",
        meaning: "Entries per Loki query (1-5000; lowered to Loki's own maximum when that is less)",
    },
    VarDoc {
        name: "LOKI_LOOKBACK_SECONDS",
        default: "3600",
        meaning: "How far back the Loki source starts on its first run",
    },
    VarDoc {
        name: "SLACK_WEBHOOK_URL",
        default: "unset",
        meaning: "Slack incoming webhook for notifications",
    },
    VarDoc {
        name: "ALERT_WEBHOOK_URL",
        default: "unset",
        meaning: "Generic JSON webhook for notifications (any http(s) URL)",
    },
    VarDoc {
        name: "ALERT_WEBHOOK_SECRET",
        default: "unset",
        meaning: "Signs webhook bodies (X-Signalbox-Signature); without it they are sent unsigned",
    },
    VarDoc {
        name: "SIGNALBOX_PROBES",
        default: "unset",
        meaning: "JSON list of probes added at start (those not stored yet), e.g. `[{\"name\": \"api\", \"url\": \"https://api.example.com/health\"}]`",
    },
    VarDoc {
        name: "DEPLOY_CHECKS",
        default: "unset",
        meaning: "JSON list of checks run against each new successful Railway deployment, per service",
    },
    VarDoc {
        name: "DEPLOY_COMPARE_MINUTES",
        default: "30",
        meaning: "Minutes of error counts compared before and after a deploy",
    },
    VarDoc {
        name: "LEPTOS_SITE_ROOT",
        default: "target/site",
        meaning: "Directory of the built UI assets",
    },
];

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup` (the environment, or a table in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let secret = |name: &str| get(name).map(SecretString::from);
        let log_filter = get("RUST_LOG")
            .or_else(|| get("LOG_LEVEL"))
            .unwrap_or_else(|| "info".to_string());
        let config = Config {
            port: parse_port(get("PORT"))?,
            database_url: parse_database_url(get("DATABASE_URL"))?,
            log_format: match get("LOG_FORMAT").as_deref() {
                None | Some("text") => LogFormat::Text,
                Some("json") => LogFormat::Json,
                Some(other) => return Err(invalid("LOG_FORMAT", other, "expected text or json")),
            },
            log_filter,
            admin_token: secret("SIGNALBOX_ADMIN_TOKEN"),
            public_read: parse_bool("SIGNALBOX_PUBLIC_READ", get("SIGNALBOX_PUBLIC_READ"), true)?,
            demo: parse_bool("SIGNALBOX_DEMO", get("SIGNALBOX_DEMO"), false)?,
            monitoring_enabled: parse_bool(
                "ERROR_MONITORING_ENABLED",
                get("ERROR_MONITORING_ENABLED"),
                true,
            )?,
            monitor_interval: Duration::from_secs(parse_number(
                "ERROR_MONITOR_INTERVAL",
                get("ERROR_MONITOR_INTERVAL"),
                300,
                1..=86_400,
            )?),
            lease: Duration::from_secs(parse_number(
                "SIGNALBOX_LEASE_SECONDS",
                get("SIGNALBOX_LEASE_SECONDS"),
                20,
                2..=600,
            )?),
            retention_days: parse_number("RETENTION_DAYS", get("RETENTION_DAYS"), 7, 1..=3650)?
                as u32,
            railway_api_token: secret("RAILWAY_API_TOKEN"),
            railway_project_token: secret("RAILWAY_TOKEN"),
            railway_project_id: get("RAILWAY_PROJECT_ID"),
            railway_environment_id: get("RAILWAY_ENVIRONMENT_ID"),
            railway_api_url: parse_http_url(
                "RAILWAY_API_URL",
                get("RAILWAY_API_URL"),
                "https://backboard.railway.com/graphql/v2",
            )?,
            railway_ws_url: match get("RAILWAY_WS_URL") {
                Some(url) if !(url.starts_with("ws://") || url.starts_with("wss://")) => {
                    return Err(invalid(
                        "RAILWAY_WS_URL",
                        &url,
                        "expected a ws:// or wss:// URL",
                    ))
                }
                other => other.unwrap_or_default(),
            },
            railway_services: get("RAILWAY_SERVICES")
                .map(|v| {
                    v.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            railway_log_filter: get("RAILWAY_LOG_FILTER"),
            railway_stream: parse_bool("RAILWAY_STREAM", get("RAILWAY_STREAM"), true)?,
            railway_lookback: Duration::from_secs(parse_number(
                "RAILWAY_LOOKBACK_SECONDS",
                get("RAILWAY_LOOKBACK_SECONDS"),
                3600,
                0..=90 * 86_400,
            )?),
            railway_page_size: parse_number(
                "RAILWAY_PAGE_SIZE",
                get("RAILWAY_PAGE_SIZE"),
                500,
                10..=5000,
            )? as usize,
            railway_lag: Duration::from_secs(parse_number(
                "RAILWAY_LAG_SECONDS",
                get("RAILWAY_LAG_SECONDS"),
                5,
                0..=3600,
            )?),
            anthropic_api_key: secret("ANTHROPIC_API_KEY"),
            github_token: secret("GITHUB_TOKEN"),
            auto_fix_enabled: parse_bool("AUTO_FIX_ENABLED", get("AUTO_FIX_ENABLED"), false)?,
            anthropic_model: get("ANTHROPIC_MODEL")
                .unwrap_or_else(|| crate::fixer::DEFAULT_MODEL.to_string()),
            anthropic_base_url: parse_http_url(
                "ANTHROPIC_BASE_URL",
                get("ANTHROPIC_BASE_URL"),
                "https://api.anthropic.com",
            )?,
            anthropic_output_mode: match get("ANTHROPIC_OUTPUT_MODE") {
                None => crate::fixer::OutputMode::JsonSchema,
                Some(v) => v.parse().map_err(|message| ConfigError {
                    var: "ANTHROPIC_OUTPUT_MODE",
                    message,
                })?,
            },
            github_api_url: parse_http_url(
                "GITHUB_API_URL",
                get("GITHUB_API_URL"),
                "https://api.github.com",
            )?,
            github_repository: match get("GITHUB_REPOSITORY") {
                None => None,
                Some(v) => Some(parse_repository(&v)?),
            },
            deployed_commit: match get("RAILWAY_GIT_COMMIT_SHA") {
                Some(sha) if !sha.chars().all(|c| c.is_ascii_hexdigit()) || sha.len() < 7 => {
                    return Err(invalid(
                        "RAILWAY_GIT_COMMIT_SHA",
                        &sha,
                        "expected a commit sha (hex)",
                    ))
                }
                other => other,
            },
            github_issues_enabled: parse_bool(
                "GITHUB_ISSUES_ENABLED",
                get("GITHUB_ISSUES_ENABLED"),
                false,
            )?,
            fix_max_per_hour: parse_number(
                "AUTO_FIX_MAX_PER_HOUR",
                get("AUTO_FIX_MAX_PER_HOUR"),
                5,
                0..=1000,
            )? as u32,
            fix_max_per_day: parse_number(
                "AUTO_FIX_MAX_PER_DAY",
                get("AUTO_FIX_MAX_PER_DAY"),
                20,
                0..=10_000,
            )? as u32,
            loki_enabled: parse_bool("LOKI_ENABLED", get("LOKI_ENABLED"), false)?,
            loki_url: match get("LOKI_URL") {
                Some(url) if !(url.starts_with("http://") || url.starts_with("https://")) => {
                    return Err(invalid(
                        "LOKI_URL",
                        &url,
                        "expected an http:// or https:// URL",
                    ))
                }
                other => other,
            },
            loki_query: get("LOKI_QUERY").unwrap_or_else(|| DEFAULT_LOKI_QUERY.to_string()),
            loki_username: get("LOKI_USERNAME"),
            loki_password: secret("LOKI_PASSWORD"),
            loki_bearer_token: secret("LOKI_BEARER_TOKEN"),
            loki_tenant_id: get("LOKI_TENANT_ID"),
            loki_delay: Duration::from_secs(parse_number(
                "LOKI_DELAY_SECONDS",
                get("LOKI_DELAY_SECONDS"),
                30,
                0..=3600,
            )?),
            loki_batch_size: parse_number(
                "LOKI_BATCH_SIZE",
                get("LOKI_BATCH_SIZE"),
                1000,
                1..=5000,
            )? as usize,
            loki_lookback: Duration::from_secs(parse_number(
                "LOKI_LOOKBACK_SECONDS",
                get("LOKI_LOOKBACK_SECONDS"),
                3600,
                0..=30 * 86_400,
            )?),
            slack_webhook_url: match get("SLACK_WEBHOOK_URL") {
                Some(url) if !url.starts_with("https://") && !url.starts_with("http://") => {
                    return Err(ConfigError {
                        var: "SLACK_WEBHOOK_URL",
                        message: "expected an https:// URL".into(),
                    })
                }
                other => other.map(SecretString::from),
            },
            alert_webhook_url: match get("ALERT_WEBHOOK_URL") {
                Some(url) if !url.starts_with("https://") && !url.starts_with("http://") => {
                    return Err(ConfigError {
                        var: "ALERT_WEBHOOK_URL",
                        message: "expected an http:// or https:// URL".into(),
                    })
                }
                other => other.map(SecretString::from),
            },
            alert_webhook_secret: secret("ALERT_WEBHOOK_SECRET"),
            site_root: get("LEPTOS_SITE_ROOT").unwrap_or_else(|| "target/site".to_string()),
            scrubber: parse_scrub_patterns(get("SCRUB_PATTERNS"))?,
            grouping_rules: match get("GROUPING_RULES") {
                None => Vec::new(),
                Some(json) => parse_rules(&json).map_err(|message| ConfigError {
                    var: "GROUPING_RULES",
                    message,
                })?,
            },
            public_url: String::new(),
            ingest_rate_limit: parse_number(
                "INGEST_RATE_LIMIT",
                get("INGEST_RATE_LIMIT"),
                6000,
                1..=100_000_000,
            )?,
            probes: match get("SIGNALBOX_PROBES") {
                None => Vec::new(),
                Some(json) => {
                    crate::probes::spec::parse_list(&json).map_err(|message| ConfigError {
                        var: "SIGNALBOX_PROBES",
                        message,
                    })?
                }
            },
            deploy_checks: match get("DEPLOY_CHECKS") {
                None => Vec::new(),
                Some(json) => {
                    crate::deploys::spec::parse_list(&json).map_err(|message| ConfigError {
                        var: "DEPLOY_CHECKS",
                        message,
                    })?
                }
            },
            deploy_compare_minutes: parse_number(
                "DEPLOY_COMPARE_MINUTES",
                get("DEPLOY_COMPARE_MINUTES"),
                u64::from(crate::deploys::DEFAULT_WINDOW_MINUTES),
                1..=1440,
            )? as u32,
            scope_by_service: match get("FINGERPRINT_SCOPE").as_deref() {
                None | Some("global") => false,
                Some("service") => true,
                Some(other) => {
                    return Err(invalid(
                        "FINGERPRINT_SCOPE",
                        other,
                        "expected global or service",
                    ))
                }
            },
        };
        let mut config = config;
        config.public_url = match get("SIGNALBOX_PUBLIC_URL") {
            Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
                url.trim_end_matches('/').to_string()
            }
            Some(url) => {
                return Err(invalid(
                    "SIGNALBOX_PUBLIC_URL",
                    &url,
                    "expected an http:// or https:// URL",
                ))
            }
            None => format!("http://localhost:{}", config.port),
        };
        if config.railway_ws_url.is_empty() {
            config.railway_ws_url =
                crate::sources::railway::Settings::ws_url_for(&config.railway_api_url);
        }
        if config.loki_enabled && config.loki_url.is_none() {
            return Err(ConfigError {
                var: "LOKI_URL",
                message: "must be set when LOKI_ENABLED=true".into(),
            });
        }
        check_loki(&config)?;
        if config.github_issues_enabled
            && (config.github_token.is_none() || config.github_repository.is_none())
        {
            return Err(ConfigError {
                var: "GITHUB_ISSUES_ENABLED",
                message: "needs GITHUB_TOKEN and GITHUB_REPOSITORY".into(),
            });
        }
        Ok(config)
    }

    /// The custom grouping rules as the API and the UI show them.
    pub fn grouping_rule_views(&self) -> Vec<crate::model::RuleView> {
        self.grouping_rules.iter().map(|r| r.view()).collect()
    }

    /// The event pipeline these settings describe: scrubbing, grouping rules, scope.
    pub fn pipeline(&self) -> Pipeline {
        Pipeline::new(self.scrubber.clone())
            .with_rules(self.grouping_rules.clone())
            .scoped_by_service(self.scope_by_service)
    }

    /// The Railway source's settings, when a Railway token is set.
    pub fn railway(&self) -> Option<crate::sources::railway::Settings> {
        use crate::sources::railway::client::TokenKind;
        let (token, kind) = match (&self.railway_project_token, &self.railway_api_token) {
            (Some(token), _) => (token.clone(), Some(TokenKind::Project)),
            (None, Some(token)) => (token.clone(), None),
            (None, None) => return None,
        };
        Some(crate::sources::railway::Settings {
            api_url: self.railway_api_url.clone(),
            ws_url: self.railway_ws_url.clone(),
            token,
            token_kind: kind,
            project_id: self.railway_project_id.clone(),
            environment_id: self.railway_environment_id.clone(),
            services: self.railway_services.clone(),
            filter: self.railway_log_filter.clone(),
            interval: self.monitor_interval,
            stream: self.railway_stream,
            lookback: self.railway_lookback,
            page_size: self.railway_page_size,
            lag: self.railway_lag,
        })
    }

    /// The channels alerts are enqueued for (no URLs or secrets in it).
    pub fn notify_channels(&self) -> crate::notify::Channels {
        crate::notify::Channels {
            slack: self.slack_webhook_url.is_some(),
            webhook: self.alert_webhook_url.is_some(),
            auto_fix: self.auto_fix_enabled,
            public_url: self.public_url.clone(),
        }
    }

    /// The notifier's settings: the channels' URLs and secret, production timings.
    pub fn notifier(&self) -> crate::notify::Settings {
        crate::notify::Settings {
            slack_webhook_url: self.slack_webhook_url.clone(),
            webhook_url: self.alert_webhook_url.clone(),
            webhook_secret: self.alert_webhook_secret.clone(),
            ..crate::notify::Settings::new()
        }
    }

    /// The GitHub client settings of issue mirroring, when it is on.
    pub fn issue_mirror(&self) -> Option<crate::fixer::GitHubSettings> {
        let (owner, repo) = self.github_repository.clone()?;
        (self.github_issues_enabled && self.github_token.is_some()).then(|| {
            crate::fixer::GitHubSettings {
                token: self.github_token.clone(),
                api_url: self.github_api_url.clone(),
                owner,
                repo,
                max_attempts: 4,
                backoff_base: Duration::from_secs(2),
                max_wait: Duration::from_secs(120),
            }
        })
    }

    /// The state of each optional feature, with the reason when it is off.
    pub fn features(&self) -> Vec<Feature> {
        vec![
            Feature::new(
                "monitor",
                self.monitoring_enabled,
                "ERROR_MONITORING_ENABLED=false",
            ),
            Feature::new("demo_source", self.demo, "SIGNALBOX_DEMO is not set"),
            Feature::new(
                "railway_source",
                self.railway_api_token.is_some() || self.railway_project_token.is_some(),
                "RAILWAY_API_TOKEN (or RAILWAY_TOKEN) not set",
            ),
            Feature::new("loki_source", self.loki_enabled, "LOKI_ENABLED is not set"),
            Feature {
                name: "fix_generator",
                enabled: crate::fixer::off_reason(self).is_none(),
                reason: crate::fixer::off_reason(self),
            },
            Feature {
                name: "fix_pull_requests",
                enabled: crate::fixer::dry_run_reason(self).is_none(),
                reason: crate::fixer::dry_run_reason(self)
                    .map(|r| format!("dry run: fixes are stored, not pushed ({r})")),
            },
            Feature::new(
                "github_issues",
                self.github_issues_enabled,
                "GITHUB_ISSUES_ENABLED is not set",
            ),
            Feature::new(
                "slack_notifications",
                self.slack_webhook_url.is_some(),
                "SLACK_WEBHOOK_URL not set",
            ),
            Feature::new(
                "webhook_notifications",
                self.alert_webhook_url.is_some(),
                "ALERT_WEBHOOK_URL not set",
            ),
            Feature::new(
                "probes",
                self.monitoring_enabled,
                "ERROR_MONITORING_ENABLED=false (probes run with the monitor)",
            ),
            Feature::new(
                "deploy_checks",
                !self.deploy_checks.is_empty() && self.railway().is_some(),
                "DEPLOY_CHECKS and a Railway token are both needed (new groups per deploy are counted with the token alone)",
            ),
            Feature::new(
                "admin_auth",
                self.admin_token.is_some(),
                "SIGNALBOX_ADMIN_TOKEN not set: mutating API calls are open",
            ),
        ]
    }

    /// A new login session (see [`crate::session`]); `None` without an admin token.
    pub fn issue_session(&self, now: chrono::DateTime<chrono::Utc>) -> Option<String> {
        crate::session::issue(self.admin_token.as_ref()?.expose_secret(), now)
    }

    /// True when the request may change things: no admin token is configured, or it carries
    /// the token (`bearer`) or a valid session (`cookie`: the `Cookie` header).
    pub fn request_allowed(
        &self,
        bearer: Option<&str>,
        cookie: Option<&str>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> bool {
        let Some(token) = &self.admin_token else {
            return true;
        };
        self.admin_allows(bearer)
            || cookie
                .and_then(crate::session::from_cookie_header)
                .is_some_and(|v| crate::session::verify(token.expose_secret(), v, now))
    }

    /// True when the request may read the UI and the read API: reads are public, or it may
    /// change things.
    pub fn read_allowed(
        &self,
        bearer: Option<&str>,
        cookie: Option<&str>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> bool {
        self.public_read || self.request_allowed(bearer, cookie, now)
    }

    /// True when `token` is the admin token, or when no admin token is configured.
    pub fn admin_allows(&self, token: Option<&str>) -> bool {
        match &self.admin_token {
            None => true,
            Some(expected) => token.is_some_and(|t| {
                constant_time_eq(t.as_bytes(), expected.expose_secret().as_bytes())
            }),
        }
    }
}

impl fmt::Debug for Config {
    // Secrets print as "[set]"; the rest as is.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = |s: &Option<SecretString>| if s.is_some() { "[set]" } else { "[unset]" };
        f.debug_struct("Config")
            .field("port", &self.port)
            .field("database_url", &redact_url(&self.database_url))
            .field("log_format", &self.log_format)
            .field("log_filter", &self.log_filter)
            .field("admin_token", &set(&self.admin_token))
            .field("public_read", &self.public_read)
            .field("demo", &self.demo)
            .field("monitoring_enabled", &self.monitoring_enabled)
            .field("monitor_interval", &self.monitor_interval)
            .field("retention_days", &self.retention_days)
            .field("railway_api_token", &set(&self.railway_api_token))
            .field("railway_project_token", &set(&self.railway_project_token))
            .field("railway_api_url", &redact_url(&self.railway_api_url))
            .field("railway_services", &self.railway_services)
            .field("railway_log_filter", &self.railway_log_filter)
            .field("railway_stream", &self.railway_stream)
            .field("railway_project_id", &self.railway_project_id)
            .field("railway_environment_id", &self.railway_environment_id)
            .field("anthropic_api_key", &set(&self.anthropic_api_key))
            .field("github_token", &set(&self.github_token))
            .field("auto_fix_enabled", &self.auto_fix_enabled)
            .field("anthropic_model", &self.anthropic_model)
            .field("anthropic_base_url", &self.anthropic_base_url)
            .field("github_api_url", &self.github_api_url)
            .field("github_repository", &self.github_repository)
            .field("fix_max_per_hour", &self.fix_max_per_hour)
            .field("fix_max_per_day", &self.fix_max_per_day)
            .field("loki_enabled", &self.loki_enabled)
            .field("loki_url", &self.loki_url.as_deref().map(redact_url))
            .field("loki_query", &self.loki_query)
            .field("loki_username", &self.loki_username)
            .field("loki_password", &set(&self.loki_password))
            .field("loki_bearer_token", &set(&self.loki_bearer_token))
            .field("loki_tenant_id", &self.loki_tenant_id)
            .field("loki_delay", &self.loki_delay)
            .field("loki_batch_size", &self.loki_batch_size)
            .field("loki_lookback", &self.loki_lookback)
            .field("slack_webhook_url", &set(&self.slack_webhook_url))
            .field("alert_webhook_url", &set(&self.alert_webhook_url))
            .field("alert_webhook_secret", &set(&self.alert_webhook_secret))
            .field("site_root", &self.site_root)
            .field("scrubber", &self.scrubber)
            .field(
                "grouping_rules",
                &self
                    .grouping_rules
                    .iter()
                    .map(|r| r.name.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("scope_by_service", &self.scope_by_service)
            .field("public_url", &self.public_url)
            .field("ingest_rate_limit", &self.ingest_rate_limit)
            .field(
                "deploy_checks",
                &self
                    .deploy_checks
                    .iter()
                    .map(|c| c.service.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("deploy_compare_minutes", &self.deploy_compare_minutes)
            .field(
                "probes",
                &self
                    .probes
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// An optional feature and whether it runs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Feature {
    pub name: &'static str,
    pub enabled: bool,
    /// Why it is off (absent when on).
    pub reason: Option<String>,
}

impl Feature {
    fn new(name: &'static str, enabled: bool, reason_when_off: &str) -> Feature {
        Feature {
            name,
            enabled,
            reason: (!enabled).then(|| reason_when_off.to_string()),
        }
    }
}

/// `owner/name` of a GitHub repository.
fn parse_repository(value: &str) -> Result<(String, String), ConfigError> {
    let ok = |s: &str| {
        !s.is_empty()
            && s != "."
            && s != ".."
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    match value.split_once('/') {
        Some((owner, name)) if ok(owner) && ok(name) => Ok((owner.to_string(), name.to_string())),
        _ => Err(invalid(
            "GITHUB_REPOSITORY",
            value,
            "expected owner/name, e.g. acme/shop",
        )),
    }
}

/// What [`redact_url`] puts in place of a secret.
pub const REDACTED: &str = "***";

/// A URL with its password (and any secret-looking query value) replaced by `***`, safe to
/// print.
pub fn redact_url(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    let mut from = 0;
    for span in secret_spans(url) {
        out.push_str(&url[from..span.start]);
        out.push_str(REDACTED);
        from = span.end;
    }
    out.push_str(&url[from..]);
    out
}

/// Whether a secret of `url` is the `***` placeholder [`redact_url`] writes: a redacted URL
/// sent back as if it were the real one.
pub fn shows_redacted_secret(url: &str) -> bool {
    secret_spans(url)
        .iter()
        .any(|span| &url[span.clone()] == REDACTED)
}

/// Where the secrets of `url` are, in order: the password of its user info, and the values of
/// its query's secret-looking keys.
fn secret_spans(url: &str) -> Vec<std::ops::Range<usize>> {
    let mut spans = Vec::new();
    let base_end = url.find('?').unwrap_or(url.len());
    if let Some(scheme_end) = url[..base_end].find("://") {
        let authority_start = scheme_end + 3;
        let authority_end = url[authority_start..base_end]
            .find('/')
            .map_or(base_end, |i| authority_start + i);
        // The password ends at the LAST '@' of the authority (it may contain '@' itself).
        let authority = &url[authority_start..authority_end];
        if let Some(at) = authority.rfind('@') {
            if let Some(colon) = authority[..at].find(':') {
                spans.push(authority_start + colon + 1..authority_start + at);
            }
        }
    }
    if base_end < url.len() {
        let mut pair_start = base_end + 1;
        for pair in url[base_end + 1..].split('&') {
            if let Some((key, _)) = pair.split_once('=') {
                if is_secret_key(key) {
                    spans.push(pair_start + key.len() + 1..pair_start + pair.len());
                }
            }
            pair_start += pair.len() + 1;
        }
    }
    spans
}

/// Query keys whose values are secrets: any key containing one of the first list, or equal
/// to one of the second (short ones, too common inside harmless words).
fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "password",
        "passwd",
        "pwd",
        "secret",
        "token",
        "key",
        "auth",
        "credential",
        "signature",
        "session",
    ]
    .iter()
    .any(|k| key.contains(k))
        || ["sig", "code", "pass"].contains(&key.as_str())
}

/// Compares secrets in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// An http(s) URL, or `default` when unset.
fn parse_http_url(
    var: &'static str,
    value: Option<String>,
    default: &str,
) -> Result<String, ConfigError> {
    match value {
        None => Ok(default.to_string()),
        Some(url) if url.starts_with("http://") || url.starts_with("https://") => Ok(url),
        Some(url) => Err(invalid(
            var,
            &redact_url(&url),
            "expected an http:// or https:// URL",
        )),
    }
}

fn invalid(var: &'static str, value: &str, expected: &str) -> ConfigError {
    ConfigError {
        var,
        message: format!("'{value}' is not valid: {expected}"),
    }
}

/// The Loki settings that only make sense together: a query that starts with a stream
/// selector (when the source is on), a user with a password, basic auth or a bearer token.
fn check_loki(config: &Config) -> Result<(), ConfigError> {
    let query = config.loki_query.trim_start();
    if config.loki_enabled && !(query.starts_with('{') && query.contains('}')) {
        return Err(invalid(
            "LOKI_QUERY",
            &config.loki_query,
            &format!("expected a LogQL log query starting with a stream selector, e.g. {DEFAULT_LOKI_QUERY}"),
        ));
    }
    match (
        config.loki_username.is_some(),
        config.loki_password.is_some(),
        config.loki_bearer_token.is_some(),
    ) {
        (true, false, _) => Err(ConfigError {
            var: "LOKI_PASSWORD",
            message: "must be set when LOKI_USERNAME is".into(),
        }),
        (false, true, _) => Err(ConfigError {
            var: "LOKI_USERNAME",
            message: "must be set when LOKI_PASSWORD is".into(),
        }),
        (true, true, true) => Err(ConfigError {
            var: "LOKI_BEARER_TOKEN",
            message: "set either LOKI_BEARER_TOKEN or LOKI_USERNAME and LOKI_PASSWORD, not both"
                .into(),
        }),
        _ => Ok(()),
    }
}

fn parse_port(value: Option<String>) -> Result<u16, ConfigError> {
    match value {
        None => Ok(3000),
        Some(v) => v
            .parse::<u16>()
            .map_err(|_| invalid("PORT", &v, "expected a port number 0-65535")),
    }
}

fn parse_database_url(value: Option<String>) -> Result<String, ConfigError> {
    match value {
        None => Ok("sqlite://signalbox.db".to_string()),
        Some(url)
            if url.starts_with("sqlite:")
                || url.starts_with("postgres://")
                || url.starts_with("postgresql://") =>
        {
            Ok(url)
        }
        Some(url) => Err(invalid(
            "DATABASE_URL",
            &redact_url(&url),
            "expected sqlite://FILE or postgres://…",
        )),
    }
}

fn parse_scrub_patterns(value: Option<String>) -> Result<Scrubber, ConfigError> {
    let Some(text) = value else {
        return Ok(Scrubber::default());
    };
    let patterns: Vec<String> = serde_json::from_str(&text).map_err(|_| ConfigError {
        var: "SCRUB_PATTERNS",
        message: "expected a JSON array of regular expressions, e.g. [\"cust_[0-9]+\"]".into(),
    })?;
    Scrubber::new(&patterns).map_err(|e| ConfigError {
        var: "SCRUB_PATTERNS",
        message: format!(
            "invalid regular expression: {}",
            e.to_string().lines().last().unwrap_or("")
        ),
    })
}

fn parse_bool(
    var: &'static str,
    value: Option<String>,
    default: bool,
) -> Result<bool, ConfigError> {
    match value.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None => Ok(default),
        Some("1" | "true" | "yes" | "on") => Ok(true),
        Some("0" | "false" | "no" | "off") => Ok(false),
        Some(other) => Err(invalid(var, other, "expected true or false")),
    }
}

fn parse_number(
    var: &'static str,
    value: Option<String>,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, ConfigError> {
    let Some(v) = value else { return Ok(default) };
    match v.parse::<u64>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => Err(invalid(
            var,
            &v,
            &format!(
                "expected a whole number from {} to {}",
                range.start(),
                range.end()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults() {
        let c = load(&[]).expect("empty environment is valid");
        assert_eq!(c.port, 3000);
        assert_eq!(c.database_url, "sqlite://signalbox.db");
        assert_eq!(c.monitor_interval, Duration::from_secs(300));
        assert!(c.monitoring_enabled);
        assert!(!c.demo);
        assert!(c.admin_allows(None));
    }

    #[test]
    fn probes_are_read_from_a_json_list() {
        let c = load(&[(
            "SIGNALBOX_PROBES",
            r#"[{"name": "api", "url": "https://api.example.com/health", "interval_seconds": 30}]"#,
        )])
        .expect("valid");
        assert_eq!(c.probes.len(), 1);
        assert_eq!(c.probes[0].interval_seconds, 30);
        assert!(load(&[]).expect("valid").probes.is_empty());
    }

    #[test]
    fn bad_values_name_the_variable() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("PORT", "abc")], "PORT"),
            (&[("PORT", "70000")], "PORT"),
            (
                &[("DATABASE_URL", "mysql://u:hunter2@x/db")],
                "DATABASE_URL",
            ),
            (&[("LOG_FORMAT", "xml")], "LOG_FORMAT"),
            (&[("SIGNALBOX_DEMO", "maybe")], "SIGNALBOX_DEMO"),
            (&[("ERROR_MONITOR_INTERVAL", "0")], "ERROR_MONITOR_INTERVAL"),
            (
                &[("ERROR_MONITOR_INTERVAL", "5m")],
                "ERROR_MONITOR_INTERVAL",
            ),
            (&[("RETENTION_DAYS", "-1")], "RETENTION_DAYS"),
            (&[("LOKI_ENABLED", "true")], "LOKI_URL"),
            (&[("LOKI_URL", "loki:3100")], "LOKI_URL"),
            (
                &[
                    ("LOKI_ENABLED", "true"),
                    ("LOKI_URL", "http://loki:3100"),
                    ("LOKI_QUERY", "rate({job=\"x\"}[5m])"),
                ],
                "LOKI_QUERY",
            ),
            (
                &[
                    ("LOKI_ENABLED", "true"),
                    ("LOKI_URL", "http://loki:3100"),
                    ("LOKI_QUERY", "{job=\"x\""),
                ],
                "LOKI_QUERY",
            ),
            (&[("LOKI_USERNAME", "123456")], "LOKI_PASSWORD"),
            (&[("LOKI_PASSWORD", "glc_secret")], "LOKI_USERNAME"),
            (
                &[
                    ("LOKI_USERNAME", "123456"),
                    ("LOKI_PASSWORD", "glc_secret"),
                    ("LOKI_BEARER_TOKEN", "tok"),
                ],
                "LOKI_BEARER_TOKEN",
            ),
            (&[("LOKI_DELAY_SECONDS", "-5")], "LOKI_DELAY_SECONDS"),
            (&[("LOKI_DELAY_SECONDS", "30s")], "LOKI_DELAY_SECONDS"),
            (&[("LOKI_DELAY_SECONDS", "3601")], "LOKI_DELAY_SECONDS"),
            (&[("LOKI_BATCH_SIZE", "0")], "LOKI_BATCH_SIZE"),
            (&[("LOKI_BATCH_SIZE", "5001")], "LOKI_BATCH_SIZE"),
            (&[("LOKI_BATCH_SIZE", "lots")], "LOKI_BATCH_SIZE"),
            (&[("LOKI_LOOKBACK_SECONDS", "1h")], "LOKI_LOOKBACK_SECONDS"),
            (
                &[("LOKI_LOOKBACK_SECONDS", "2592001")],
                "LOKI_LOOKBACK_SECONDS",
            ),
            (
                &[("SLACK_WEBHOOK_URL", "hooks.slack.com/x")],
                "SLACK_WEBHOOK_URL",
            ),
            (
                &[("ALERT_WEBHOOK_URL", "example.com/hook")],
                "ALERT_WEBHOOK_URL",
            ),
            (&[("GITHUB_REPOSITORY", "acme")], "GITHUB_REPOSITORY"),
            (&[("GITHUB_REPOSITORY", "acme/../x")], "GITHUB_REPOSITORY"),
            (&[("GITHUB_API_URL", "api.github.com")], "GITHUB_API_URL"),
            (
                &[("ANTHROPIC_BASE_URL", "localhost:4010")],
                "ANTHROPIC_BASE_URL",
            ),
            (&[("ANTHROPIC_OUTPUT_MODE", "xml")], "ANTHROPIC_OUTPUT_MODE"),
            (
                &[("RAILWAY_GIT_COMMIT_SHA", "main")],
                "RAILWAY_GIT_COMMIT_SHA",
            ),
            (&[("AUTO_FIX_MAX_PER_HOUR", "-1")], "AUTO_FIX_MAX_PER_HOUR"),
            (&[("AUTO_FIX_MAX_PER_DAY", "lots")], "AUTO_FIX_MAX_PER_DAY"),
            (
                &[("GITHUB_ISSUES_ENABLED", "true")],
                "GITHUB_ISSUES_ENABLED",
            ),
            (&[("SIGNALBOX_PROBES", "api")], "SIGNALBOX_PROBES"),
            (&[("DEPLOY_CHECKS", "[{\"service\": 1}]")], "DEPLOY_CHECKS"),
            (&[("DEPLOY_COMPARE_MINUTES", "0")], "DEPLOY_COMPARE_MINUTES"),
            (
                &[(
                    "SIGNALBOX_PROBES",
                    r#"[{"name": "api", "url": "gopher://x"}]"#,
                )],
                "SIGNALBOX_PROBES",
            ),
        ];
        for (vars, var) in cases {
            let err = load(vars).expect_err("invalid");
            assert_eq!(err.var, *var, "{vars:?}");
            assert!(err.to_string().starts_with(var), "{err}");
            assert!(!err.to_string().contains('\n'), "one line: {err}");
        }
    }

    #[test]
    fn secrets_never_print() {
        let c = load(&[
            ("SIGNALBOX_ADMIN_TOKEN", "tok-123456"),
            ("DATABASE_URL", "postgres://app:hunter2@db/signalbox"),
            ("GITHUB_TOKEN", "ghp_abcdef"),
            ("LOKI_USERNAME", "123456"),
            ("LOKI_PASSWORD", "glc_loki_pw"),
            (
                "SLACK_WEBHOOK_URL",
                "https://hooks.slack.com/services/T0/B0/slacksecret",
            ),
            (
                "ALERT_WEBHOOK_URL",
                "https://example.com/hook?token=hooktoken",
            ),
            ("ALERT_WEBHOOK_SECRET", "whsec_signing"),
        ])
        .expect("valid");
        let printed = format!("{c:?}");
        let bearer = load(&[("LOKI_BEARER_TOKEN", "loki-bearer-tok")]).expect("valid");
        let printed = format!("{printed}{bearer:?}");
        for secret in [
            "tok-123456",
            "hunter2",
            "ghp_abcdef",
            "glc_loki_pw",
            "loki-bearer-tok",
            "slacksecret",
            "hooktoken",
            "whsec_signing",
        ] {
            assert!(!printed.contains(secret), "{printed}");
        }
        let err = load(&[("DATABASE_URL", "mysql://app:hunter2@db/x")]).expect_err("invalid");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn notification_channels() {
        let c = load(&[]).expect("valid");
        let channels = c.notify_channels();
        assert!(!channels.slack && !channels.webhook && !channels.auto_fix);
        assert!(!c.notifier().any_channel());
        let c = load(&[
            (
                "SLACK_WEBHOOK_URL",
                "https://hooks.slack.com/services/T0/B0/X",
            ),
            ("ALERT_WEBHOOK_URL", "https://example.com/hook"),
            ("AUTO_FIX_ENABLED", "true"),
            ("SIGNALBOX_PUBLIC_URL", "https://sb.example.com/"),
        ])
        .expect("valid");
        let channels = c.notify_channels();
        assert!(channels.slack && channels.webhook && channels.auto_fix);
        assert_eq!(channels.public_url, "https://sb.example.com");
        let settings = c.notifier();
        assert!(settings.any_channel());
        assert!(
            settings.webhook_secret.is_none(),
            "a webhook without a secret is allowed"
        );
    }

    #[test]
    fn loki_settings() {
        let c = load(&[]).expect("valid");
        assert_eq!(c.loki_query, DEFAULT_LOKI_QUERY);
        assert_eq!(c.loki_delay, Duration::from_secs(30));
        assert_eq!(c.loki_batch_size, 1000);
        assert_eq!(c.loki_lookback, Duration::from_secs(3600));
        let c = load(&[
            ("LOKI_ENABLED", "true"),
            ("LOKI_URL", "https://logs-prod-eu-west-0.grafana.net"),
            ("LOKI_QUERY", r#" {service_name="api"} |= "panic""#),
            ("LOKI_TENANT_ID", "team-a"),
            ("LOKI_DELAY_SECONDS", "0"),
            ("LOKI_BATCH_SIZE", "5000"),
            ("LOKI_LOOKBACK_SECONDS", "86400"),
        ])
        .expect("valid");
        assert_eq!(c.loki_query, r#"{service_name="api"} |= "panic""#);
        assert_eq!(c.loki_tenant_id.as_deref(), Some("team-a"));
        assert_eq!(c.loki_delay, Duration::ZERO);
        assert_eq!(c.loki_batch_size, 5000);
        assert_eq!(c.loki_lookback, Duration::from_secs(86_400));
        // The query is only checked when the source is on.
        assert!(load(&[("LOKI_QUERY", "not logql")]).is_ok());
    }

    #[test]
    fn urls_are_redacted() {
        for (url, printed) in [
            ("postgres://u:p@ss@db/x", "postgres://u:***@db/x"),
            (
                "postgres://db/x?password=s3cret&sslmode=require",
                "postgres://db/x?password=***&sslmode=require",
            ),
            ("postgres://u@db/x", "postgres://u@db/x"),
            ("sqlite://signalbox.db", "sqlite://signalbox.db"),
            ("http://loki:3100", "http://loki:3100"),
            ("https://x/health?token=abc", "https://x/health?token=***"),
            ("https://user:pass@x/", "https://user:***@x/"),
            (
                "https://x/?a=1&api_key=k&X-Amz-Signature=s&sig=z&design=d&code=c",
                "https://x/?a=1&api_key=***&X-Amz-Signature=***&sig=***&design=d&code=***",
            ),
            (
                "https://x/?Authorization=Bearer%20t&access_token=&flag",
                "https://x/?Authorization=***&access_token=***&flag",
            ),
            // An '@' or ':' in the path or query is not user info.
            ("https://x/a@b?c=d:e@f", "https://x/a@b?c=d:e@f"),
            ("no scheme?password=p", "no scheme?password=***"),
        ] {
            assert_eq!(redact_url(url), printed, "{url}");
            // What is printed is safe to print again, and shows its placeholders.
            assert_eq!(redact_url(printed), printed, "{url}");
            assert_eq!(shows_redacted_secret(printed), printed != url, "{url}");
            assert!(!shows_redacted_secret(url), "{url}");
        }
    }

    #[test]
    fn admin_token() {
        let c = load(&[("SIGNALBOX_ADMIN_TOKEN", "s3cret")]).expect("valid");
        assert!(c.admin_allows(Some("s3cret")));
        assert!(!c.admin_allows(Some("s3cre")));
        assert!(!c.admin_allows(None));
    }

    #[test]
    fn the_fix_generator_is_off_without_a_key_and_a_dry_run_without_a_token() {
        let feature = |c: &Config, name: &str| {
            c.features()
                .into_iter()
                .find(|f| f.name == name)
                .expect("listed")
        };
        let c = load(&[]).expect("valid");
        let f = feature(&c, "fix_generator");
        assert!(!f.enabled);
        assert_eq!(f.reason.as_deref(), Some("ANTHROPIC_API_KEY is not set"));
        let c = load(&[("ANTHROPIC_API_KEY", "k")]).expect("valid");
        assert!(feature(&c, "fix_generator")
            .reason
            .is_some_and(|r| r.contains("GITHUB_REPOSITORY")));
        let c = load(&[
            ("ANTHROPIC_API_KEY", "k"),
            ("GITHUB_REPOSITORY", "acme/shop"),
        ])
        .expect("valid");
        assert!(feature(&c, "fix_generator").enabled);
        assert!(feature(&c, "fix_pull_requests")
            .reason
            .is_some_and(|r| r.contains("GITHUB_TOKEN is not set")));
        let c = load(&[
            ("ANTHROPIC_API_KEY", "k"),
            ("GITHUB_REPOSITORY", "acme/shop"),
            ("GITHUB_TOKEN", "t"),
            ("AUTO_FIX_ENABLED", "true"),
        ])
        .expect("valid");
        assert!(feature(&c, "fix_pull_requests").enabled);
        assert_eq!(c.github_repository, Some(("acme".into(), "shop".into())));
        assert_eq!(c.anthropic_model, crate::fixer::DEFAULT_MODEL);
    }

    #[test]
    fn features_say_why_they_are_off() {
        let c = load(&[]).expect("valid");
        let railway = c
            .features()
            .into_iter()
            .find(|f| f.name == "railway_source")
            .expect("listed");
        assert!(!railway.enabled);
        assert_eq!(
            railway.reason.as_deref(),
            Some("RAILWAY_API_TOKEN (or RAILWAY_TOKEN) not set")
        );
        let c = load(&[("RAILWAY_API_TOKEN", "t")]).expect("valid");
        assert!(c
            .features()
            .iter()
            .any(|f| f.name == "railway_source" && f.enabled));
    }

    #[test]
    fn railway_settings() {
        let c = load(&[
            ("RAILWAY_API_TOKEN", "t"),
            ("RAILWAY_SERVICES", "api, worker,"),
        ])
        .expect("valid");
        let r = c.railway().expect("configured");
        assert_eq!(r.api_url, "https://backboard.railway.com/graphql/v2");
        assert_eq!(r.ws_url, "wss://backboard.railway.com/graphql/v2");
        assert_eq!(r.services, ["api", "worker"]);
        assert_eq!(r.token_kind, None, "an API token may be either kind");
        assert_eq!(r.page_size, 500);
        assert!(r.stream);
        let p = load(&[
            ("RAILWAY_TOKEN", "p"),
            ("RAILWAY_API_URL", "http://127.0.0.1:9/graphql/v2"),
        ])
        .expect("valid");
        let r = p.railway().expect("configured");
        assert_eq!(r.ws_url, "ws://127.0.0.1:9/graphql/v2");
        assert_eq!(
            r.token_kind,
            Some(crate::sources::railway::client::TokenKind::Project)
        );
        assert!(load(&[]).expect("valid").railway().is_none());
        for (var, value) in [
            ("RAILWAY_API_URL", "backboard.railway.com"),
            ("RAILWAY_WS_URL", "http://x"),
            ("RAILWAY_PAGE_SIZE", "0"),
            ("RAILWAY_STREAM", "maybe"),
            ("RAILWAY_LOOKBACK_SECONDS", "-1"),
        ] {
            let e = load(&[(var, value)]).expect_err(var);
            assert_eq!(e.var, var);
        }
    }
}
