//! Log lines from Grafana Loki, read with `query_range` (see `shared/specs/loki.md`).
//!
//! Each poll reads one page forward with logcli's algorithm: `direction=forward`, `start` at
//! the cursor's timestamp (inclusive, so entries sharing it come back and those already read
//! are dropped by id), a fixed `end` of now minus a delay (late lines are not missed), `limit`
//! of the batch size. A full page means more is waiting. When more entries share one timestamp
//! than a page holds, that query asks for twice as many, up to Loki's
//! `max_entries_limit_per_query` (logcli gives up instead). Stack traces Loki holds as one entry
//! per line become one event; a trace cut by the page end is left for the next poll to read whole.

mod cursor;
mod page;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use self::cursor::Cursor;
use self::page::{merge, read_page, Page, Stream};
use super::{Batch, PollFuture, PollSource, SourceError};
use crate::config::{redact_url, Config};
use crate::pipeline::multiline::AssemblerConfig;

/// Loki's default `max_entries_limit_per_query`: the largest page asked for.
pub const MAX_BATCH_SIZE: usize = 5000;
/// Longest time range one query covers (Loki rejects ranges over `max_query_length`, 721 h by
/// default); a longer backlog is read a day at a time.
const MAX_QUERY_SPAN: Duration = Duration::from_secs(24 * 3600);
/// Most characters of an error body kept in an error message.
const MAX_ERROR_CHARS: usize = 300;

/// How Signalbox authenticates to Loki (or the proxy in front of it).
#[derive(Debug, Clone, Default)]
pub enum LokiAuth {
    #[default]
    None,
    /// HTTP Basic, as Grafana Cloud wants it (user = instance id, password = access token).
    Basic {
        username: String,
        password: SecretString,
    },
    /// `Authorization: Bearer TOKEN`, for an authenticating proxy.
    Bearer(SecretString),
}

/// Everything the Loki source needs.
#[derive(Debug, Clone)]
pub struct LokiSettings {
    /// Base URL, e.g. `http://loki:3100`.
    pub url: String,
    /// LogQL log query.
    pub query: String,
    pub auth: LokiAuth,
    /// Sent as `X-Scope-OrgID` to a multi-tenant Loki.
    pub tenant_id: Option<String>,
    /// How far behind now the read stops, so lines ingested late are not skipped.
    pub delay: Duration,
    /// Entries per query (clamped to 1..=[`MAX_BATCH_SIZE`]).
    pub batch_size: usize,
    /// How far back the first poll starts.
    pub lookback: Duration,
    /// Time between two polls.
    pub interval: Duration,
    /// Longest one request may take.
    pub timeout: Duration,
    /// How lines are joined into stack traces.
    pub assembly: AssemblerConfig,
}

impl LokiSettings {
    /// Defaults for a Loki at `url`: every stream with a job, no auth, 30 s delay, pages of
    /// 1000, one hour of history, a poll every 5 minutes, 30 s timeout.
    pub fn new(url: impl Into<String>) -> LokiSettings {
        LokiSettings {
            url: url.into(),
            query: crate::config::DEFAULT_LOKI_QUERY.to_string(),
            auth: LokiAuth::None,
            tenant_id: None,
            delay: Duration::from_secs(30),
            batch_size: 1000,
            lookback: Duration::from_secs(3600),
            interval: Duration::from_secs(300),
            timeout: Duration::from_secs(30),
            assembly: AssemblerConfig::default(),
        }
    }

    /// The settings `config` describes, or None when the Loki source is off.
    pub fn from_config(config: &Config) -> Option<LokiSettings> {
        if !config.loki_enabled {
            return None;
        }
        let auth = match (
            &config.loki_username,
            &config.loki_password,
            &config.loki_bearer_token,
        ) {
            (Some(username), Some(password), _) => LokiAuth::Basic {
                username: username.clone(),
                password: password.clone(),
            },
            (_, _, Some(token)) => LokiAuth::Bearer(token.clone()),
            _ => LokiAuth::None,
        };
        Some(LokiSettings {
            query: config.loki_query.clone(),
            auth,
            tenant_id: config.loki_tenant_id.clone(),
            delay: config.loki_delay,
            batch_size: config.loki_batch_size,
            lookback: config.loki_lookback,
            interval: config.monitor_interval,
            ..LokiSettings::new(config.loki_url.clone()?)
        })
    }
}

/// The Loki poll source.
pub struct LokiSource {
    settings: LokiSettings,
    client: reqwest::Client,
    /// The page size in force: the batch size, or less when Loki said its maximum is lower.
    limit: AtomicUsize,
    /// The largest page Loki allows, as far as the source knows.
    max_limit: AtomicUsize,
}

/// What one query_range request returned.
enum Answer {
    Entries(Vec<page::Entry>),
    /// 400 `max entries limit per query exceeded … (asked > max)`.
    LimitTooLarge {
        max: usize,
        message: String,
    },
}

/// The answer's JSON, as far as the source reads it.
#[derive(Deserialize)]
struct QueryResponse {
    data: QueryData,
}

#[derive(Deserialize)]
struct QueryData {
    #[serde(rename = "resultType")]
    result_type: String,
    result: serde_json::Value,
}

impl LokiSource {
    /// A source reading Loki as `settings` say.
    pub fn new(settings: LokiSettings) -> Result<LokiSource, SourceError> {
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("signalbox/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SourceError::Upstream(format!("cannot build the HTTP client: {e}")))?;
        let limit = settings.batch_size.clamp(1, MAX_BATCH_SIZE);
        Ok(LokiSource {
            settings,
            client,
            limit: AtomicUsize::new(limit),
            max_limit: AtomicUsize::new(MAX_BATCH_SIZE),
        })
    }

    /// Reads the page after `cursor`.
    async fn read(&self, cursor: Option<&str>, now: DateTime<Utc>) -> Result<Batch, SourceError> {
        let now = nanos(now);
        let from = match cursor {
            Some(text) => Cursor::decode(text)?,
            None => Cursor::at(now.saturating_sub(duration_nanos(self.settings.lookback))),
        };
        let end = now.saturating_sub(duration_nanos(self.settings.delay));
        if end <= from.ts {
            return Ok(Batch {
                events: Vec::new(),
                cursor: from.encode(),
                more: false,
            });
        }
        let query_end = end.min(from.ts.saturating_add(duration_nanos(MAX_QUERY_SPAN)));
        let (read, full) = self.read_range(&from, query_end).await?;
        Ok(Batch {
            events: read.events,
            cursor: read.cursor.encode(),
            more: full || query_end < end,
        })
    }

    /// Reads one page from `from` to `end` (exclusive) and whether it was full. When more
    /// entries share one timestamp than a page holds, the page is doubled for this query, up
    /// to what Loki allows.
    async fn read_range(&self, from: &Cursor, end: i64) -> Result<(page::Read, bool), SourceError> {
        let mut limit = self.limit.load(Ordering::Relaxed);
        loop {
            let (entries, asked) = self.fetch(from.ts, end, limit).await?;
            let page = Page {
                full: entries.len() >= asked,
                entries,
                end,
            };
            match read_page(&page, from, self.settings.assembly) {
                Ok(read) => return Ok((read, page.full)),
                Err(_) if asked < self.max_limit.load(Ordering::Relaxed) => {
                    limit = asked.saturating_mul(2);
                }
                Err(stuck) => {
                    return Err(SourceError::Upstream(format!(
                        "more than {asked} Loki entries share the timestamp {} ns, more than one \
                         query may return; raise Loki's max_entries_limit_per_query",
                        stuck.ts
                    )))
                }
            }
        }
    }

    /// One page of at most `limit` entries (no more than Loki allows) from `start`
    /// (inclusive) to `end` (exclusive), and the limit it was asked with. When Loki answers
    /// that its maximum is lower, the page size drops to it for good.
    async fn fetch(
        &self,
        start: i64,
        end: i64,
        limit: usize,
    ) -> Result<(Vec<page::Entry>, usize), SourceError> {
        let limit = limit.min(self.max_limit.load(Ordering::Relaxed));
        match self.query(start, end, limit).await? {
            Answer::Entries(entries) => Ok((entries, limit)),
            Answer::LimitTooLarge { max, .. } if (1..limit).contains(&max) => {
                tracing::warn!(
                    from = limit,
                    to = max,
                    "Loki allows fewer entries per query than asked for; asking for its maximum"
                );
                self.max_limit.store(max, Ordering::Relaxed);
                self.limit.fetch_min(max, Ordering::Relaxed);
                match self.query(start, end, max).await? {
                    Answer::Entries(entries) => Ok((entries, max)),
                    Answer::LimitTooLarge { message, .. } => Err(self.rejected(400, &message)),
                }
            }
            Answer::LimitTooLarge { message, .. } => Err(self.rejected(400, &message)),
        }
    }

    /// One query_range request.
    async fn query(&self, start: i64, end: i64, limit: usize) -> Result<Answer, SourceError> {
        let url = format!(
            "{}/loki/api/v1/query_range",
            self.settings.url.trim_end_matches('/')
        );
        let params = [
            ("query", self.settings.query.clone()),
            ("start", start.to_string()),
            ("end", end.to_string()),
            ("limit", limit.to_string()),
            ("direction", "forward".to_string()),
        ];
        let mut request = self.client.get(url).query(&params);
        request = match &self.settings.auth {
            LokiAuth::None => request,
            LokiAuth::Basic { username, password } => {
                request.basic_auth(username, Some(password.expose_secret()))
            }
            LokiAuth::Bearer(token) => request.bearer_auth(token.expose_secret()),
        };
        if let Some(tenant) = &self.settings.tenant_id {
            request = request.header("X-Scope-OrgID", tenant);
        }
        let response = request.send().await.map_err(|e| self.transport(e))?;
        let status = response.status();
        let body = response.text().await.map_err(|e| self.transport(e))?;
        if status.is_success() {
            return parse_answer(&body).map(Answer::Entries).map_err(|e| {
                SourceError::Upstream(self.redact(&format!("Loki answered with {e}")))
            });
        }
        if status == reqwest::StatusCode::BAD_REQUEST {
            if let Some(max) = max_entries_limit(&body) {
                return Ok(Answer::LimitTooLarge { max, message: body });
            }
        }
        Err(self.rejected(status.as_u16(), &body))
    }

    /// An error answer: the status and the first line of the body.
    fn rejected(&self, status: u16, body: &str) -> SourceError {
        let reason = reqwest::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("");
        let first_line: String = body
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("")
            .chars()
            .take(MAX_ERROR_CHARS)
            .collect();
        SourceError::Upstream(
            self.redact(&format!("Loki answered {status} {reason}: {first_line}")),
        )
    }

    /// A request that got no answer; the URL (which may hold credentials) is left out.
    fn transport(&self, error: reqwest::Error) -> SourceError {
        let message = if error.is_timeout() {
            format!(
                "Loki at {} did not answer within {:?}",
                redact_url(&self.settings.url),
                self.settings.timeout
            )
        } else {
            let text = error_chain(&error.without_url());
            format!(
                "Loki at {} is unreachable: {text}",
                redact_url(&self.settings.url)
            )
        };
        SourceError::Upstream(self.redact(&message))
    }

    /// `text` with every configured secret replaced by `***`.
    fn redact(&self, text: &str) -> String {
        let secrets: Vec<&str> = match &self.settings.auth {
            LokiAuth::None => Vec::new(),
            LokiAuth::Basic { password, .. } => vec![password.expose_secret()],
            LokiAuth::Bearer(token) => vec![token.expose_secret()],
        };
        secrets
            .into_iter()
            .filter(|s| !s.is_empty())
            .fold(text.to_string(), |text, secret| text.replace(secret, "***"))
    }
}

impl PollSource for LokiSource {
    fn name(&self) -> &str {
        "loki"
    }

    fn interval(&self) -> Duration {
        self.settings.interval
    }

    fn poll<'a>(&'a self, cursor: Option<&'a str>, now: DateTime<Utc>) -> PollFuture<'a> {
        Box::pin(self.read(cursor, now))
    }
}

/// The entries of a successful answer's body.
fn parse_answer(body: &str) -> Result<Vec<page::Entry>, String> {
    let response: QueryResponse =
        serde_json::from_str(body).map_err(|e| format!("an unreadable body: {e}"))?;
    if response.data.result_type != "streams" {
        return Err(format!(
            "a {} result: LOKI_QUERY must be a log query, not a metric query",
            response.data.result_type
        ));
    }
    let streams: Vec<Stream> = serde_json::from_value(response.data.result)
        .map_err(|e| format!("unreadable streams: {e}"))?;
    merge(streams).map_err(|e| format!("a malformed entry: {e}"))
}

/// The maximum in Loki's `max entries limit per query exceeded, limit >
/// max_entries_limit_per_query (5001 > 5000)` (older: `… max_entries_limit (…)`).
fn max_entries_limit(body: &str) -> Option<usize> {
    if !body.contains("max entries limit") {
        return None;
    }
    let inside = body.rsplit_once('(')?.1.split_once(')')?.0;
    let (_, max) = inside.split_once('>')?;
    max.trim().parse().ok()
}

/// An error and its causes, `error: cause: cause`.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text = format!("{text}: {cause_text}");
        }
        source = cause.source();
    }
    text
}

/// Unix nanoseconds of `t` (saturating far in the future).
fn nanos(t: DateTime<Utc>) -> i64 {
    t.timestamp_nanos_opt().unwrap_or(i64::MAX)
}

fn duration_nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_entries_limit_from_the_error() {
        for (body, max) in [
            ("max entries limit per query exceeded, limit > max_entries_limit_per_query (5001 > 5000)\n", Some(5000)),
            ("max entries limit per query exceeded, limit > max_entries_limit (2000 > 1000)", Some(1000)),
            ("the query time range exceeds the limit (query length: 800h, limit: 721h)", None),
            ("max entries limit per query exceeded", None),
            ("parse error at line 1, col 1: syntax error: unexpected (", None),
        ] {
            assert_eq!(max_entries_limit(body), max, "{body}");
        }
    }

    #[test]
    fn answers() {
        let streams = r#"{"status":"success","data":{"resultType":"streams","result":[
            {"stream":{"job":"a"},"values":[["2","two"]]},
            {"stream":{"job":"b"},"values":[["1","one"]]}],"stats":{}}}"#;
        let lines: Vec<String> = parse_answer(streams)
            .expect("streams")
            .into_iter()
            .map(|e| e.line)
            .collect();
        assert_eq!(lines, ["one", "two"]);
        for (body, error) in [
            (
                r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#,
                "a matrix result: LOKI_QUERY must be a log query, not a metric query",
            ),
            (
                "<html>",
                "an unreadable body: expected value at line 1 column 1",
            ),
        ] {
            assert_eq!(parse_answer(body).expect_err(error), error);
        }
    }

    #[test]
    fn settings_from_config() {
        let lookup = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        let off = Config::from_lookup(lookup(&[])).expect("valid");
        assert!(LokiSettings::from_config(&off).is_none());
        let basic = Config::from_lookup(lookup(&[
            ("LOKI_ENABLED", "true"),
            ("LOKI_URL", "http://loki:3100"),
            ("LOKI_USERNAME", "1234"),
            ("LOKI_PASSWORD", "pw"),
            ("LOKI_TENANT_ID", "team-a"),
        ]))
        .expect("valid");
        let settings = LokiSettings::from_config(&basic).expect("on");
        assert!(matches!(&settings.auth, LokiAuth::Basic { username, .. } if username == "1234"));
        assert_eq!(settings.tenant_id.as_deref(), Some("team-a"));
        assert_eq!(settings.query, crate::config::DEFAULT_LOKI_QUERY);
        let bearer = Config::from_lookup(lookup(&[
            ("LOKI_ENABLED", "true"),
            ("LOKI_URL", "http://loki:3100"),
            ("LOKI_BEARER_TOKEN", "tok"),
        ]))
        .expect("valid");
        let settings = LokiSettings::from_config(&bearer).expect("on");
        assert!(matches!(settings.auth, LokiAuth::Bearer(_)));
    }
}
